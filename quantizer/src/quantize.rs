//! [`FloatGraph`] -> [`QuantizedModel`] at a chosen scale.
//!
//! Each float op maps to the quantized op of the same name. Scales follow
//! the [`Op`] docs: activations, weights and element-wise constants at `s`,
//! Linear biases at `2s` (they are added to products of two scale-`s`
//! values, before the rescale back to `s`). Rounding is
//! [`fixed::quantize`], to nearest.

use crate::error::QuantizeError;
use crate::fixed;
use crate::float_graph::{FloatGraph, FloatNode, FloatOp};
use crate::model::{Node, Op, QuantizedModel, TensorInfo};

/// Quantized constants must stay far below i64's range so that the integer
/// inference's i128 accumulators and the circuits' field arithmetic never
/// come close to overflowing; 2^48 is already an absurd weight at any scale.
const MAX_CONSTANT: f64 = (1u64 << 48) as f64;

/// Builds the quantized model. `max_abs` (indexed by tensor id) is stored as
/// each tensor's `calibrated_max_abs`; `scale_bits` and `activation_bits`
/// should come from [`crate::calibrate`].
pub fn quantize_graph(
    graph: &FloatGraph,
    max_abs: &[f64],
    scale_bits: u32,
    activation_bits: u32,
    name: &str,
) -> Result<QuantizedModel, QuantizeError> {
    if max_abs.len() != graph.tensors.len() {
        return Err(QuantizeError::Calibration(format!(
            "{} calibrated ranges for {} tensors",
            max_abs.len(),
            graph.tensors.len()
        )));
    }
    let tensors = graph
        .tensors
        .iter()
        .zip(max_abs)
        .map(|(t, &m)| TensorInfo {
            name: t.name.clone(),
            shape: t.shape.clone(),
            calibrated_max_abs: m,
        })
        .collect();
    let nodes = graph
        .nodes
        .iter()
        .map(|n| quantize_node(n, scale_bits))
        .collect::<Result<Vec<_>, _>>()?;
    let model = QuantizedModel {
        name: name.to_string(),
        scale_bits,
        activation_bits,
        tensors,
        inputs: graph.inputs.clone(),
        outputs: graph.outputs.clone(),
        nodes,
    };
    model.validate()?;
    Ok(model)
}

fn quantize_node(node: &FloatNode, s: u32) -> Result<Node, QuantizeError> {
    let q = |values: &[f64], bits: u32, what: &str| quantize_constants(node, values, bits, what);
    let op = match &node.op {
        FloatOp::Linear {
            in_features,
            out_features,
            weight,
            bias,
        } => Op::Linear {
            in_features: *in_features,
            out_features: *out_features,
            weight: q(weight, s, "weight")?,
            bias: bias.as_ref().map(|b| q(b, 2 * s, "bias")).transpose()?,
        },
        FloatOp::Add => Op::Add,
        FloatOp::Sub => Op::Sub,
        FloatOp::Mul => Op::Mul,
        FloatOp::AddConst { constant } => Op::AddConst {
            constant: q(constant, s, "constant")?,
        },
        FloatOp::ConstSub { constant } => Op::ConstSub {
            constant: q(constant, s, "constant")?,
        },
        FloatOp::MulConst { constant } => Op::MulConst {
            constant: q(constant, s, "constant")?,
        },
        FloatOp::Relu => Op::Relu,
        FloatOp::Reshape => Op::Reshape,
    };
    Ok(Node {
        name: node.name.clone(),
        onnx_op: node.onnx_op.clone(),
        op,
        inputs: node.inputs.clone(),
        output: node.output,
    })
}

fn quantize_constants(
    node: &FloatNode,
    values: &[f64],
    bits: u32,
    what: &str,
) -> Result<Vec<i64>, QuantizeError> {
    let scale = 2f64.powi(bits as i32);
    if let Some(v) = values
        .iter()
        .find(|v| !v.is_finite() || v.abs() * scale >= MAX_CONSTANT)
    {
        return Err(QuantizeError::Calibration(format!(
            "node '{}' ({}): {what} {v} is too large to quantize at scale 2^{bits}",
            node.name, node.onnx_op
        )));
    }
    Ok(values.iter().map(|&v| fixed::quantize(v, bits)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float_graph::FloatTensor;

    fn graph(op: FloatOp, out_shape: &[usize]) -> FloatGraph {
        FloatGraph {
            name: "g".into(),
            tensors: vec![
                FloatTensor {
                    name: "x".into(),
                    shape: vec![1, 2],
                },
                FloatTensor {
                    name: "y".into(),
                    shape: out_shape.to_vec(),
                },
            ],
            inputs: vec![0],
            outputs: vec![1],
            nodes: vec![FloatNode {
                name: "n".into(),
                onnx_op: "Gemm".into(),
                op,
                inputs: vec![0],
                output: 1,
            }],
            notes: vec![],
        }
    }

    #[test]
    fn weights_at_s_and_biases_at_2s() {
        let op = FloatOp::Linear {
            in_features: 2,
            out_features: 1,
            weight: vec![0.5, -0.25],
            bias: Some(vec![0.125]),
        };
        let m = quantize_graph(&graph(op, &[1, 1]), &[1.0, 0.5], 8, 16, "t").unwrap();
        assert_eq!(
            m.nodes[0].op,
            Op::Linear {
                in_features: 2,
                out_features: 1,
                weight: vec![128, -64],
                bias: Some(vec![8192])
            }
        );
        assert_eq!(m.tensors[1].calibrated_max_abs, 0.5);
        assert_eq!(
            (m.scale_bits, m.activation_bits, m.name.as_str()),
            (8, 16, "t")
        );
    }

    #[test]
    fn element_wise_constants_at_s() {
        let op = FloatOp::MulConst {
            constant: vec![1.5, -0.004],
        };
        let m = quantize_graph(&graph(op, &[1, 2]), &[1.0, 1.0], 8, 16, "t").unwrap();
        // -0.004 * 256 = -1.024 rounds to -1.
        assert_eq!(
            m.nodes[0].op,
            Op::MulConst {
                constant: vec![384, -1]
            }
        );
    }

    #[test]
    fn absurd_weights_are_an_error_not_a_wrap() {
        let op = FloatOp::AddConst {
            constant: vec![1e30, 0.0],
        };
        let err = quantize_graph(&graph(op, &[1, 2]), &[1.0, 1.0], 8, 16, "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("node 'n' (Gemm): constant 1000000000000000000000000000000"),
            "{err}"
        );
    }
}
