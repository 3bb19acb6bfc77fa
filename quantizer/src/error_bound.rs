//! A worst-case bound on quantization error, per tensor element, for one
//! input: how far the dequantized integer model may be from the float model.
//!
//! Write `x̂ = x + e_x` for the dequantized value of a real `x` (the integer
//! over `2^s`). Rounding to scale `s` moves a value by at most
//! `u = 2^-(s+1)`; rescaling a product (`fixed::rescale`, half up) adds at
//! most `u`. Propagating through each op, with `x` the float value and
//! `ε_w = |w - ŵ|` the exact rounding error of each constant:
//!
//! - input:      `|e| = |x - round(x·2^s)/2^s|` (exact)
//! - Linear:     `|e_y| <= Σ_k (|x_k|·ε_wk + |e_xk|·|w_k| + |e_xk|·ε_wk) + ε_b + u`
//!   (from `x̂ŵ - xw = x·e_w + e_x·w + e_x·e_w`)
//! - Mul:        `|e_y| <= |a|·|e_b| + |b|·|e_a| + |e_a|·|e_b| + u`
//! - MulConst:   `|e_y| <= |x|·ε_c + |c|·|e_x| + |e_x|·ε_c + u`
//! - Add, Sub:   `|e_a| + |e_b|`;  AddConst, ConstSub: `|e_x| + ε_c`
//! - Relu, Reshape: `|e_x|` (Relu is 1-Lipschitz)
//!
//! Every step is an inequality on exact integer arithmetic (the integer
//! model has no other error source once its values pass the range checks),
//! so the bound holds for every input, not on average. It is what the
//! accuracy report compares the observed error against, and what the tests
//! use as their tolerance: a broken quantization (a weight at the wrong
//! scale, a bias at `s` instead of `2s`) exceeds it by orders of magnitude.

use crate::fixed::{dequantize, quantize};
use crate::float_graph::{FloatGraph, FloatOp};

/// `|e|` for every element of every tensor, indexed like
/// [`FloatGraph::evaluate`]'s result, given those float `values`.
pub fn error_bounds(graph: &FloatGraph, values: &[Vec<f64>], s: u32) -> Vec<Vec<f64>> {
    let u = 2f64.powi(-(s as i32) - 1);
    let rounding = |v: f64, bits: u32| (v - dequantize(quantize(v, bits), bits)).abs();
    let mut err: Vec<Vec<f64>> = vec![Vec::new(); graph.tensors.len()];
    for &id in &graph.inputs {
        err[id] = values[id].iter().map(|&v| rounding(v, s)).collect();
    }
    for node in &graph.nodes {
        let (x, ex) = (&values[node.inputs[0]], &err[node.inputs[0]]);
        let out: Vec<f64> = match &node.op {
            FloatOp::Linear {
                in_features,
                out_features,
                weight,
                bias,
            } => {
                let (n, m) = (*in_features, *out_features);
                let mut e = Vec::with_capacity(x.len() / n * m);
                for (row, erow) in x.chunks_exact(n).zip(ex.chunks_exact(n)) {
                    for j in 0..m {
                        let mut acc = bias.as_ref().map_or(0.0, |b| rounding(b[j], 2 * s)) + u;
                        for k in 0..n {
                            let w = weight[k * m + j];
                            let ew = rounding(w, s);
                            acc += row[k].abs() * ew + erow[k] * w.abs() + erow[k] * ew;
                        }
                        e.push(acc);
                    }
                }
                e
            }
            FloatOp::Add | FloatOp::Sub => ex
                .iter()
                .zip(&err[node.inputs[1]])
                .map(|(a, b)| a + b)
                .collect(),
            FloatOp::AddConst { constant } | FloatOp::ConstSub { constant } => ex
                .iter()
                .zip(constant)
                .map(|(e, &c)| e + rounding(c, s))
                .collect(),
            FloatOp::Mul => {
                let (y, ey) = (&values[node.inputs[1]], &err[node.inputs[1]]);
                (0..x.len())
                    .map(|i| x[i].abs() * ey[i] + y[i].abs() * ex[i] + ex[i] * ey[i] + u)
                    .collect()
            }
            FloatOp::MulConst { constant } => (0..x.len())
                .map(|i| {
                    let ec = rounding(constant[i], s);
                    x[i].abs() * ec + constant[i].abs() * ex[i] + ex[i] * ec + u
                })
                .collect(),
            FloatOp::Relu | FloatOp::Reshape => ex.clone(),
        };
        err[node.output] = out;
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float_graph::{FloatNode, FloatTensor};

    #[test]
    fn bound_covers_the_exact_error_of_a_product() {
        // y = x * 0.3 at s = 4: x = 0.7 -> 11/16, 0.3 -> 5/16; 11 * 5 = 55 -> rescale -> 3 (0.1875),
        // exact 0.21: error 0.0225, within the bound.
        let g = FloatGraph {
            name: "g".into(),
            tensors: vec![
                FloatTensor {
                    name: "x".into(),
                    shape: vec![1],
                },
                FloatTensor {
                    name: "y".into(),
                    shape: vec![1],
                },
            ],
            inputs: vec![0],
            outputs: vec![1],
            nodes: vec![FloatNode {
                name: "m".into(),
                onnx_op: "Mul".into(),
                op: FloatOp::MulConst {
                    constant: vec![0.3],
                },
                inputs: vec![0],
                output: 1,
            }],
            notes: vec![],
        };
        let values = g.evaluate(&[vec![0.7]]).unwrap();
        let e = error_bounds(&g, &values, 4);
        assert!(
            (e[0][0] - 0.0125).abs() < 1e-12,
            "input rounding |0.7 - 11/16| = 0.0125"
        );
        // |x| ε_c + |c| e_x + e_x ε_c + u = 0.7 * 0.0125 + 0.3 * 0.0125 + 0.0125^2 + 1/32
        let want = 0.7 * 0.0125 + 0.3 * 0.0125 + 0.0125 * 0.0125 + 1.0 / 32.0;
        assert!((e[1][0] - want).abs() < 1e-12);
        assert!(e[1][0] >= (0.1875f64 - 0.21).abs());
    }
}
