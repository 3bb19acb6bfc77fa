//! The f64 semantics of each [`FloatOp`]: the real function the quantized
//! op approximates.

use super::{FloatGraph, FloatNode, FloatOp};
use crate::error::QuantizeError;
use crate::wiring::{concat, slice, transpose};

pub(super) fn eval_node(
    graph: &FloatGraph,
    node: &FloatNode,
    values: &[Vec<f64>],
) -> Result<Vec<f64>, QuantizeError> {
    let x = &values[node.inputs[0]];
    let other = || &values[node.inputs[1]];
    let in_shape = &graph.tensors[node.inputs[0]].shape;
    Ok(match &node.op {
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
        FloatOp::MatMul { m, k, n } => matmul(x, other(), *m, *k, *n),
        FloatOp::Pointwise { func } => x.iter().map(|&v| func.eval(v)).collect(),
        FloatOp::Softmax { causal } => {
            let t = *in_shape.last().unwrap_or(&1);
            x.chunks(t.max(1))
                .enumerate()
                .flat_map(|(row, xs)| softmax(xs, if *causal { row % t + 1 } else { t }))
                .collect()
        }
        FloatOp::LayerNorm { gamma, beta, eps } => x
            .chunks(gamma.len())
            .flat_map(|row| layernorm(row, gamma, beta, *eps))
            .collect(),
        FloatOp::Gather { vocab, dim, table } => {
            let mut y = Vec::with_capacity(x.len() * dim);
            for &id in x {
                if id.fract() != 0.0 || id < 0.0 || id >= *vocab as f64 {
                    return Err(QuantizeError::BadInput(format!(
                        "token id {id} read by node '{}' is outside the vocabulary [0, {vocab})",
                        node.name
                    )));
                }
                let row = id as usize;
                y.extend_from_slice(&table[row * dim..(row + 1) * dim]);
            }
            y
        }
        FloatOp::Transpose { perm } => transpose(x, in_shape, perm),
        FloatOp::Slice { axis, start, end } => slice(x, in_shape, *axis, *start, *end),
        FloatOp::Concat { axis } => {
            let shapes: Vec<Vec<usize>> = node
                .inputs
                .iter()
                .map(|&i| graph.tensors[i].shape.clone())
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
    })
}

fn zip(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

fn matmul(a: &[f64], c: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let batch = a.len() / (m * k);
    let mut y = Vec::with_capacity(batch * m * n);
    for b in 0..batch {
        let (a, c) = (
            &a[b * m * k..(b + 1) * m * k],
            &c[b * k * n..(b + 1) * k * n],
        );
        for i in 0..m {
            for j in 0..n {
                y.push((0..k).map(|t| a[i * k + t] * c[t * n + j]).sum());
            }
        }
    }
    y
}

/// Softmax of the first `valid` entries; the rest are masked to exactly 0.
fn softmax(xs: &[f64], valid: usize) -> Vec<f64> {
    let m = xs[..valid]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = xs[..valid].iter().map(|&v| (v - m).exp()).collect();
    let sum: f64 = exps.iter().sum();
    let mut y: Vec<f64> = exps.iter().map(|e| e / sum).collect();
    y.resize(xs.len(), 0.0);
    y
}

fn layernorm(row: &[f64], gamma: &[f64], beta: &[f64], eps: f64) -> Vec<f64> {
    let n = row.len() as f64;
    let mean = row.iter().sum::<f64>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let rstd = 1.0 / (var + eps).sqrt();
    row.iter()
        .zip(gamma.iter().zip(beta))
        .map(|(&v, (&g, &b))| (v - mean) * rstd * g + b)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float_graph::{FloatTensor, Nonlinearity};

    fn graph(op: FloatOp, shapes: &[&[usize]], out: &[usize]) -> FloatGraph {
        let mut tensors: Vec<FloatTensor> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| FloatTensor {
                name: format!("in{i}"),
                shape: s.to_vec(),
            })
            .collect();
        tensors.push(FloatTensor {
            name: "y".into(),
            shape: out.to_vec(),
        });
        let n = shapes.len();
        FloatGraph {
            name: "g".into(),
            tensors,
            inputs: (0..n).collect(),
            outputs: vec![n],
            nodes: vec![FloatNode {
                name: "node".into(),
                onnx_op: "Test".into(),
                op,
                inputs: (0..n).collect(),
                output: n,
            }],
            notes: vec![],
        }
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn causal_softmax_masks_exactly_and_normalizes_the_rest() {
        let g = graph(FloatOp::Softmax { causal: true }, &[&[1, 2, 2]], &[1, 2, 2]);
        let y = g.run(&[vec![5.0, 100.0, 0.0, 0.0]]).unwrap().remove(0);
        // Row 0 keeps only its first entry; row 1 is softmax(0, 0).
        assert!(close(&y, &[1.0, 0.0, 0.5, 0.5]), "{y:?}");
        let g = graph(FloatOp::Softmax { causal: false }, &[&[1, 2]], &[1, 2]);
        let y = g.run(&[vec![0.0, 2f64.ln()]]).unwrap().remove(0);
        assert!(close(&y, &[1.0 / 3.0, 2.0 / 3.0]), "{y:?}");
    }

    #[test]
    fn layernorm_uses_population_variance_and_eps() {
        let op = FloatOp::LayerNorm {
            gamma: vec![2.0, 2.0],
            beta: vec![1.0, 0.0],
            eps: 0.0,
        };
        let g = graph(op, &[&[1, 2]], &[1, 2]);
        // mean 2, var 1: z = [-1, 1] -> [-1, 2].
        assert!(close(&g.run(&[vec![1.0, 3.0]]).unwrap()[0], &[-1.0, 2.0]));
        let op = FloatOp::LayerNorm {
            gamma: vec![1.0, 1.0],
            beta: vec![0.0, 0.0],
            eps: 3.0,
        };
        let y = graph(op, &[&[1, 2]], &[1, 2])
            .run(&[vec![1.0, 3.0]])
            .unwrap();
        assert!(close(&y[0], &[-0.5, 0.5]), "var 1 + eps 3 -> std 2");
    }

    #[test]
    fn matmul_is_batched_and_gather_checks_ids() {
        let g = graph(
            FloatOp::MatMul { m: 1, k: 2, n: 1 },
            &[&[2, 1, 2], &[2, 2, 1]],
            &[2, 1, 1],
        );
        let y = g
            .run(&[vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 1.0, 1.0, -1.0]])
            .unwrap();
        assert_eq!(y[0], vec![3.0, -1.0]);
        let op = FloatOp::Gather {
            vocab: 2,
            dim: 2,
            table: vec![0.0, 1.0, 2.0, 3.0],
        };
        let g = graph(op, &[&[3]], &[3, 2]);
        assert_eq!(
            g.run(&[vec![1.0, 0.0, 1.0]]).unwrap()[0],
            vec![2.0, 3.0, 0.0, 1.0, 2.0, 3.0]
        );
    }

    #[test]
    fn pointwise_and_wiring() {
        let g = graph(
            FloatOp::Pointwise {
                func: Nonlinearity::Tanh,
            },
            &[&[2]],
            &[2],
        );
        assert!(close(
            &g.run(&[vec![0.0, 1.0]]).unwrap()[0],
            &[0.0, 1f64.tanh()]
        ));
        let g = graph(FloatOp::Transpose { perm: vec![1, 0] }, &[&[2, 3]], &[3, 2]);
        let y = g.run(&[(0..6).map(f64::from).collect()]).unwrap();
        assert_eq!(y[0], vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let op = FloatOp::Slice {
            axis: 1,
            start: 1,
            end: 3,
        };
        let y = graph(op, &[&[2, 3]], &[2, 2])
            .run(&[(0..6).map(f64::from).collect()])
            .unwrap();
        assert_eq!(y[0], vec![1.0, 2.0, 4.0, 5.0]);
        let g = graph(FloatOp::Concat { axis: 1 }, &[&[1, 1], &[1, 2]], &[1, 3]);
        let y = g.run(&[vec![7.0], vec![8.0, 9.0]]).unwrap();
        assert_eq!(y[0], vec![7.0, 8.0, 9.0]);
    }
}
