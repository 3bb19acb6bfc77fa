//! A worst-case bound on quantization error, per tensor element, for one
//! input: how far the dequantized integer model may be from the float model.
//!
//! Write `x̂ = x + e_x` for the dequantized value of a real `x` (the integer
//! over `2^s`). Rounding to scale `s` moves a value by at most
//! `u = 2^-(s+1)`; rescaling a product (`fixed::rescale`, half up) adds at
//! most `u`. Propagating through each op, with `x` the float value and
//! `ε_w = |w - ŵ|` the exact rounding error of each constant:
//!
//! - input:      `|e| = |x - round(x·2^s)/2^s|` (exact); token ids: 0
//! - Linear:     `|e_y| <= Σ_k (|x_k|·ε_wk + |e_xk|·|w_k| + |e_xk|·ε_wk) + ε_b + u`
//!   (from `x̂ŵ - xw = x·e_w + e_x·w + e_x·e_w`)
//! - MatMul:     `|e_y| <= Σ_t (|a_t|·|e_ct| + |c_t|·|e_at| + |e_at|·|e_ct|) + u`
//! - Mul:        `|e_y| <= |a|·|e_b| + |b|·|e_a| + |e_a|·|e_b| + u`
//! - MulConst:   `|e_y| <= |x|·ε_c + |c|·|e_x| + |e_x|·ε_c + u`
//! - Add, Sub:   `|e_a| + |e_b|`;  AddConst, ConstSub: `|e_x| + ε_c`
//! - Relu, Reshape, Transpose, Slice, Concat: `|e_x|` of the element read
//!   (Relu is 1-Lipschitz; the others move values)
//! - Gather:     `ε` of the table entry read (the ids are exact)
//! - Pointwise:  `max |table(q)/2^s - f(x)|` over every integer input `q`
//!   with `|q/2^s - x| <= |e_x|`: the table itself is enumerated, so its
//!   sampling, its rounding and its saturation are all included. Where
//!   that is more than 2^16 inputs, no bound.
//! - Softmax, LayerNorm: **no bound** is derived (their integer semantics
//!   divide by a computed sum or square root); they and everything after
//!   them get `f64::INFINITY`, and [`ops_without_bound`] names them.
//!
//! Every finite step is an inequality on exact integer arithmetic (the
//! integer model has no other error source once its values pass the range
//! checks), so the bound holds for every input, not on average. It is what
//! the accuracy report compares the observed error against, and what the
//! tests use as their tolerance: a broken quantization (a weight at the
//! wrong scale, a bias at `s` instead of `2s`) exceeds it by orders of
//! magnitude.

use crate::fixed::{dequantize, quantize};
use crate::float_graph::{FloatGraph, FloatOp};
use crate::model::{Op, QuantizedModel};
use crate::nonlinear::PointwiseTable;
use crate::wiring::{concat, slice, transpose};

/// Most integer inputs a Pointwise bound enumerates per element.
const MAX_ENUMERATED: f64 = 65536.0;

/// The ops of `graph` for which no bound is derived, as "softmax (node 'x')".
pub fn ops_without_bound(graph: &FloatGraph) -> Vec<String> {
    graph
        .nodes
        .iter()
        .filter_map(|n| {
            let kind = match n.op {
                FloatOp::Softmax { .. } => "softmax",
                FloatOp::LayerNorm { .. } => "layernorm",
                _ => return None,
            };
            Some(format!("{kind} (node '{}')", n.name))
        })
        .collect()
}

/// `|e|` for every element of every tensor, indexed like
/// [`FloatGraph::evaluate`]'s result, given those float `values`;
/// `f64::INFINITY` where no bound is derived. `model` is `graph` quantized
/// ([`crate::quantize::quantize_graph`]: one node per node, same order).
pub fn error_bounds(
    graph: &FloatGraph,
    model: &QuantizedModel,
    values: &[Vec<f64>],
) -> Vec<Vec<f64>> {
    let s = model.scale_bits;
    let u = 2f64.powi(-(s as i32) - 1);
    let rounding = |v: f64, bits: u32| (v - dequantize(quantize(v, bits), bits)).abs();
    let ids = graph.token_id_tensors();
    let mut err: Vec<Vec<f64>> = vec![Vec::new(); graph.tensors.len()];
    for &id in &graph.inputs {
        err[id] = if ids[id] {
            vec![0.0; values[id].len()]
        } else {
            values[id].iter().map(|&v| rounding(v, s)).collect()
        };
    }
    for (node, qnode) in graph.nodes.iter().zip(&model.nodes) {
        let len = graph.tensors[node.output].len();
        let unbounded = node
            .inputs
            .iter()
            .any(|&i| err[i].iter().any(|e| !e.is_finite()));
        if unbounded {
            err[node.output] = vec![f64::INFINITY; len];
            continue;
        }
        let (x, ex) = (&values[node.inputs[0]], &err[node.inputs[0]]);
        let in_shape = &graph.tensors[node.inputs[0]].shape;
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
            FloatOp::MatMul { m, k, n } => {
                let (c, ec) = (&values[node.inputs[1]], &err[node.inputs[1]]);
                let mut e = Vec::with_capacity(len);
                for b in 0..x.len() / (m * k) {
                    let (a0, c0) = (b * m * k, b * k * n);
                    for i in 0..*m {
                        for j in 0..*n {
                            let acc: f64 = (0..*k)
                                .map(|t| {
                                    let (ia, ic) = (a0 + i * k + t, c0 + t * n + j);
                                    x[ia].abs() * ec[ic] + c[ic].abs() * ex[ia] + ex[ia] * ec[ic]
                                })
                                .sum();
                            e.push(acc + u);
                        }
                    }
                }
                e
            }
            FloatOp::Pointwise { func } => {
                let Op::Pointwise { table } = &qnode.op else {
                    unreachable!("quantize_graph maps Pointwise to Pointwise")
                };
                (0..x.len())
                    .map(|i| table_error(table, s, x[i], ex[i], |v| func.eval(v)))
                    .collect()
            }
            FloatOp::Gather { dim, table, .. } => x
                .iter()
                .flat_map(|&id| {
                    let row = id as usize * dim;
                    table[row..row + dim].iter().map(|&w| rounding(w, s))
                })
                .collect(),
            FloatOp::Transpose { perm } => transpose(ex, in_shape, perm),
            FloatOp::Slice { axis, start, end } => slice(ex, in_shape, *axis, *start, *end),
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
                        .map(|&i| err[i].as_slice())
                        .collect::<Vec<_>>(),
                    &shapes,
                    *axis,
                )
            }
            FloatOp::Softmax { .. } | FloatOp::LayerNorm { .. } => vec![f64::INFINITY; len],
        };
        err[node.output] = out;
    }
    err
}

/// `max |table(q)/2^s - f(x)|` over the integers `q` within `e` of `x·2^s`.
fn table_error(table: &PointwiseTable, s: u32, x: f64, e: f64, f: impl Fn(f64) -> f64) -> f64 {
    let unit = 2f64.powi(s as i32);
    // One integer of slack on each side covers the f64 rounding of the ends.
    let (lo, hi) = (
        ((x - e) * unit).ceil() - 1.0,
        ((x + e) * unit).floor() + 1.0,
    );
    if hi - lo > MAX_ENUMERATED {
        return f64::INFINITY;
    }
    let fx = f(x);
    (lo as i64..=hi as i64)
        .map(|q| (dequantize(table.eval(q), s) - fx).abs())
        .fold(0.0, f64::max)
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
        let obs = g.observe(&[vec![vec![0.7]]]).unwrap();
        let tables = crate::tables::TableOptions {
            margin: 2.0,
            table_bits: 12,
        };
        let model = crate::quantize::quantize_graph(&g, &obs, 4, 16, &tables, "t").unwrap();
        let e = error_bounds(&g, &model, &values);
        assert!(
            (e[0][0] - 0.0125).abs() < 1e-12,
            "input rounding |0.7 - 11/16| = 0.0125"
        );
        // |x| ε_c + |c| e_x + e_x ε_c + u = 0.7 * 0.0125 + 0.3 * 0.0125 + 0.0125^2 + 1/32
        let want = 0.7 * 0.0125 + 0.3 * 0.0125 + 0.0125 * 0.0125 + 1.0 / 32.0;
        assert!((e[1][0] - want).abs() < 1e-12);
        assert!(e[1][0] >= (0.1875f64 - 0.21).abs());
    }

    fn chain(op: FloatOp, second: Option<FloatOp>) -> FloatGraph {
        let t = |name: &str| FloatTensor {
            name: name.into(),
            shape: vec![1, 4],
        };
        let mut nodes = vec![FloatNode {
            name: "first".into(),
            onnx_op: "Test".into(),
            op,
            inputs: vec![0],
            output: 1,
        }];
        if let Some(op) = second {
            nodes.push(FloatNode {
                name: "second".into(),
                onnx_op: "Test".into(),
                op,
                inputs: vec![1],
                output: 2,
            });
        }
        FloatGraph {
            name: "g".into(),
            tensors: vec![t("x"), t("y"), t("z")][..nodes.len() + 1].to_vec(),
            inputs: vec![0],
            outputs: vec![nodes.len()],
            nodes,
            notes: vec![],
        }
    }

    fn bounds_and_errors(g: &FloatGraph, x: &[f64], s: u32) -> (Vec<f64>, Vec<f64>) {
        let sample = vec![x.to_vec()];
        let obs = g.observe(std::slice::from_ref(&sample)).unwrap();
        let tables = crate::tables::TableOptions {
            margin: 2.0,
            table_bits: 6,
        };
        let model = crate::quantize::quantize_graph(g, &obs, s, 20, &tables, "t").unwrap();
        let values = g.evaluate(&sample).unwrap();
        let out = *g.outputs.last().unwrap();
        let q = crate::inputs::quantize_inputs(&model, &sample).unwrap();
        let trace = crate::infer::run(&model, &q).unwrap();
        let errors = trace
            .tensor(out)
            .iter()
            .zip(&values[out])
            .map(|(&q, &v)| (dequantize(q, s) - v).abs())
            .collect();
        (error_bounds(g, &model, &values)[out].clone(), errors)
    }

    #[test]
    fn a_pointwise_bound_enumerates_its_coarse_table() {
        use crate::nonlinear::Nonlinearity;
        // 64 rows for tanh over [-2, 2]·2 at 2^10: a shift of 7, coarse on purpose.
        let g = chain(
            FloatOp::Pointwise {
                func: Nonlinearity::Tanh,
            },
            None,
        );
        let (bound, err) = bounds_and_errors(&g, &[-1.9, -0.2, 0.33, 2.0], 10);
        for (b, e) in bound.iter().zip(&err) {
            assert!(e <= b && *b < 0.07, "error {e}, bound {b}");
        }
        assert!(
            err.iter().any(|&e| e > 0.01),
            "the table is coarse: {err:?}"
        );
    }

    #[test]
    fn softmax_has_no_bound_and_says_so() {
        let g = chain(FloatOp::Softmax { causal: false }, Some(FloatOp::Relu));
        let (bound, _) = bounds_and_errors(&g, &[0.1, 0.2, 0.3, 0.4], 10);
        assert!(
            bound.iter().all(|b| b.is_infinite()),
            "nor after it: {bound:?}"
        );
        assert_eq!(ops_without_bound(&g), ["softmax (node 'first')"]);
    }
}
