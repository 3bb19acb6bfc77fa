//! The float model between ONNX and the quantized model: the same ops as
//! [`crate::model::Op`], with real-valued constants, and an f64 evaluator.
//!
//! The importer lowers every ONNX node into these ops (constants already
//! broadcast to the output shape, constant subgraphs folded), so quantization
//! is a one-to-one map and the evaluator here computes exactly what the
//! quantized model approximates. Evaluating it on the calibration samples
//! gives each tensor's largest |value|, from which the scale is chosen.

use crate::error::QuantizeError;
use crate::inputs::{check_inputs, InputShape};
use crate::model::TensorId;

#[derive(Clone, Debug, PartialEq)]
pub struct FloatGraph {
    pub name: String,
    pub tensors: Vec<FloatTensor>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    /// In topological order.
    pub nodes: Vec<FloatNode>,
    /// What the importer assumed (e.g. a symbolic batch dimension set to 1),
    /// for the report.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FloatTensor {
    pub name: String,
    pub shape: Vec<usize>,
}

impl FloatTensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FloatNode {
    /// The ONNX node name; nodes the importer adds carry a suffix.
    pub name: String,
    pub onnx_op: String,
    pub op: FloatOp,
    pub inputs: Vec<TensorId>,
    pub output: TensorId,
}

/// The real-valued counterpart of [`crate::model::Op`], same semantics.
#[derive(Clone, Debug, PartialEq)]
pub enum FloatOp {
    /// `y[r, j] = sum_k x[r, k] * weight[k * out + j] + bias[j]` over the last axis.
    Linear {
        in_features: usize,
        out_features: usize,
        weight: Vec<f64>,
        bias: Option<Vec<f64>>,
    },
    Add,
    Sub,
    AddConst {
        constant: Vec<f64>,
    },
    /// `y = c - x`.
    ConstSub {
        constant: Vec<f64>,
    },
    Mul,
    MulConst {
        constant: Vec<f64>,
    },
    Relu,
    Reshape,
}

impl FloatGraph {
    pub fn input_shapes(&self) -> Vec<InputShape> {
        self.inputs
            .iter()
            .map(|&id| InputShape {
                name: self.tensors[id].name.clone(),
                shape: self.tensors[id].shape.clone(),
            })
            .collect()
    }

    /// Values of every tensor, indexed by [`TensorId`].
    pub fn evaluate(&self, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, QuantizeError> {
        check_inputs(&self.input_shapes(), inputs)?;
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); self.tensors.len()];
        for (&id, data) in self.inputs.iter().zip(inputs) {
            values[id] = data.clone();
        }
        for node in &self.nodes {
            let out = eval_node(node, &values);
            debug_assert_eq!(
                out.len(),
                self.tensors[node.output].len(),
                "node '{}'",
                node.name
            );
            values[node.output] = out;
        }
        Ok(values)
    }

    /// The graph outputs only.
    pub fn run(&self, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, QuantizeError> {
        let values = self.evaluate(inputs)?;
        Ok(self.outputs.iter().map(|&o| values[o].clone()).collect())
    }

    /// Largest |value| of every tensor over all samples (each sample is one
    /// flat tensor per input). A value that is not finite is an error naming
    /// the tensor: no scale can represent it.
    pub fn observe_ranges(&self, samples: &[Vec<Vec<f64>>]) -> Result<Vec<f64>, QuantizeError> {
        let mut max_abs = vec![0.0f64; self.tensors.len()];
        for (i, sample) in samples.iter().enumerate() {
            let values = self.evaluate(sample).map_err(|e| match e {
                QuantizeError::BadInput(m) => {
                    QuantizeError::BadInput(format!("calibration sample {i}: {m}"))
                }
                other => other,
            })?;
            for (id, v) in values.iter().enumerate() {
                for &x in v {
                    if !x.is_finite() {
                        return Err(QuantizeError::Calibration(format!(
                            "tensor '{}' is not finite on calibration sample {i}",
                            self.tensors[id].name
                        )));
                    }
                    max_abs[id] = max_abs[id].max(x.abs());
                }
            }
        }
        Ok(max_abs)
    }

    /// The node that produces tensor `id`, if any (inputs have none).
    pub fn producer(&self, id: TensorId) -> Option<&FloatNode> {
        self.nodes.iter().find(|n| n.output == id)
    }
}

fn eval_node(node: &FloatNode, values: &[Vec<f64>]) -> Vec<f64> {
    let x = &values[node.inputs[0]];
    let other = || &values[node.inputs[1]];
    match &node.op {
        FloatOp::Linear {
            in_features,
            out_features,
            weight,
            bias,
        } => {
            let (n, m) = (*in_features, *out_features);
            let mut y = Vec::with_capacity(x.len() / n * m);
            for row in x.chunks_exact(n) {
                for j in 0..m {
                    let acc: f64 = row
                        .iter()
                        .enumerate()
                        .map(|(k, &v)| v * weight[k * m + j])
                        .sum();
                    y.push(acc + bias.as_ref().map_or(0.0, |b| b[j]));
                }
            }
            y
        }
        FloatOp::Add => zip(x, other(), |a, b| a + b),
        FloatOp::Sub => zip(x, other(), |a, b| a - b),
        FloatOp::Mul => zip(x, other(), |a, b| a * b),
        FloatOp::AddConst { constant } => zip(x, constant, |a, c| a + c),
        FloatOp::ConstSub { constant } => zip(x, constant, |a, c| c - a),
        FloatOp::MulConst { constant } => zip(x, constant, |a, c| a * c),
        FloatOp::Relu => x.iter().map(|&v| v.max(0.0)).collect(),
        FloatOp::Reshape => x.clone(),
    }
}

fn zip(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, shape: &[usize]) -> FloatTensor {
        FloatTensor {
            name: name.into(),
            shape: shape.to_vec(),
        }
    }

    fn node(name: &str, op: FloatOp, inputs: Vec<TensorId>, output: TensorId) -> FloatNode {
        FloatNode {
            name: name.into(),
            onnx_op: "Test".into(),
            op,
            inputs,
            output,
        }
    }

    /// x [2, 2] -> Linear(2 -> 1) -> Relu, and x * x.
    fn graph() -> FloatGraph {
        FloatGraph {
            name: "g".into(),
            tensors: vec![
                tensor("x", &[2, 2]),
                tensor("l", &[2, 1]),
                tensor("r", &[2, 1]),
                tensor("sq", &[2, 2]),
            ],
            inputs: vec![0],
            outputs: vec![2, 3],
            nodes: vec![
                node(
                    "lin",
                    FloatOp::Linear {
                        in_features: 2,
                        out_features: 1,
                        weight: vec![1.0, -2.0],
                        bias: Some(vec![0.5]),
                    },
                    vec![0],
                    1,
                ),
                node("relu", FloatOp::Relu, vec![1], 2),
                node("sq", FloatOp::Mul, vec![0, 0], 3),
            ],
            notes: vec![],
        }
    }

    #[test]
    fn evaluates_linear_rows_and_elementwise_ops() {
        let g = graph();
        let out = g.run(&[vec![1.0, 1.0, 3.0, -1.0]]).unwrap();
        // Row 0: 1 - 2 + 0.5 = -0.5 -> relu 0; row 1: 3 + 2 + 0.5 = 5.5.
        assert_eq!(out, vec![vec![0.0, 5.5], vec![1.0, 1.0, 9.0, 1.0]]);
    }

    #[test]
    fn ranges_are_max_abs_over_samples() {
        let g = graph();
        let r = g
            .observe_ranges(&[
                vec![vec![1.0, 1.0, 3.0, -1.0]],
                vec![vec![0.0, -4.0, 0.0, 0.0]],
            ])
            .unwrap();
        assert_eq!(r, vec![4.0, 8.5, 8.5, 16.0]);
        let err = g
            .observe_ranges(&[vec![vec![1.0; 3]]])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("calibration sample 0: input 'x' expects shape [2, 2] (4 values), got 3"),
            "{err}"
        );
    }

    #[test]
    fn overflow_to_infinity_is_a_calibration_error() {
        let g = graph();
        let err = g
            .observe_ranges(&[vec![vec![1e200, 0.0, 0.0, 0.0]]])
            .unwrap_err()
            .to_string();
        assert!(err.contains("tensor 'sq' is not finite"), "{err}");
    }
}
