//! [`FloatGraph`] -> [`QuantizedModel`] at a chosen scale.
//!
//! Each float op maps to the quantized op of the same name. Scales follow
//! the [`Op`] docs: activations, weights, element-wise constants, layer-norm
//! gains and offsets and embedding tables at `s`; Linear biases at `2s`
//! (they are added to products of two scale-`s` values, before the rescale
//! back to `s`), and so is a layer norm's `eps` (it is added to a variance,
//! a square), at least 1 so that the square root is of a positive number.
//! Rounding is [`fixed::quantize`], to nearest. `Pointwise` and `Softmax`
//! get their lookup tables from the calibrated input ranges
//! ([`crate::tables`]).

use crate::error::QuantizeError;
use crate::fixed;
use crate::float_graph::{FloatGraph, FloatNode, FloatOp, Observations};
use crate::model::{Node, Op, QuantizedModel, TensorInfo};
use crate::tables::{pointwise_table, softmax_exp_table, TableOptions};

/// Quantized constants must stay far below i64's range so that the integer
/// inference's i128 accumulators and the circuits' field arithmetic never
/// come close to overflowing; 2^48 is already an absurd weight at any scale.
const MAX_CONSTANT: f64 = (1u64 << 48) as f64;

/// Builds the quantized model. `obs.max_abs` (indexed by tensor id) is
/// stored as each tensor's `calibrated_max_abs`, `obs.table_inputs` sizes
/// the lookup tables; `scale_bits` and `activation_bits` should come from
/// [`crate::calibrate`].
pub fn quantize_graph(
    graph: &FloatGraph,
    obs: &Observations,
    scale_bits: u32,
    activation_bits: u32,
    tables: &TableOptions,
    name: &str,
) -> Result<QuantizedModel, QuantizeError> {
    let max_abs = &obs.max_abs;
    if max_abs.len() != graph.tensors.len() || obs.table_inputs.len() != graph.nodes.len() {
        return Err(QuantizeError::Calibration(format!(
            "{} calibrated ranges for {} tensors, {} table ranges for {} nodes",
            max_abs.len(),
            graph.tensors.len(),
            obs.table_inputs.len(),
            graph.nodes.len()
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
        .zip(&obs.table_inputs)
        .map(|(n, &seen)| quantize_node(n, scale_bits, seen, tables))
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

fn quantize_node(
    node: &FloatNode,
    s: u32,
    table_input: Option<(f64, f64)>,
    tables: &TableOptions,
) -> Result<Node, QuantizeError> {
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
        FloatOp::MatMul { m, k, n } => Op::MatMul {
            m: *m,
            k: *k,
            n: *n,
        },
        FloatOp::Pointwise { func } => Op::Pointwise {
            table: pointwise_table(*func, table_input, s, tables).map_err(|e| match e {
                QuantizeError::Calibration(m) => QuantizeError::Calibration(format!(
                    "node '{}' ({}): {m}",
                    node.name, node.onnx_op
                )),
                other => other,
            })?,
        },
        FloatOp::Softmax { causal } => Op::Softmax {
            causal: *causal,
            exp: softmax_exp_table(table_input, s, tables),
        },
        FloatOp::LayerNorm { gamma, beta, eps } => Op::LayerNorm {
            gamma: q(gamma, s, "gamma")?,
            beta: q(beta, s, "beta")?,
            eps: q(&[*eps], 2 * s, "eps")?[0].max(1),
        },
        FloatOp::Gather { vocab, dim, table } => Op::Gather {
            vocab: *vocab,
            dim: *dim,
            table: q(table, s, "embedding table")?,
        },
        FloatOp::Transpose { perm } => Op::Transpose { perm: perm.clone() },
        FloatOp::Slice { axis, start, end } => Op::Slice {
            axis: *axis,
            start: *start,
            end: *end,
        },
        FloatOp::Concat { axis } => Op::Concat { axis: *axis },
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

    const TABLES: TableOptions = TableOptions {
        margin: 2.0,
        table_bits: 12,
    };

    /// `max_abs` per tensor; every table input observed in [-1, 1].
    fn quantize(g: &FloatGraph, max_abs: &[f64], s: u32) -> Result<QuantizedModel, QuantizeError> {
        let obs = Observations {
            max_abs: max_abs.to_vec(),
            table_inputs: vec![Some((-1.0, 1.0)); g.nodes.len()],
            samples: 1,
        };
        quantize_graph(g, &obs, s, 16, &TABLES, "t")
    }

    #[test]
    fn layernorm_gains_at_s_and_eps_at_2s_but_at_least_one() {
        let op = |eps| FloatOp::LayerNorm {
            gamma: vec![1.0, 0.5],
            beta: vec![0.25, 0.0],
            eps,
        };
        let m = quantize(&graph(op(1e-3), &[1, 2]), &[1.0, 1.0], 8).unwrap();
        // 1e-3 * 2^16 = 65.5 -> 66.
        assert_eq!(
            m.nodes[0].op,
            Op::LayerNorm {
                gamma: vec![256, 128],
                beta: vec![64, 0],
                eps: 66
            }
        );
        let m = quantize(&graph(op(1e-12), &[1, 2]), &[1.0, 1.0], 8).unwrap();
        assert!(matches!(m.nodes[0].op, Op::LayerNorm { eps: 1, .. }));
    }

    #[test]
    fn tables_come_from_the_observed_ranges() {
        use crate::nonlinear::{Nonlinearity, Saturation};
        let op = FloatOp::Pointwise {
            func: Nonlinearity::Tanh,
        };
        let m = quantize(&graph(op, &[1, 2]), &[1.0, 1.0], 8).unwrap();
        let Op::Pointwise { table } = &m.nodes[0].op else {
            panic!("{:?}", m.nodes[0].op)
        };
        // [-1, 1] widened to [-2, 2] at 2^8: indices -512..=512 fit 4096 rows unshifted.
        assert_eq!((table.in_shift, table.lo, table.hi), (0, -512, 512));
        assert_eq!(table.above, Saturation::Const(256));
        let m = quantize(
            &graph(FloatOp::Softmax { causal: false }, &[1, 2]),
            &[1.0, 1.0],
            8,
        )
        .unwrap();
        let Op::Softmax { causal: false, exp } = &m.nodes[0].op else {
            panic!("{:?}", m.nodes[0].op)
        };
        assert_eq!((exp.lo, exp.hi), (-512, -1));
    }

    #[test]
    fn weights_at_s_and_biases_at_2s() {
        let op = FloatOp::Linear {
            in_features: 2,
            out_features: 1,
            weight: vec![0.5, -0.25],
            bias: Some(vec![0.125]),
        };
        let m = quantize(&graph(op, &[1, 1]), &[1.0, 0.5], 8).unwrap();
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
        let m = quantize(&graph(op, &[1, 2]), &[1.0, 1.0], 8).unwrap();
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
        let err = quantize(&graph(op, &[1, 2]), &[1.0, 1.0], 8)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("node 'n' (Gemm): constant 1000000000000000000000000000000"),
            "{err}"
        );
    }
}
