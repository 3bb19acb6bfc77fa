//! Lowering of each supported ONNX op to [`FloatOp`]s.
//!
//! | ONNX | lowered to |
//! | --- | --- |
//! | `Gemm(A, B, C)` | `Linear` with `weight = alpha * op(B)`, `bias = beta * C` when C is the same for every row; otherwise `Linear` then `AddConst(beta * C)` |
//! | `MatMul(x, W)`, W constant of rank 1 or 2 | `Linear` over x's last axis |
//! | `Add`/`Sub`/`Mul` of two activations of one shape | `Add`/`Sub`/`Mul` |
//! | `Add`/`Sub`/`Mul`/`Div` with one constant | `AddConst`/`AddConst(-c)` or `ConstSub`/`MulConst`/`MulConst(1/c)` |
//! | `Relu` | `Relu` |
//! | `Reshape` (constant shape), `Flatten` | `Reshape` |
//! | `Identity` | nothing: the output names the input's tensor |
//! | `Constant`, `Transpose` of a constant, any op on constants only | folded |

use super::{ConstTensor, Importer, NodeCtx, Value};
use crate::error::QuantizeError;
use crate::float_graph::FloatOp;
use crate::onnx::tensor::{broadcast_shapes, element_count};

const SUPPORTED: &str = "supported ops: Gemm, MatMul (constant right operand), Add, Sub, Mul, Div (by a \
                         constant), Relu, Reshape, Flatten, Identity, Constant, Transpose (of constants)";
const NONLINEAR: &str = "nonlinearities other than Relu are not supported by the quantizer yet";
const CONV: &str = "convolutional layers are not supported yet";

pub(super) fn lower(imp: &mut Importer, n: &NodeCtx) -> Result<Value, QuantizeError> {
    match n.op() {
        "Gemm" => gemm(imp, n),
        "MatMul" => matmul(imp, n),
        "Add" | "Sub" | "Mul" | "Div" => binary(imp, n),
        "Relu" => relu(imp, n),
        "Reshape" => reshape(imp, n),
        "Flatten" => flatten(imp, n),
        "Identity" => imp.input(n, 0),
        "Constant" => constant(n).map(Value::Const),
        "Transpose" => transpose(imp, n),
        "Sigmoid" | "Tanh" | "Softmax" | "LogSoftmax" | "Gelu" | "Erf" | "Exp" | "Log" | "Sqrt"
        | "Pow" | "LeakyRelu" | "Elu" | "Selu" | "HardSigmoid" | "Softplus" => {
            Err(n.unsupported(format!("{NONLINEAR}; {SUPPORTED}")))
        }
        "Conv" | "ConvTranspose" | "MaxPool" | "AveragePool" | "GlobalAveragePool"
        | "BatchNormalization" => Err(n.unsupported(format!("{CONV}; {SUPPORTED}"))),
        _ => Err(n.unsupported(SUPPORTED)),
    }
}

/// `Y = alpha * A * op(B) + beta * C`, A an activation `[M, K]`, B and C constant.
fn gemm(imp: &mut Importer, n: &NodeCtx) -> Result<Value, QuantizeError> {
    let attrs = n.attrs();
    let alpha = attrs.float("alpha", 1.0)? as f64;
    let beta = attrs.float("beta", 1.0)? as f64;
    if attrs.int("transA", 0)? != 0 {
        return Err(
            n.unsupported("transA=1 is not supported; transpose the input before the layer")
        );
    }
    let trans_b = match attrs.int("transB", 0)? {
        0 => false,
        1 => true,
        v => return Err(n.bad(format!("transB={v}, expected 0 or 1"))),
    };
    let Value::Act(a) = imp.input(n, 0)? else {
        return Err(n.unsupported("Gemm with a constant A is not supported (nothing to prove)"));
    };
    let Value::Const(b) = imp.input(n, 1)? else {
        return Err(n.unsupported(
            "Gemm needs a constant B (the weights); a Gemm of two activations is not supported yet",
        ));
    };
    let a_shape = imp.shape(a).to_vec();
    if a_shape.len() != 2 || b.shape.len() != 2 {
        return Err(n.bad(format!(
            "A {a_shape:?} and B {:?} must both be 2-D",
            b.shape
        )));
    }
    let (m, k) = (a_shape[0], a_shape[1]);
    let (bk, out) = if trans_b {
        (b.shape[1], b.shape[0])
    } else {
        (b.shape[0], b.shape[1])
    };
    if bk != k {
        return Err(n.bad(format!(
            "A {a_shape:?} and B {:?} (transB={}) do not multiply",
            b.shape, trans_b as u8
        )));
    }
    let mut weight = vec![0.0; k * out];
    for kk in 0..k {
        for j in 0..out {
            let v = if trans_b {
                b.data[j * k + kk]
            } else {
                b.data[kk * out + j]
            };
            weight[kk * out + j] = alpha * v;
        }
    }
    let c = match imp.optional_input(n, 2)? {
        None => None,
        Some(Value::Const(c)) => Some(c),
        Some(Value::Act(_)) => {
            return Err(n.unsupported("Gemm with a non-constant C is not supported"))
        }
    };
    let shape = vec![m, out];
    let Some(c) = c.filter(|_| beta != 0.0) else {
        return imp.emit(n, linear(k, out, weight, None), vec![a], shape);
    };
    // C broadcasts to [M, N]; it is a per-column bias when its row axis is 1
    // (or absent), which is what every exporter writes for nn.Linear.
    let full = c.broadcast_to(&shape).ok_or_else(|| {
        n.bad(format!(
            "C {:?} does not broadcast to the output shape {shape:?}",
            c.shape
        ))
    })?;
    let per_row = c.shape.len() < 2 || c.shape[0] == 1;
    if per_row {
        let bias = full[..out].iter().map(|v| beta * v).collect();
        return imp.emit(n, linear(k, out, weight, Some(bias)), vec![a], shape);
    }
    let product = imp.emit_part(
        n,
        ":matmul",
        linear(k, out, weight, None),
        vec![a],
        shape.clone(),
    )?;
    let constant = full.iter().map(|v| beta * v).collect();
    imp.emit(n, FloatOp::AddConst { constant }, vec![product], shape)
}

fn linear(
    in_features: usize,
    out_features: usize,
    weight: Vec<f64>,
    bias: Option<Vec<f64>>,
) -> FloatOp {
    FloatOp::Linear {
        in_features,
        out_features,
        weight,
        bias,
    }
}

/// `x @ W` with W constant: `[.., K] @ [K, N] -> [.., N]`, `[.., K] @ [K] -> [..]`.
fn matmul(imp: &mut Importer, n: &NodeCtx) -> Result<Value, QuantizeError> {
    let (x, w) = match (imp.input(n, 0)?, imp.input(n, 1)?) {
        (Value::Act(x), Value::Const(w)) => (x, w),
        (Value::Act(_), Value::Act(_)) => {
            return Err(n.unsupported("MatMul between two activations is not supported yet"))
        }
        (Value::Const(_), Value::Act(_)) => {
            return Err(n.unsupported(
                "MatMul with a constant left operand is not supported yet; write x @ W with the weights on the right",
            ))
        }
        (Value::Const(_), Value::Const(_)) => {
            return Err(n.unsupported("MatMul of two constants; fold it before export (e.g. with onnxsim)"))
        }
    };
    let x_shape = imp.shape(x).to_vec();
    let Some(&k) = x_shape.last() else {
        return Err(n.bad("the left operand is a scalar"));
    };
    let (wk, out) = match w.shape[..] {
        [wk, out] => (wk, Some(out)),
        [wk] => (wk, None),
        _ => {
            return Err(n.unsupported(format!(
                "the constant right operand has shape {:?}; only 1-D or 2-D weights are supported",
                w.shape
            )))
        }
    };
    if wk != k {
        return Err(n.bad(format!(
            "shapes {x_shape:?} and {:?} do not multiply",
            w.shape
        )));
    }
    let mut shape = x_shape[..x_shape.len() - 1].to_vec();
    shape.extend(out);
    imp.emit(n, linear(k, out.unwrap_or(1), w.data, None), vec![x], shape)
}

#[derive(Clone, Copy)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

impl Arith {
    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Arith::Add => a + b,
            Arith::Sub => a - b,
            Arith::Mul => a * b,
            Arith::Div => a / b,
        }
    }
}

/// Element-wise arithmetic; see the module table.
fn binary(imp: &mut Importer, n: &NodeCtx) -> Result<Value, QuantizeError> {
    let op = match n.op() {
        "Add" => Arith::Add,
        "Sub" => Arith::Sub,
        "Mul" => Arith::Mul,
        _ => Arith::Div,
    };
    match (imp.input(n, 0)?, imp.input(n, 1)?) {
        (Value::Const(a), Value::Const(b)) => fold_binary(n, op, &a, &b).map(Value::Const),
        (Value::Act(a), Value::Act(b)) => {
            let (sa, sb) = (imp.shape(a).to_vec(), imp.shape(b).to_vec());
            if sa != sb {
                return Err(n.unsupported(format!(
                    "operands of shapes {sa:?} and {sb:?}: broadcasting between two activations is not supported"
                )));
            }
            let float_op = match op {
                Arith::Add => FloatOp::Add,
                Arith::Sub => FloatOp::Sub,
                Arith::Mul => FloatOp::Mul,
                Arith::Div => {
                    return Err(n.unsupported("division by an activation is not supported"))
                }
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
    op: Arith,
    x: usize,
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
        (Arith::Add, _) => FloatOp::AddConst { constant: c },
        (Arith::Sub, false) => FloatOp::AddConst {
            constant: c.iter().map(|v| -v).collect(),
        },
        (Arith::Sub, true) => FloatOp::ConstSub { constant: c },
        (Arith::Mul, _) => FloatOp::MulConst { constant: c },
        (Arith::Div, false) => {
            if c.contains(&0.0) {
                return Err(n.bad("division by a constant that contains 0"));
            }
            FloatOp::MulConst {
                constant: c.iter().map(|v| 1.0 / v).collect(),
            }
        }
        (Arith::Div, true) => {
            return Err(n.unsupported("division by an activation is not supported"))
        }
    };
    imp.emit(n, float_op, vec![x], shape)
}

fn fold_binary(
    n: &NodeCtx,
    op: Arith,
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
    if data.iter().any(|v| !v.is_finite()) {
        return Err(n.bad("folding this constant expression gives a value that is not finite"));
    }
    Ok(ConstTensor { shape, data })
}

fn relu(imp: &mut Importer, n: &NodeCtx) -> Result<Value, QuantizeError> {
    match imp.input(n, 0)? {
        Value::Act(x) => {
            let shape = imp.shape(x).to_vec();
            imp.emit(n, FloatOp::Relu, vec![x], shape)
        }
        Value::Const(c) => Ok(Value::Const(ConstTensor {
            shape: c.shape,
            data: c.data.iter().map(|v| v.max(0.0)).collect(),
        })),
    }
}

/// ONNX Reshape semantics: `-1` is inferred from the element count (at most
/// one), `0` copies the input's dimension unless `allowzero=1`.
fn reshape(imp: &mut Importer, n: &NodeCtx) -> Result<Value, QuantizeError> {
    let data = imp.input(n, 0)?;
    let Value::Const(target) = imp.input(n, 1)? else {
        return Err(n.unsupported("the target shape must be a constant"));
    };
    let target = target.to_ints(&n.label)?;
    let allow_zero = n.attrs().int("allowzero", 0)? != 0;
    let in_shape = value_shape(imp, &data);
    let count: usize = in_shape.iter().product();
    let mut shape = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        shape.push(match d {
            0 if !allow_zero => *in_shape.get(i).ok_or_else(|| {
                n.bad(format!(
                    "shape entry {i} is 0 but the input has rank {}",
                    in_shape.len()
                ))
            })?,
            -1 if infer.is_none() => {
                infer = Some(i);
                1
            }
            -1 => return Err(n.bad("more than one -1 in the target shape")),
            d if d >= 0 => d as usize,
            d => return Err(n.bad(format!("invalid target dimension {d}"))),
        });
    }
    let known = element_count(&shape, &n.label)?;
    if let Some(i) = infer {
        if known == 0 || !count.is_multiple_of(known) {
            return Err(n.bad(format!("cannot reshape {in_shape:?} to {target:?}")));
        }
        shape[i] = count / known;
    }
    if shape.iter().product::<usize>() != count {
        return Err(n.bad(format!(
            "cannot reshape {in_shape:?} ({count} values) to {shape:?}"
        )));
    }
    reshape_value(imp, n, data, shape)
}

/// `[d0, .., dn] -> [d0 * .. * d(axis-1), d(axis) * .. * dn]`.
fn flatten(imp: &mut Importer, n: &NodeCtx) -> Result<Value, QuantizeError> {
    let data = imp.input(n, 0)?;
    let in_shape = value_shape(imp, &data);
    let rank = in_shape.len() as i64;
    let axis = n.attrs().int("axis", 1)?;
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..=rank).contains(&axis) {
        return Err(n.bad(format!("axis {axis} out of range for rank {rank}")));
    }
    let (head, tail) = in_shape.split_at(axis as usize);
    let shape = vec![head.iter().product(), tail.iter().product()];
    reshape_value(imp, n, data, shape)
}

fn value_shape(imp: &Importer, v: &Value) -> Vec<usize> {
    match v {
        Value::Act(id) => imp.shape(*id).to_vec(),
        Value::Const(c) => c.shape.clone(),
    }
}

fn reshape_value(
    imp: &mut Importer,
    n: &NodeCtx,
    data: Value,
    shape: Vec<usize>,
) -> Result<Value, QuantizeError> {
    match data {
        Value::Act(x) => imp.emit(n, FloatOp::Reshape, vec![x], shape),
        Value::Const(c) => Ok(Value::Const(ConstTensor {
            shape,
            data: c.data,
        })),
    }
}

fn constant(n: &NodeCtx) -> Result<ConstTensor, QuantizeError> {
    let attrs = n.attrs();
    if let Some(t) = attrs.tensor("value")? {
        return ConstTensor::from_proto(t, &n.label);
    }
    if attrs.has("value_float") {
        return Ok(ConstTensor::scalar(attrs.float("value_float", 0.0)? as f64));
    }
    if attrs.has("value_int") {
        return Ok(ConstTensor::scalar(attrs.int("value_int", 0)? as f64));
    }
    let vector = |data: Vec<f64>| ConstTensor {
        shape: vec![data.len()],
        data,
    };
    if let Some(v) = attrs.floats("value_floats")? {
        return Ok(vector(v.iter().map(|&x| x as f64).collect()));
    }
    if let Some(v) = attrs.ints("value_ints")? {
        return Ok(vector(v.iter().map(|&x| x as f64).collect()));
    }
    Err(n.unsupported("only tensor, float and int values are supported in Constant nodes"))
}

/// Transposes of constants are folded (exporters emit them for weights).
fn transpose(imp: &mut Importer, n: &NodeCtx) -> Result<Value, QuantizeError> {
    let Value::Const(c) = imp.input(n, 0)? else {
        return Err(
            n.unsupported("Transpose of an activation is not supported yet, only of constants")
        );
    };
    let rank = c.shape.len();
    let perm: Vec<usize> = match n.attrs().ints("perm")? {
        None => (0..rank).rev().collect(),
        Some(p) => p
            .iter()
            .map(|&a| (if a < 0 { a + rank as i64 } else { a }) as usize)
            .collect(),
    };
    let mut seen = vec![false; rank];
    for &p in &perm {
        if p >= rank || std::mem::replace(&mut seen[p], true) {
            return Err(n.bad(format!("perm {perm:?} is not a permutation of 0..{rank}")));
        }
    }
    if perm.len() != rank {
        return Err(n.bad(format!("perm {perm:?} is not a permutation of 0..{rank}")));
    }
    Ok(Value::Const(c.transpose(&perm)))
}
