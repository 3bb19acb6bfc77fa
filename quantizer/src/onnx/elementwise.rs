//! Elementwise ops: `Add`, `Sub`, `Mul`, `Div`, `Pow`, `Neg`, `Erf`, `Tanh`,
//! `Sigmoid`, `Gelu`.
//!
//! | operands | lowered to |
//! | --- | --- |
//! | constants only | folded |
//! | one activation `x` (or a pending function of it) and scalars | pending: an expression in `x` |
//! | two activations of one shape | `Add` / `Sub` / `Mul` (division: unsupported) |
//! | an activation and a constant that broadcasts to it | `AddConst` / `AddConst(-c)` / `ConstSub` / `MulConst` / `MulConst(1/c)`; adding 0 or multiplying by 1 is dropped |
//!
//! An expression in one activation is emitted when a consumer needs it. If
//! it is GELU, written out either way (`x·0.5·(1 + erf(x/√2))`, or
//! `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` with `Pow` or `Mul`s), it
//! becomes one `Pointwise` table: one lookup instead of a table, five
//! products and their rescales, and no rounding between the pieces. The
//! check is numerical: the expression, evaluated at 257 points of
//! `[-8, 8]`, must match the function within `1e-5` (the erf and tanh forms
//! differ by up to ~5e-4, far above both that and the f32 rounding of the
//! exporter's constants). Otherwise each node is emitted: `Pow` 2 and 3 as
//! products, `Erf`/`Tanh`/`Sigmoid` as tables.

use std::collections::HashMap;
use std::rc::Rc;

use super::pending::{Origin, Pending, PendingKind};
use super::{attention, layernorm, ConstTensor, Importer, NodeCtx, Slot, Value};
use crate::error::QuantizeError;
use crate::float_graph::{FloatOp, Nonlinearity};
use crate::model::TensorId;
use crate::onnx::tensor::{broadcast_shapes, element_count};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EwOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Neg,
    Erf,
    Tanh,
    Sigmoid,
}

impl EwOp {
    fn from_onnx(op: &str) -> Option<EwOp> {
        Some(match op {
            "Add" => EwOp::Add,
            "Sub" => EwOp::Sub,
            "Mul" => EwOp::Mul,
            "Div" => EwOp::Div,
            "Pow" => EwOp::Pow,
            "Neg" => EwOp::Neg,
            "Erf" => EwOp::Erf,
            "Tanh" => EwOp::Tanh,
            "Sigmoid" => EwOp::Sigmoid,
            _ => return None,
        })
    }

    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            EwOp::Add => a + b,
            EwOp::Sub => a - b,
            EwOp::Mul => a * b,
            EwOp::Div => a / b,
            EwOp::Pow => a.powf(b),
            EwOp::Neg => -a,
            EwOp::Erf => Nonlinearity::Erf.eval(a),
            EwOp::Tanh => a.tanh(),
            EwOp::Sigmoid => Nonlinearity::Sigmoid.eval(a),
        }
    }

    fn table(self) -> Option<Nonlinearity> {
        match self {
            EwOp::Erf => Some(Nonlinearity::Erf),
            EwOp::Tanh => Some(Nonlinearity::Tanh),
            EwOp::Sigmoid => Some(Nonlinearity::Sigmoid),
            _ => None,
        }
    }
}

/// An operand of a pending expression.
#[derive(Clone, Debug)]
pub(crate) enum Operand {
    /// The expression's activation.
    Source,
    Scalar(f64),
    /// A pending sub-expression in the same activation.
    Pending(Rc<Pending>),
}

/// `op(args)`, a function of the activation `source` alone.
#[derive(Debug)]
pub(crate) struct Elementwise {
    pub source: TensorId,
    pub op: EwOp,
    pub args: Vec<Operand>,
}

/// `Add`, `Sub`, `Mul`, `Div`, `Pow`.
pub(super) fn binary(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let op = EwOp::from_onnx(n.op()).expect("dispatched on a binary op");
    let (a, b) = (imp.slot(n, 0)?, imp.slot(n, 1)?);
    if let Some(s) = layernorm::extend_binary(imp, n, op, &a, &b)? {
        return Ok(s);
    }
    if op == EwOp::Add {
        if let Some(s) = attention::additive_mask(imp, n, &a, &b)? {
            return Ok(s);
        }
    }
    if let (Slot::Value(Value::Const(x)), Slot::Value(Value::Const(y))) = (&a, &b) {
        return fold_binary(n, op, x, y).map(|c| Value::Const(c).into());
    }
    if let Some(p) = pending(imp, n, op, &[&a, &b]) {
        return Ok(Slot::Pending(p));
    }
    let (a, b) = (imp.resolve(a)?, imp.resolve(b)?);
    eager(imp, n, op, a, b).map(Slot::Value)
}

/// `Neg`, `Erf`, `Tanh`, `Sigmoid`: folded on constants, pending otherwise.
pub(super) fn unary(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let op = EwOp::from_onnx(n.op()).expect("dispatched on a unary op");
    let x = match imp.slot(n, 0)? {
        Slot::Value(Value::Const(c)) => return Ok(Value::Const(c.map(|v| op.apply(v, 0.0))).into()),
        Slot::Pending(p) if !matches!(p.kind, PendingKind::Elementwise(_)) => {
            Slot::Value(Value::Act(imp.materialize(&p)?))
        }
        other => other,
    };
    pending(imp, n, op, &[&x])
        .map(Slot::Pending)
        .ok_or_else(|| {
            n.unsupported("its input holds integer token ids, which may only index an embedding table (Gather)")
        })
}

/// ONNX `Gelu` (opset 20): one `Pointwise`.
pub(super) fn gelu(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let func = match n.attrs().string("approximate", "none")?.as_str() {
        "none" => Nonlinearity::Gelu,
        "tanh" => Nonlinearity::GeluTanh,
        other => {
            return Err(n.bad(format!(
                "approximate=\"{other}\", expected \"none\" or \"tanh\""
            )))
        }
    };
    match imp.input(n, 0)? {
        Value::Const(c) => Ok(Value::Const(c.map(|v| func.eval(v))).into()),
        Value::Act(x) => {
            let shape = imp.shape(x).to_vec();
            imp.emit(n, FloatOp::Pointwise { func }, vec![x], shape)
                .map(Slot::Value)
        }
    }
}

/// The operands as one pending expression, if they are one activation (or
/// pending expressions in it) and scalar constants.
fn pending(imp: &Importer, n: &NodeCtx, op: EwOp, slots: &[&Slot]) -> Option<Rc<Pending>> {
    let mut source: Option<TensorId> = None;
    let mut same = |id: TensorId| *source.get_or_insert(id) == id;
    let mut args = Vec::with_capacity(slots.len());
    let mut scalar_ranks = Vec::new();
    for slot in slots {
        args.push(match slot {
            Slot::Value(Value::Act(id)) if !imp.is_token_ids(*id) && same(*id) => Operand::Source,
            Slot::Pending(p) => match &p.kind {
                PendingKind::Elementwise(e) if same(e.source) => Operand::Pending(p.clone()),
                _ => return None,
            },
            Slot::Value(Value::Const(c)) => {
                scalar_ranks.push(c.shape.len());
                Operand::Scalar(c.as_scalar()?)
            }
            _ => return None,
        });
    }
    let source = source?;
    let shape = imp.shape(source).to_vec();
    // A scalar of higher rank would broadcast the activation to a new shape.
    if scalar_ranks.iter().any(|&r| r > shape.len()) {
        return None;
    }
    let kind = PendingKind::Elementwise(Elementwise { source, op, args });
    Some(Pending::new(n.origin(), shape, kind))
}

/// Emits a pending expression: fused when it is GELU, op by op otherwise.
pub(super) fn materialize(
    imp: &mut Importer,
    p: &Rc<Pending>,
    e: &Elementwise,
) -> Result<TensorId, QuantizeError> {
    if let Some(func) = recognise(p) {
        let label = match func {
            Nonlinearity::GeluTanh => "GeluTanh (fused)",
            _ => "Gelu (fused)",
        };
        let op = FloatOp::Pointwise { func };
        return imp.push_node(
            &p.origin,
            Some(label),
            "",
            op,
            vec![e.source],
            p.shape.clone(),
        );
    }
    let mut args = Vec::with_capacity(e.args.len());
    for a in &e.args {
        args.push(match a {
            Operand::Source => Arg::Act(e.source),
            Operand::Scalar(v) => Arg::Scalar(*v),
            Operand::Pending(q) => Arg::Act(imp.materialize(q)?),
        });
    }
    emit_one(imp, &p.origin, e.op, &args, &p.shape)
}

#[derive(Clone, Copy)]
enum Arg {
    Act(TensorId),
    Scalar(f64),
}

/// One elementwise node on emitted operands (scalars broadcast to `shape`).
fn emit_one(
    imp: &mut Importer,
    origin: &Origin,
    op: EwOp,
    args: &[Arg],
    shape: &[usize],
) -> Result<TensorId, QuantizeError> {
    let len: usize = shape.iter().product();
    let fill = |c: f64| vec![c; len];
    let mut emit = |op: FloatOp, inputs: Vec<TensorId>| {
        imp.push_node(origin, None, "", op, inputs, shape.to_vec())
    };
    let division = "division by an activation is not supported (only by a constant, or inside a layer normalization)";
    match (op, args) {
        (EwOp::Add, [Arg::Act(a), Arg::Act(b)]) => emit(FloatOp::Add, vec![*a, *b]),
        (EwOp::Sub, [Arg::Act(a), Arg::Act(b)]) => emit(FloatOp::Sub, vec![*a, *b]),
        (EwOp::Mul, [Arg::Act(a), Arg::Act(b)]) => emit(FloatOp::Mul, vec![*a, *b]),
        (EwOp::Add, [Arg::Act(x), Arg::Scalar(c)] | [Arg::Scalar(c), Arg::Act(x)])
        | (EwOp::Sub, [Arg::Act(x), Arg::Scalar(c)]) => {
            let c = if op == EwOp::Sub { -c } else { *c };
            if c == 0.0 {
                return Ok(*x);
            }
            emit(FloatOp::AddConst { constant: fill(c) }, vec![*x])
        }
        (EwOp::Sub, [Arg::Scalar(c), Arg::Act(x)]) => {
            emit(FloatOp::ConstSub { constant: fill(*c) }, vec![*x])
        }
        (EwOp::Neg, [Arg::Act(x)]) => emit(FloatOp::ConstSub { constant: fill(0.0) }, vec![*x]),
        (EwOp::Mul, [Arg::Act(x), Arg::Scalar(c)] | [Arg::Scalar(c), Arg::Act(x)])
        | (EwOp::Div, [Arg::Act(x), Arg::Scalar(c)]) => {
            if op == EwOp::Div && *c == 0.0 {
                return Err(QuantizeError::BadOnnx(format!(
                    "node '{}' ({}): division by the constant 0",
                    origin.node, origin.op
                )));
            }
            let c = if op == EwOp::Div { 1.0 / c } else { *c };
            if c == 1.0 {
                return Ok(*x);
            }
            emit(FloatOp::MulConst { constant: fill(c) }, vec![*x])
        }
        (EwOp::Div, _) => Err(origin.unsupported(division)),
        (EwOp::Pow, [Arg::Act(x), Arg::Scalar(p)]) => match *p {
            1.0 => Ok(*x),
            2.0 => emit(FloatOp::Mul, vec![*x, *x]),
            3.0 => {
                let sq = imp.push_node(origin, None, ":square", FloatOp::Mul, vec![*x, *x], shape.to_vec())?;
                imp.push_node(origin, None, "", FloatOp::Mul, vec![sq, *x], shape.to_vec())
            }
            p => Err(origin.unsupported(format!(
                "Pow with exponent {p}: only exponents 2 and 3 (as products), or the square inside a \
                 layer normalization, are supported"
            ))),
        },
        (EwOp::Pow, _) => Err(origin.unsupported("Pow with a non-constant exponent is not supported")),
        (EwOp::Erf | EwOp::Tanh | EwOp::Sigmoid, [Arg::Act(x)]) => {
            let func = op.table().expect("a table op");
            emit(FloatOp::Pointwise { func }, vec![*x])
        }
        _ => Err(origin.unsupported("unexpected operands for an elementwise op")),
    }
}

/// Nodes in an expression beyond which fusion is not attempted.
const MAX_FUSED_NODES: usize = 64;

/// The nonlinearity a pending expression computes, if it is a GELU.
fn recognise(p: &Rc<Pending>) -> Option<Nonlinearity> {
    let mut nodes = Vec::new();
    collect(p, &mut nodes)?;
    let has_table = nodes.iter().any(|q| {
        matches!(&q.kind, PendingKind::Elementwise(e) if matches!(e.op, EwOp::Erf | EwOp::Tanh))
    });
    if !has_table {
        return None;
    }
    let xs: Vec<f64> = (-128..=128).map(|i| i as f64 / 16.0).collect();
    let mut memo = HashMap::new();
    let ys = evaluate(p, &xs, &mut memo);
    [Nonlinearity::Gelu, Nonlinearity::GeluTanh]
        .into_iter()
        .find(|f| {
            xs.iter()
                .zip(&ys)
                .all(|(&x, &y)| (f.eval(x) - y).abs() <= 1e-5)
        })
}

/// The distinct pending nodes of an expression, `None` past the limit.
fn collect(p: &Rc<Pending>, seen: &mut Vec<Rc<Pending>>) -> Option<()> {
    if seen.iter().any(|q| Rc::ptr_eq(q, p)) {
        return Some(());
    }
    if seen.len() >= MAX_FUSED_NODES {
        return None;
    }
    seen.push(p.clone());
    let PendingKind::Elementwise(e) = &p.kind else {
        return None;
    };
    for a in &e.args {
        if let Operand::Pending(q) = a {
            collect(q, seen)?;
        }
    }
    Some(())
}

fn evaluate(p: &Rc<Pending>, xs: &[f64], memo: &mut HashMap<*const Pending, Vec<f64>>) -> Vec<f64> {
    if let Some(v) = memo.get(&Rc::as_ptr(p)) {
        return v.clone();
    }
    let PendingKind::Elementwise(e) = &p.kind else {
        unreachable!("collect() admits elementwise nodes only");
    };
    let args: Vec<Vec<f64>> = e
        .args
        .iter()
        .map(|a| match a {
            Operand::Source => xs.to_vec(),
            Operand::Scalar(c) => vec![*c; xs.len()],
            Operand::Pending(q) => evaluate(q, xs, memo),
        })
        .collect();
    let out: Vec<f64> = (0..xs.len())
        .map(|i| e.op.apply(args[0][i], args.get(1).map_or(0.0, |b| b[i])))
        .collect();
    memo.insert(Rc::as_ptr(p), out.clone());
    out
}

/// Two emitted operands (pending ones already materialized).
fn eager(
    imp: &mut Importer,
    n: &NodeCtx,
    op: EwOp,
    a: Value,
    b: Value,
) -> Result<Value, QuantizeError> {
    match (a, b) {
        (Value::Const(a), Value::Const(b)) => fold_binary(n, op, &a, &b).map(Value::Const),
        (Value::Act(a), Value::Act(b)) => {
            let (sa, sb) = (imp.shape(a).to_vec(), imp.shape(b).to_vec());
            if sa != sb {
                return Err(n.unsupported(format!(
                    "operands of shapes {sa:?} and {sb:?}: broadcasting between two activations is not supported"
                )));
            }
            let float_op = match op {
                EwOp::Add => FloatOp::Add,
                EwOp::Sub => FloatOp::Sub,
                EwOp::Mul => FloatOp::Mul,
                EwOp::Div => {
                    return Err(n.unsupported(
                        "division by an activation is not supported (only by a constant, or inside a layer normalization)",
                    ))
                }
                _ => return Err(n.unsupported("an activation as the exponent is not supported")),
            };
            imp.emit(n, float_op, vec![a, b], sa)
        }
        (Value::Act(x), Value::Const(c)) => with_constant(imp, n, op, x, &c, false),
        (Value::Const(c), Value::Act(x)) => with_constant(imp, n, op, x, &c, true),
    }
}

/// `x op c` (or `c op x` when `const_first`), `c` broadcast to x's shape.
fn with_constant(
    imp: &mut Importer,
    n: &NodeCtx,
    op: EwOp,
    x: TensorId,
    c: &ConstTensor,
    const_first: bool,
) -> Result<Value, QuantizeError> {
    let shape = imp.shape(x).to_vec();
    let Some(out_shape) = broadcast_shapes(&shape, &c.shape) else {
        return Err(n.bad(format!(
            "shapes {shape:?} and {:?} do not broadcast",
            c.shape
        )));
    };
    let Some(c) = c.broadcast_to(&shape) else {
        return Err(n.unsupported(format!(
            "the constant of shape {:?} would broadcast the activation {shape:?} to {out_shape:?}; \
             only constants that broadcast to the activation's shape are supported",
            c.shape
        )));
    };
    let float_op = match (op, const_first) {
        (EwOp::Add, _) | (EwOp::Sub, false) if c.iter().all(|&v| v == 0.0) => {
            return Ok(Value::Act(x));
        }
        (EwOp::Add, _) => FloatOp::AddConst { constant: c },
        (EwOp::Sub, false) => FloatOp::AddConst {
            constant: c.iter().map(|v| -v).collect(),
        },
        (EwOp::Sub, true) => FloatOp::ConstSub { constant: c },
        (EwOp::Mul, _) if c.iter().all(|&v| v == 1.0) => return Ok(Value::Act(x)),
        (EwOp::Mul, _) => FloatOp::MulConst { constant: c },
        (EwOp::Div, false) => {
            if c.contains(&0.0) {
                return Err(n.bad("division by a constant that contains 0"));
            }
            FloatOp::MulConst {
                constant: c.iter().map(|v| 1.0 / v).collect(),
            }
        }
        (EwOp::Div, true) => {
            return Err(n.unsupported(
                "division by an activation is not supported (only by a constant, or inside a layer normalization)",
            ))
        }
        _ => {
            return Err(n.unsupported(
                "Pow with an exponent that varies per element is not supported; only a scalar 2 or 3",
            ))
        }
    };
    imp.emit(n, float_op, vec![x], shape)
}

pub(super) fn fold_binary(
    n: &NodeCtx,
    op: EwOp,
    a: &ConstTensor,
    b: &ConstTensor,
) -> Result<ConstTensor, QuantizeError> {
    let shape = broadcast_shapes(&a.shape, &b.shape).ok_or_else(|| {
        n.bad(format!(
            "shapes {:?} and {:?} do not broadcast",
            a.shape, b.shape
        ))
    })?;
    element_count(&shape, &n.label)?;
    let (fa, fb) = (
        a.broadcast_to(&shape).expect("broadcasts"),
        b.broadcast_to(&shape).expect("broadcasts"),
    );
    let data: Vec<f64> = fa.iter().zip(&fb).map(|(&x, &y)| op.apply(x, y)).collect();
    if data.iter().any(|v| v.is_nan()) {
        return Err(n.bad("folding this constant expression gives NaN"));
    }
    Ok(ConstTensor { shape, data })
}
