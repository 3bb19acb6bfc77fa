//! Integer inference of a `.zkq`: the witness the circuit must reproduce.
//!
//! Every activation is checked against the model's activation range here, at
//! witness time, so a value the circuit could not prove is a clear error
//! naming the tensor, never a failing or (worse) wrapping proof.

use crate::error::QuantizeError;
use crate::fixed::{dequantize, rescale};
use crate::model::{Op, QuantizedModel, TensorId};
use crate::nonlinear::{layernorm_row, softmax_row};
use crate::wiring::{concat, slice, transpose};

/// Values of every tensor after inference, indexed by [`TensorId`].
#[derive(Clone, Debug)]
pub struct Trace {
    pub values: Vec<Vec<i64>>,
}

impl Trace {
    pub fn tensor(&self, id: TensorId) -> &[i64] {
        &self.values[id]
    }
}

/// Runs the integer model on already-quantized inputs (one per model input).
pub fn run(model: &QuantizedModel, inputs: &[Vec<i64>]) -> Result<Trace, QuantizeError> {
    if inputs.len() != model.inputs.len() {
        return Err(QuantizeError::BadInput(format!(
            "the model takes {} input tensor(s), {} given",
            model.inputs.len(),
            inputs.len()
        )));
    }
    let mut values: Vec<Vec<i64>> = vec![Vec::new(); model.tensors.len()];
    let ids = model.token_id_tensors();
    for (&id, data) in model.inputs.iter().zip(inputs) {
        let info = &model.tensors[id];
        if data.len() != info.len() {
            return Err(QuantizeError::BadInput(format!(
                "input '{}' has shape {:?} ({} values), {} values given",
                info.name,
                info.shape,
                info.len(),
                data.len()
            )));
        }
        if ids[id] {
            check_token_ids(model, id, data)?;
        } else {
            check_range(model, id, "the model input", data)?;
        }
        values[id] = data.clone();
    }
    let s = model.scale_bits;
    for node in &model.nodes {
        let x = &values[node.inputs[0]];
        let out: Vec<i64> = match &node.op {
            Op::Linear {
                in_features,
                out_features,
                weight,
                bias,
            } => {
                let (n, m) = (*in_features, *out_features);
                let rows = x.len() / n;
                let mut y = Vec::with_capacity(rows * m);
                for r in 0..rows {
                    for j in 0..m {
                        let mut acc: i128 = bias.as_ref().map_or(0, |b| b[j] as i128);
                        for k in 0..n {
                            acc += x[r * n + k] as i128 * weight[k * m + j] as i128;
                        }
                        y.push(narrow(rescale(acc, s).0));
                    }
                }
                y
            }
            Op::Add => zip(x, &values[node.inputs[1]], |a, b| a + b),
            Op::Sub => zip(x, &values[node.inputs[1]], |a, b| a - b),
            Op::AddConst { constant } => zip(x, constant, |a, c| a + c),
            Op::ConstSub { constant } => zip(x, constant, |a, c| c - a),
            Op::Mul => zip(x, &values[node.inputs[1]], |a, b| {
                narrow(rescale(a as i128 * b as i128, s).0)
            }),
            Op::MulConst { constant } => zip(x, constant, |a, c| {
                narrow(rescale(a as i128 * c as i128, s).0)
            }),
            Op::Relu => x.iter().map(|&v| v.max(0)).collect(),
            Op::Reshape => x.clone(),
            Op::MatMul { m, k, n } => matmul(x, &values[node.inputs[1]], *m, *k, *n, s),
            Op::Pointwise { table } => x.iter().map(|&v| table.eval(v)).collect(),
            Op::Softmax { causal, exp } => {
                let shape = &model.tensors[node.inputs[0]].shape;
                let t = *shape.last().expect("validated: softmax input has an axis");
                x.chunks(t)
                    .enumerate()
                    .flat_map(|(row, xs)| {
                        let valid = if *causal { row % t + 1 } else { t };
                        softmax_row(xs, valid, exp, s).outputs
                    })
                    .collect()
            }
            Op::LayerNorm { gamma, beta, eps } => x
                .chunks(gamma.len())
                .flat_map(|row| layernorm_row(row, gamma, beta, *eps, s).outputs)
                .collect(),
            Op::Gather { vocab, dim, table } => {
                check_token_ids(model, node.inputs[0], x)?;
                debug_assert!(x.iter().all(|&id| (id as usize) < *vocab));
                x.iter()
                    .flat_map(|&id| {
                        table[id as usize * dim..(id as usize + 1) * dim]
                            .iter()
                            .copied()
                    })
                    .collect()
            }
            Op::Transpose { perm } => {
                let shape = &model.tensors[node.inputs[0]].shape;
                transpose(x, shape, perm)
            }
            Op::Slice { axis, start, end } => {
                let shape = &model.tensors[node.inputs[0]].shape;
                slice(x, shape, *axis, *start, *end)
            }
            Op::Concat { axis } => {
                let shapes: Vec<Vec<usize>> = node
                    .inputs
                    .iter()
                    .map(|&i| model.tensors[i].shape.clone())
                    .collect();
                concat(
                    &node
                        .inputs
                        .iter()
                        .map(|&i| values[i].as_slice())
                        .collect::<Vec<_>>(),
                    &shapes,
                    *axis,
                )
            }
        };
        let producer = format!("node '{}' ({})", node.name, node.onnx_op);
        if !ids[node.output] {
            check_range(model, node.output, &producer, &out)?;
        }
        values[node.output] = out;
    }
    Ok(Trace { values })
}

fn matmul(a: &[i64], c: &[i64], m: usize, k: usize, n: usize, s: u32) -> Vec<i64> {
    let batch = a.len() / (m * k);
    let mut y = Vec::with_capacity(batch * m * n);
    for b in 0..batch {
        let (a, c) = (&a[b * m * k..], &c[b * k * n..]);
        for i in 0..m {
            for j in 0..n {
                let acc: i128 = (0..k)
                    .map(|t| a[i * k + t] as i128 * c[t * n + j] as i128)
                    .sum();
                y.push(narrow(rescale(acc, s).0));
            }
        }
    }
    y
}

/// Token ids must index the vocabulary of the Gather that reads them.
fn check_token_ids(
    model: &QuantizedModel,
    id: TensorId,
    data: &[i64],
) -> Result<(), QuantizeError> {
    let vocab = model
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Gather { vocab, .. } => Some(*vocab),
            _ => None,
        })
        .min()
        .unwrap_or(0);
    if let Some(&bad) = data.iter().find(|&&v| v < 0 || v as usize >= vocab) {
        return Err(QuantizeError::BadInput(format!(
            "token id {bad} in '{}' is outside the vocabulary [0, {vocab})",
            model.tensors[id].name
        )));
    }
    Ok(())
}

fn zip(a: &[i64], b: &[i64], f: impl Fn(i64, i64) -> i64) -> Vec<i64> {
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

/// Values that overflow i64 are far outside any activation range; clamping
/// keeps them outside so `check_range` reports them.
fn narrow(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn check_range(
    model: &QuantizedModel,
    id: TensorId,
    producer: &str,
    data: &[i64],
) -> Result<(), QuantizeError> {
    let limit = model.activation_limit();
    let worst = data.iter().copied().max_by_key(|v| v.unsigned_abs());
    if let Some(v) = worst {
        if v >= limit || v < -limit {
            let s = model.scale_bits;
            let value = dequantize(v, s);
            let lim = dequantize(limit, s);
            return Err(QuantizeError::OutOfRange {
                tensor: model.tensors[id].name.clone(),
                producer: producer.to_string(),
                value,
                limit: lim,
                excess: value.abs() - lim,
            });
        }
    }
    Ok(())
}
