//! Layer normalization: the `LayerNormalization` op, and the same function
//! written out, as exporters before opset 17 (and hand-written layer norms)
//! emit it:
//!
//! ```text
//! μ = ReduceMean(x)            (last axis, keepdims)
//! d = Sub(x, μ)                (once, or once per use)
//! v = ReduceMean(Pow(d, 2))    (or Mul(d, d))
//! σ = Sqrt(Add(v, eps))
//! n = Div(d, σ)                (or Mul(d, Reciprocal(σ)))
//! y = Add(Mul(n, γ), β)        (either operand order; γ, β optional)
//! ```
//!
//! Each step keeps its result pending ([`NormStage`]); the completed
//! pattern is one `LayerNorm` node. Fused, the circuit proves one integer
//! square root per row (`nonlinear::layernorm`); op by op it would need a
//! division by an activation, which no chip proves. A partial pattern that
//! a consumer needs is emitted as what it is: the mean and the variance as
//! `Linear` averages, the centring as `Linear(I - 1/n)` (exact: it is
//! linear), the square as `Mul`; a square root or reciprocal of an
//! activation outside the pattern is unsupported.
//!
//! `ReduceMean` / `ReduceSum` over one axis of an activation are `Linear`
//! maps with weights `1/n` / `1` (over another axis than the last, after a
//! `Transpose`).

use std::rc::Rc;

use super::elementwise::EwOp;
use super::pending::{Pending, PendingKind};
use super::{ConstTensor, Importer, NodeCtx, Slot, Value};
use crate::error::QuantizeError;
use crate::float_graph::FloatOp;
use crate::model::TensorId;

/// A step of a written-out layer norm over the last axis of `x`.
#[derive(Debug)]
pub(crate) struct NormStage {
    pub x: TensorId,
    pub step: Step,
}

#[derive(Debug)]
pub(crate) enum Step {
    /// `mean(x)`, keepdims.
    Mean,
    /// `x - mean(x)`.
    Centered,
    /// `(x - mean(x))²`, from this pending centring.
    Square { centered: Rc<Pending> },
    /// `mean((x - mean(x))²)`.
    Var { square: Rc<Pending> },
    /// `var + eps`.
    VarEps { var: Rc<Pending>, eps: f64 },
    /// `sqrt(var + eps)`.
    Std { eps: f64 },
    /// `1 / sqrt(var + eps)`.
    InvStd { eps: f64 },
    /// `(x - mean) / sqrt(var + eps) * gamma + beta`.
    Normalized {
        eps: f64,
        gamma: Vec<f64>,
        beta: Vec<f64>,
    },
}

/// A pending stage: the pending value, the normalized tensor, the step.
type Stage<'a> = (&'a Rc<Pending>, TensorId, &'a Step);

fn stage(s: &Slot) -> Option<Stage<'_>> {
    match s {
        Slot::Pending(p) => match &p.kind {
            PendingKind::Norm(st) => Some((p, st.x, &st.step)),
            _ => None,
        },
        _ => None,
    }
}

fn pending(n: &NodeCtx, shape: Vec<usize>, x: TensorId, step: Step) -> Slot {
    let kind = PendingKind::Norm(NormStage { x, step });
    Slot::Pending(Pending::new(n.origin(), shape, kind))
}

/// The next step of the pattern, if `op(a, b)` is one.
pub(super) fn extend_binary(
    imp: &Importer,
    n: &NodeCtx,
    op: EwOp,
    a: &Slot,
    b: &Slot,
) -> Result<Option<Slot>, QuantizeError> {
    let constant = |s: &Slot| match s {
        Slot::Value(Value::Const(c)) => Some(c.clone()),
        _ => None,
    };
    let scalar = |s: &Slot| constant(s).and_then(|c| c.as_scalar());
    let (sa, sb) = (stage(a), stage(b));
    // The operand that is not a stage (when exactly one is).
    let other = if sa.is_some() { b } else { a };
    let step = match (op, sa, sb) {
        // x - mean(x)
        (EwOp::Sub, None, Some((_, x, Step::Mean))) if imp.as_act(a) == Some(x) => {
            Some((x, imp.shape(x).to_vec(), Step::Centered))
        }
        // d², as Pow(d, 2) or d * d
        (EwOp::Pow, Some((p, x, Step::Centered)), None) if scalar(b) == Some(2.0) => Some((
            x,
            p.shape.clone(),
            Step::Square {
                centered: p.clone(),
            },
        )),
        (EwOp::Mul, Some((p, x, Step::Centered)), Some((_, x2, Step::Centered))) if x == x2 => {
            Some((
                x,
                p.shape.clone(),
                Step::Square {
                    centered: p.clone(),
                },
            ))
        }
        // var + eps
        (EwOp::Add, Some((p, x, Step::Var { .. })), None)
        | (EwOp::Add, None, Some((p, x, Step::Var { .. }))) => {
            scalar(other).filter(|&eps| eps >= 0.0).map(|eps| {
                (
                    x,
                    p.shape.clone(),
                    Step::VarEps {
                        var: p.clone(),
                        eps,
                    },
                )
            })
        }
        // d / σ, d * (1/σ)
        (EwOp::Div, Some((p, x, Step::Centered)), Some((_, x2, Step::Std { eps })))
        | (EwOp::Mul, Some((p, x, Step::Centered)), Some((_, x2, Step::InvStd { eps })))
        | (EwOp::Mul, Some((_, x2, Step::InvStd { eps })), Some((p, x, Step::Centered)))
            if x == x2 =>
        {
            Some((x, p.shape.clone(), normalized(*eps, p.shape.last())))
        }
        // the affine part: * γ, + β (and / c, - c)
        (op, Some((p, x, Step::Normalized { eps, gamma, beta })), None)
        | (op, None, Some((p, x, Step::Normalized { eps, gamma, beta }))) => constant(other)
            .and_then(|c| per_feature(&c, &p.shape))
            .and_then(|c| affine(op, sa.is_none(), gamma, beta, &c))
            .map(|(gamma, beta)| {
                let eps = *eps;
                (x, p.shape.clone(), Step::Normalized { eps, gamma, beta })
            }),
        _ => None,
    };
    Ok(step.map(|(x, shape, step)| pending(n, shape, x, step)))
}

fn normalized(eps: f64, d: Option<&usize>) -> Step {
    let d = d.copied().unwrap_or(0);
    Step::Normalized {
        eps,
        gamma: vec![1.0; d],
        beta: vec![0.0; d],
    }
}

/// `(γ, β)` after `op` with the per-feature constant `c` (`first`: `c op n`).
fn affine(
    op: EwOp,
    first: bool,
    gamma: &[f64],
    beta: &[f64],
    c: &[f64],
) -> Option<(Vec<f64>, Vec<f64>)> {
    let zip = |u: &[f64], f: &dyn Fn(f64, f64) -> f64| -> Vec<f64> {
        u.iter().zip(c).map(|(&a, &b)| f(a, b)).collect()
    };
    Some(match (op, first) {
        (EwOp::Mul, _) => (zip(gamma, &|g, c| g * c), zip(beta, &|b, c| b * c)),
        (EwOp::Div, false) if c.iter().all(|&v| v != 0.0) => {
            (zip(gamma, &|g, c| g / c), zip(beta, &|b, c| b / c))
        }
        (EwOp::Add, _) => (gamma.to_vec(), zip(beta, &|b, c| b + c)),
        (EwOp::Sub, false) => (gamma.to_vec(), zip(beta, &|b, c| b - c)),
        _ => return None,
    })
}

/// A constant that broadcasts to `shape` and varies along the last axis
/// only, as its row of `shape.last()` values.
fn per_feature(c: &ConstTensor, shape: &[usize]) -> Option<Vec<f64>> {
    let full = c.broadcast_to(shape)?;
    let d = *shape.last()?;
    let first = full.get(..d)?.to_vec();
    full.chunks(d)
        .all(|row| row == first.as_slice())
        .then_some(first)
}

/// `Sqrt` and `Reciprocal`: steps of the pattern, or folded constants.
pub(super) fn sqrt_or_reciprocal(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let sqrt = n.op() == "Sqrt";
    let x = imp.slot(n, 0)?;
    if let Slot::Value(Value::Const(c)) = &x {
        let f = |v: f64| if sqrt { v.sqrt() } else { 1.0 / v };
        return Ok(Value::Const(c.map(f)).into());
    }
    match (sqrt, stage(&x)) {
        (true, Some((p, x, Step::VarEps { eps, .. }))) => {
            Ok(pending(n, p.shape.clone(), x, Step::Std { eps: *eps }))
        }
        (false, Some((p, x, Step::Std { eps }))) => {
            Ok(pending(n, p.shape.clone(), x, Step::InvStd { eps: *eps }))
        }
        _ => Err(n.unsupported(format!(
            "{} of an activation is supported only inside a layer normalization \
             (ReduceMean, Sub, Pow, ReduceMean, Add eps, Sqrt, Div)",
            n.op()
        ))),
    }
}

/// `ReduceMean` / `ReduceSum`.
pub(super) fn reduce(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let mean = n.op() == "ReduceMean";
    let attrs = n.attrs();
    let keepdims = attrs.int("keepdims", 1)? != 0;
    let axes: Vec<i64> = match attrs.ints("axes")? {
        Some(a) => a.to_vec(),
        None => match imp.optional_slot(n, 1)? {
            None => Vec::new(),
            Some(Slot::Value(Value::Const(c))) => c.to_ints(&n.label)?,
            Some(_) => return Err(n.unsupported("the axes must be a constant")),
        },
    };
    let x = imp.slot(n, 0)?;
    let shape = imp.slot_shape(&x);
    let rank = shape.len();
    let mut axes: Vec<usize> = if axes.is_empty() {
        if attrs.int("noop_with_empty_axes", 0)? != 0 {
            return Ok(x);
        }
        (0..rank).collect()
    } else {
        axes.iter()
            .map(|&a| {
                let a = if a < 0 { a + rank as i64 } else { a };
                usize::try_from(a)
                    .ok()
                    .filter(|&a| a < rank)
                    .ok_or_else(|| n.bad(format!("axis {a} out of range for rank {rank}")))
            })
            .collect::<Result<_, _>>()?
    };
    axes.sort_unstable();
    axes.dedup();
    let out_shape: Vec<usize> = (0..rank)
        .filter_map(|a| match (axes.contains(&a), keepdims) {
            (false, _) => Some(shape[a]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    if let Slot::Value(Value::Const(c)) = &x {
        return Ok(Value::Const(reduce_const(c, &axes, mean, out_shape)).into());
    }
    let last = rank.checked_sub(1);
    if mean && keepdims && axes.len() == 1 && Some(axes[0]) == last {
        if let Some((square, x, Step::Square { .. })) = stage(&x) {
            let step = Step::Var {
                square: square.clone(),
            };
            return Ok(pending(n, out_shape, x, step));
        }
        if let Some(id) = imp.as_act(&x) {
            if !imp.is_token_ids(id) {
                return Ok(pending(n, out_shape, id, Step::Mean));
            }
        }
    }
    let [axis] = axes[..] else {
        return Err(n.unsupported(format!(
            "{} over axes {axes:?} of an activation; only one axis is supported",
            n.op()
        )));
    };
    let x = match imp.resolve(x)? {
        Value::Act(id) => id,
        Value::Const(_) => unreachable!("constants are folded above"),
    };
    let d = shape[axis];
    let w = if mean { 1.0 / d as f64 } else { 1.0 };
    let linear = FloatOp::Linear {
        in_features: d,
        out_features: 1,
        weight: vec![w; d],
        bias: None,
    };
    if Some(axis) == last {
        return imp.emit(n, linear, vec![x], out_shape).map(Slot::Value);
    }
    // Move the axis last; the reduced axis has size 1 (or is gone), so the
    // result's memory order is already the output's.
    let mut perm: Vec<usize> = (0..rank).filter(|&a| a != axis).collect();
    perm.push(axis);
    let moved: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let t = imp.emit_part(n, ":transpose", FloatOp::Transpose { perm }, vec![x], moved)?;
    imp.emit(n, linear, vec![t], out_shape).map(Slot::Value)
}

fn reduce_const(c: &ConstTensor, axes: &[usize], mean: bool, out_shape: Vec<usize>) -> ConstTensor {
    let rank = c.shape.len();
    let kept: Vec<usize> = (0..rank)
        .map(|a| if axes.contains(&a) { 1 } else { c.shape[a] })
        .collect();
    let count: usize = axes.iter().map(|&a| c.shape[a]).product();
    let mut data = vec![0.0; kept.iter().product()];
    let mut index = vec![0usize; rank];
    for &v in &c.data {
        let o = (0..rank).fold(0, |acc, a| {
            acc * kept[a] + if axes.contains(&a) { 0 } else { index[a] }
        });
        data[o] += v;
        for a in (0..rank).rev() {
            index[a] += 1;
            if index[a] < c.shape[a] {
                break;
            }
            index[a] = 0;
        }
    }
    if mean && count > 0 {
        data.iter_mut().for_each(|v| *v /= count as f64);
    }
    ConstTensor {
        shape: out_shape,
        data,
    }
}

/// Emits a partial pattern that a consumer needs (see the module doc).
pub(super) fn materialize(
    imp: &mut Importer,
    p: &Rc<Pending>,
    st: &NormStage,
) -> Result<TensorId, QuantizeError> {
    let d = *imp.shape(st.x).last().unwrap_or(&1);
    let shape = p.shape.clone();
    let mean_of = |d: usize| FloatOp::Linear {
        in_features: d,
        out_features: 1,
        weight: vec![1.0 / d as f64; d],
        bias: None,
    };
    let (op, input) = match &st.step {
        Step::Mean => (mean_of(d), st.x),
        Step::Centered => {
            let weight = (0..d * d)
                .map(|i| if i / d == i % d { 1.0 } else { 0.0 } - 1.0 / d as f64)
                .collect();
            let op = FloatOp::Linear {
                in_features: d,
                out_features: d,
                weight,
                bias: None,
            };
            (op, st.x)
        }
        Step::Square { centered } => {
            let c = imp.materialize(centered)?;
            return imp.push_node(&p.origin, None, "", FloatOp::Mul, vec![c, c], shape);
        }
        Step::Var { square } => (mean_of(d), imp.materialize(square)?),
        Step::VarEps { var, eps } => {
            let constant = vec![*eps; shape.iter().product()];
            (FloatOp::AddConst { constant }, imp.materialize(var)?)
        }
        Step::Std { .. } | Step::InvStd { .. } => {
            return Err(p.origin.unsupported(format!(
                "{} of an activation is supported only inside a layer normalization whose \
                 normalized result is (x - mean) divided by it",
                p.origin.op
            )))
        }
        Step::Normalized { eps, gamma, beta } => {
            let op = FloatOp::LayerNorm {
                gamma: gamma.clone(),
                beta: beta.clone(),
                eps: *eps,
            };
            return imp.push_node(
                &p.origin,
                Some("LayerNormalization (fused)"),
                "",
                op,
                vec![st.x],
                shape,
            );
        }
    };
    imp.push_node(&p.origin, None, "", op, vec![input], shape)
}

/// The `LayerNormalization` op (opset 17) over the last axis.
pub(super) fn layer_normalization(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let Value::Act(x) = imp.input(n, 0)? else {
        return Err(n.unsupported("LayerNormalization of a constant; fold it before export"));
    };
    let shape = imp.shape(x).to_vec();
    let rank = shape.len() as i64;
    let attrs = n.attrs();
    let axis = attrs.int("axis", -1)?;
    if axis != -1 && axis != rank - 1 {
        return Err(n.unsupported(format!(
            "normalization from axis {axis} of a rank-{rank} tensor; only the last axis is supported"
        )));
    }
    let eps = attrs.float("epsilon", 1e-5)? as f64;
    let d = *shape.last().unwrap_or(&0);
    let feature = |c: ConstTensor, what: &str| {
        per_feature(&c, &shape).ok_or_else(|| {
            n.bad(format!(
                "{what} of shape {:?} does not broadcast to [{d}]",
                c.shape
            ))
        })
    };
    let gamma = feature(imp.const_input(n, 1, "the scale")?, "the scale")?;
    let beta = match imp.optional_slot(n, 2)? {
        None => vec![0.0; d],
        Some(Slot::Value(Value::Const(c))) => feature(c, "the bias")?,
        Some(_) => return Err(n.unsupported("the bias (input #2) must be a constant")),
    };
    imp.emit(n, FloatOp::LayerNorm { gamma, beta, eps }, vec![x], shape)
        .map(Slot::Value)
}
