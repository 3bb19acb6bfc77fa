//! The float model between ONNX and the quantized model: the same ops as
//! [`crate::model::Op`], with real-valued constants, and an f64 evaluator.
//!
//! The importer lowers every ONNX node into these ops (constants already
//! broadcast to the output shape, constant subgraphs folded, recognised
//! patterns fused), so quantization is a one-to-one map and the evaluator
//! here ([`eval`]) computes exactly what the quantized model approximates:
//! softmax masks with an exact `-inf`, layer norm with its `eps`, GELU with
//! the exact erf. Evaluating it on the calibration samples gives each
//! tensor's largest |value|, from which the scale is chosen, and the input
//! range of every lookup table ([`Observations`]).

mod eval;

use crate::error::QuantizeError;
use crate::inputs::{check_inputs, InputShape};
use crate::model::TensorId;
pub use crate::nonlinear::Nonlinearity;

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
    /// `y[b, i, j] = sum_t a[b, i, t] * c[b, t, j]`, two activations.
    MatMul {
        m: usize,
        k: usize,
        n: usize,
    },
    /// `y = func(x)` elementwise.
    Pointwise {
        func: Nonlinearity,
    },
    /// Softmax over the last axis; with `causal`, row `i` of each `[T, T]`
    /// matrix keeps its first `i + 1` entries and the rest are exactly 0
    /// (a mask of `-inf`).
    Softmax {
        causal: bool,
    },
    /// `(x - mean) / sqrt(var + eps) * gamma + beta` over the last axis
    /// (population variance).
    LayerNorm {
        gamma: Vec<f64>,
        beta: Vec<f64>,
        eps: f64,
    },
    /// `y[t, j] = table[id_t * dim + j]`: an embedding lookup of token ids.
    Gather {
        vocab: usize,
        dim: usize,
        table: Vec<f64>,
    },
    /// Output axis `a` is input axis `perm[a]`.
    Transpose {
        perm: Vec<usize>,
    },
    /// `x[.., start..end, ..]` along `axis`.
    Slice {
        axis: usize,
        start: usize,
        end: usize,
    },
    /// The inputs joined along `axis`.
    Concat {
        axis: usize,
    },
}

/// What calibration learns from the samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Observations {
    /// Largest |value| of every tensor, indexed by [`TensorId`] (for token
    /// ids: the largest id).
    pub max_abs: Vec<f64>,
    /// Per node (indexed like [`FloatGraph::nodes`]), the `[min, max]` a
    /// lookup table sees: a `Pointwise` node's input, and a `Softmax`
    /// node's `x_j - max_row` over its unmasked entries (the exp table's
    /// input, always `<= 0`). `None` for other nodes.
    pub table_inputs: Vec<Option<(f64, f64)>>,
    pub samples: usize,
}

impl Observations {
    pub fn new(graph: &FloatGraph) -> Self {
        Observations {
            max_abs: vec![0.0; graph.tensors.len()],
            table_inputs: vec![None; graph.nodes.len()],
            samples: 0,
        }
    }

    /// Adds one sample's tensor values (from [`FloatGraph::evaluate`]). A
    /// value that is not finite is an error naming the tensor: no scale can
    /// represent it.
    pub fn record(&mut self, graph: &FloatGraph, values: &[Vec<f64>]) -> Result<(), QuantizeError> {
        let sample = self.samples;
        for (id, v) in values.iter().enumerate() {
            for &x in v {
                if !x.is_finite() {
                    return Err(QuantizeError::Calibration(format!(
                        "tensor '{}' is not finite on calibration sample {sample}",
                        graph.tensors[id].name
                    )));
                }
                self.max_abs[id] = self.max_abs[id].max(x.abs());
            }
        }
        for (slot, node) in self.table_inputs.iter_mut().zip(&graph.nodes) {
            let x = &values[node.inputs[0]];
            let seen = match node.op {
                FloatOp::Pointwise { .. } => min_max(x.iter().copied()),
                FloatOp::Softmax { causal } => {
                    let t = *graph.tensors[node.inputs[0]].shape.last().unwrap_or(&1);
                    min_max(x.chunks(t.max(1)).enumerate().flat_map(|(row, xs)| {
                        let valid = if causal { row % t + 1 } else { t };
                        let m = xs[..valid]
                            .iter()
                            .copied()
                            .fold(f64::NEG_INFINITY, f64::max);
                        xs[..valid].iter().map(move |&v| v - m)
                    }))
                }
                _ => None,
            };
            if let Some((lo, hi)) = seen {
                *slot = Some(match *slot {
                    Some((a, b)) => (a.min(lo), b.max(hi)),
                    None => (lo, hi),
                });
            }
        }
        self.samples += 1;
        Ok(())
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((a, b)) => Some((a.min(v), b.max(v))),
    })
}

impl FloatGraph {
    pub fn input_shapes(&self) -> Vec<InputShape> {
        self.inputs
            .iter()
            .map(|&id| InputShape {
                name: self.tensors[id].name.clone(),
                shape: self.tensors[id].shape.clone(),
                vocab: self.vocab_of(id),
            })
            .collect()
    }

    /// Which tensors hold integer token ids: those a `Gather` reads,
    /// directly or through reshapes (as [`crate::QuantizedModel::token_id_tensors`]).
    pub fn token_id_tensors(&self) -> Vec<bool> {
        let mut ids = vec![false; self.tensors.len()];
        for node in self.nodes.iter().rev() {
            let feeds_ids = match node.op {
                FloatOp::Gather { .. } => true,
                FloatOp::Reshape => ids[node.output],
                _ => false,
            };
            if feeds_ids {
                ids[node.inputs[0]] = true;
            }
        }
        ids
    }

    /// The vocabulary a token-id tensor indexes (the smallest, if several
    /// embeddings read it); `None` for activations.
    pub fn vocab_of(&self, id: TensorId) -> Option<usize> {
        let mut reach = vec![false; self.tensors.len()];
        reach[id] = true;
        let mut vocab: Option<usize> = None;
        for node in &self.nodes {
            if !reach[node.inputs[0]] {
                continue;
            }
            match &node.op {
                FloatOp::Reshape => reach[node.output] = true,
                FloatOp::Gather { vocab: v, .. } => vocab = Some(vocab.map_or(*v, |o| o.min(*v))),
                _ => {}
            }
        }
        vocab
    }

    /// Values of every tensor, indexed by [`TensorId`].
    pub fn evaluate(&self, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, QuantizeError> {
        check_inputs(&self.input_shapes(), inputs)?;
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); self.tensors.len()];
        for (&id, data) in self.inputs.iter().zip(inputs) {
            values[id] = data.clone();
        }
        for node in &self.nodes {
            let out = eval::eval_node(self, node, &values)?;
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

    /// Every tensor's range and every lookup table's input range over all
    /// samples (each sample is one flat tensor per input).
    pub fn observe(&self, samples: &[Vec<Vec<f64>>]) -> Result<Observations, QuantizeError> {
        let mut obs = Observations::new(self);
        for (i, sample) in samples.iter().enumerate() {
            let values = self.evaluate(sample).map_err(|e| match e {
                QuantizeError::BadInput(m) => {
                    QuantizeError::BadInput(format!("calibration sample {i}: {m}"))
                }
                other => other,
            })?;
            obs.record(self, &values)?;
        }
        Ok(obs)
    }

    /// Largest |value| of every tensor over all samples: [`Observations::max_abs`].
    pub fn observe_ranges(&self, samples: &[Vec<Vec<f64>>]) -> Result<Vec<f64>, QuantizeError> {
        Ok(self.observe(samples)?.max_abs)
    }

    /// The node that produces tensor `id`, if any (inputs have none).
    pub fn producer(&self, id: TensorId) -> Option<&FloatNode> {
        self.nodes.iter().find(|n| n.output == id)
    }
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
