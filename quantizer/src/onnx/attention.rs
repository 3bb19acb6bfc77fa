//! Attention: `Softmax`, and the constant masks exporters put before it.
//!
//! A causal language model masks the attention scores with a constant
//! lower-triangular matrix, written either as
//! `Where(mask, scores, fill)` (GPT-2 in transformers) or as
//! `scores + bias` with `bias` 0 where kept and `fill` elsewhere, `fill`
//! being `-inf`, `finfo(f32).min` or `-1e4`. No fixed-point scale holds
//! such a fill, and none needs to: after the softmax those entries are 0.
//! So the masked scores stay pending ([`Masked`]) and the softmax that
//! consumes them becomes `Softmax { causal: true }`, whose semantics mask
//! exactly. A fill above `-1e4` is not a mask (`exp(-1e4)` is 0 in f64, so
//! from there on the two agree to every bit).
//!
//! A mask that keeps everything is no mask; any other (padding, a sliding
//! window) is unsupported, as is a masked tensor that feeds anything but a
//! softmax over its last axis.

use std::rc::Rc;

use super::pending::{Pending, PendingKind};
use super::{ConstTensor, Importer, NodeCtx, Slot, Value};
use crate::error::QuantizeError;
use crate::float_graph::FloatOp;
use crate::model::TensorId;

/// Fills at or below this are masks (see the module doc).
const MASK_FILL: f64 = -1e4;

/// `scores` where `keep`, a mask fill elsewhere.
#[derive(Debug)]
pub(crate) struct Masked {
    pub scores: TensorId,
    /// `keep` broadcast to the scores' shape, row-major.
    pub keep: Vec<bool>,
}

/// `Where(cond, a, b)` with a constant condition.
pub(super) fn where_op(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let Value::Const(cond) = imp.input(n, 0)? else {
        return Err(n.unsupported("Where with a condition computed at run time is not supported"));
    };
    let (a, b) = (imp.input(n, 1)?, imp.input(n, 2)?);
    let (scores, fill, keep_if) = match (&a, &b) {
        (Value::Const(x), Value::Const(y)) => {
            return fold_where(n, &cond, x, y).map(|c| Value::Const(c).into())
        }
        (Value::Act(s), Value::Const(f)) => (*s, f, true),
        (Value::Const(f), Value::Act(s)) => (*s, f, false),
        (Value::Act(_), Value::Act(_)) => {
            return Err(n.unsupported("Where choosing between two activations is not supported"))
        }
    };
    let shape = imp.shape(scores).to_vec();
    let fill_ok = fill.data.iter().all(|&v| v <= MASK_FILL);
    let keep = cond.broadcast_to(&shape).filter(|_| fill_ok).ok_or_else(|| {
        n.unsupported(
            "Where with a constant condition is supported only as an attention mask: a fill of -1e4 \
             or less, a condition that broadcasts to the scores, feeding a Softmax",
        )
    })?;
    let keep = keep.iter().map(|&c| (c != 0.0) == keep_if).collect();
    Ok(masked(n, shape, scores, keep))
}

/// `scores + bias` where `bias` is 0 or a mask fill, with at least one
/// fill: a mask. `None` if the operands are anything else.
pub(super) fn additive_mask(
    imp: &Importer,
    n: &NodeCtx,
    a: &Slot,
    b: &Slot,
) -> Result<Option<Slot>, QuantizeError> {
    let (scores, bias) = match (a, b) {
        (Slot::Value(Value::Act(s)), Slot::Value(Value::Const(c)))
        | (Slot::Value(Value::Const(c)), Slot::Value(Value::Act(s))) => (*s, c),
        _ => return Ok(None),
    };
    let is_mask = bias.data.iter().all(|&v| v == 0.0 || v <= MASK_FILL)
        && bias.data.iter().any(|&v| v <= MASK_FILL);
    if !is_mask {
        return Ok(None);
    }
    let shape = imp.shape(scores).to_vec();
    let Some(full) = bias.broadcast_to(&shape) else {
        return Ok(None);
    };
    let keep = full.iter().map(|&v| v == 0.0).collect();
    Ok(Some(masked(n, shape, scores, keep)))
}

fn masked(n: &NodeCtx, shape: Vec<usize>, scores: TensorId, keep: Vec<bool>) -> Slot {
    Slot::Pending(Pending::new(
        n.origin(),
        shape,
        PendingKind::Masked(Masked { scores, keep }),
    ))
}

/// A masked tensor needed by something other than a softmax: only a mask
/// that keeps everything can be dropped.
pub(super) fn materialize_mask(p: &Rc<Pending>, m: &Masked) -> Result<TensorId, QuantizeError> {
    if m.keep.iter().all(|&k| k) {
        return Ok(m.scores);
    }
    Err(p.origin.unsupported(
        "a constant attention mask is supported only directly before a Softmax over the last axis",
    ))
}

/// Softmax over the last axis; of masked scores, a causal softmax.
pub(super) fn softmax(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let shape = imp.slot_shape(&imp.slot(n, 0)?);
    let rank = shape.len() as i64;
    let axis = n.attrs().int("axis", -1)?;
    if axis != -1 && axis != rank - 1 {
        return Err(n.unsupported(format!(
            "softmax over axis {axis} of a rank-{rank} tensor; only the last axis is supported"
        )));
    }
    let (x, causal) = match imp.slot(n, 0)? {
        Slot::Pending(p) => match &p.kind {
            PendingKind::Masked(m) => (m.scores, mask_kind(n, &shape, &m.keep)?),
            _ => (imp.materialize(&p)?, false),
        },
        Slot::Value(Value::Act(x)) => (x, false),
        Slot::Value(Value::Const(c)) => return Ok(Value::Const(softmax_const(&c)).into()),
    };
    imp.emit(n, FloatOp::Softmax { causal }, vec![x], shape)
        .map(Slot::Value)
}

/// `false` for a mask that keeps everything, `true` for the causal mask
/// (row `i` of each `[T, T]` matrix keeps columns `0..=i`).
fn mask_kind(n: &NodeCtx, shape: &[usize], keep: &[bool]) -> Result<bool, QuantizeError> {
    if keep.iter().all(|&k| k) {
        return Ok(false);
    }
    let t = *shape.last().unwrap_or(&0);
    let square = shape.len() >= 2 && shape[shape.len() - 2] == t;
    let causal = square
        && keep
            .chunks(t)
            .enumerate()
            .all(|(row, ks)| ks.iter().enumerate().all(|(j, &k)| k == (j <= row % t)));
    if causal {
        Ok(true)
    } else {
        Err(n.unsupported(
            "the constant mask before this Softmax is not causal (lower triangular); only causal masks are supported",
        ))
    }
}

fn softmax_const(c: &ConstTensor) -> ConstTensor {
    let t = (*c.shape.last().unwrap_or(&1)).max(1);
    let data = c
        .data
        .chunks(t)
        .flat_map(|row| {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().map(move |v| v / s)
        })
        .collect();
    ConstTensor {
        shape: c.shape.clone(),
        data,
    }
}

fn fold_where(
    n: &NodeCtx,
    cond: &ConstTensor,
    a: &ConstTensor,
    b: &ConstTensor,
) -> Result<ConstTensor, QuantizeError> {
    use super::tensor::broadcast_shapes;
    let shape = broadcast_shapes(&cond.shape, &a.shape)
        .and_then(|s| broadcast_shapes(&s, &b.shape))
        .ok_or_else(|| n.bad("condition and values do not broadcast"))?;
    let (c, x, y) = (
        cond.broadcast_to(&shape).expect("broadcasts"),
        a.broadcast_to(&shape).expect("broadcasts"),
        b.broadcast_to(&shape).expect("broadcasts"),
    );
    let data = (0..c.len())
        .map(|i| if c[i] != 0.0 { x[i] } else { y[i] })
        .collect();
    Ok(ConstTensor { shape, data })
}
