//! Lowering of each ONNX op to [`FloatOp`]s: the dispatch, and the linear
//! algebra (`Gemm`, `MatMul`, `Relu`). The other families have their own
//! module: `elementwise` (arithmetic, GELU), `layernorm` (reductions, layer
//! norm), `attention` (softmax, masks), `shape_ops` (wiring and shape
//! arithmetic).
//!
//! | ONNX | lowered to |
//! | --- | --- |
//! | `Gemm(A, B, C)` | `Linear` with `weight = alpha * op(B)`, `bias = beta * C` when C is the same for every row; otherwise `Linear` then `AddConst(beta * C)` |
//! | `MatMul(x, W)`, W constant of rank 1 or 2 | `Linear` over x's last axis |
//! | `MatMul(a, b)`, two activations `[.., m, k]`, `[.., k, n]` with equal batch axes | `MatMul` |
//! | `Relu` | `Relu` |
//! | `Identity`, `Dropout` (inference) | nothing: the output names the input's value |

use super::{attention, elementwise, layernorm, shape_ops, Importer, NodeCtx, Slot, Value};
use crate::error::QuantizeError;
use crate::float_graph::FloatOp;
use crate::model::TensorId;

const SUPPORTED: &str = "supported ops: Gemm, MatMul, Add, Sub, Mul, Div (by a constant), Pow (2, 3), Neg, \
                         Relu, Erf, Tanh, Sigmoid, Gelu, Softmax (last axis, optionally causally masked), \
                         LayerNormalization, ReduceMean, ReduceSum, Sqrt and Reciprocal (inside a layer \
                         norm), Where (a causal mask), Gather, Reshape, Flatten, Unsqueeze, Squeeze, \
                         Transpose, Slice, Split, Concat, Expand, Shape, Cast, Constant, ConstantOfShape, \
                         Range, Identity, Dropout";
const NONLINEAR: &str = "this nonlinearity is not supported by the quantizer yet";
const CONV: &str = "convolutional layers are not supported yet";

pub(super) fn lower(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let value = |r: Result<Value, QuantizeError>| r.map(Slot::Value);
    match n.op() {
        "Gemm" => value(gemm(imp, n)),
        "MatMul" => value(matmul(imp, n)),
        "Relu" => value(relu(imp, n)),
        "Add" | "Sub" | "Mul" | "Div" | "Pow" => elementwise::binary(imp, n),
        "Neg" | "Erf" | "Tanh" | "Sigmoid" => elementwise::unary(imp, n),
        "Gelu" => elementwise::gelu(imp, n),
        "Sqrt" | "Reciprocal" => layernorm::sqrt_or_reciprocal(imp, n),
        "ReduceMean" | "ReduceSum" => layernorm::reduce(imp, n),
        "LayerNormalization" => layernorm::layer_normalization(imp, n),
        "Softmax" => attention::softmax(imp, n),
        "Where" => attention::where_op(imp, n),
        "Reshape" => shape_ops::reshape(imp, n),
        "Flatten" => shape_ops::flatten(imp, n),
        "Unsqueeze" => shape_ops::unsqueeze(imp, n),
        "Squeeze" => shape_ops::squeeze(imp, n),
        "Transpose" => shape_ops::transpose(imp, n),
        "Concat" => shape_ops::concat(imp, n),
        "Slice" => shape_ops::slice(imp, n),
        "Gather" => shape_ops::gather(imp, n),
        "Shape" => shape_ops::shape(imp, n),
        "Cast" => shape_ops::cast(imp, n),
        "ConstantOfShape" => shape_ops::constant_of_shape(imp, n),
        "Range" => shape_ops::range(imp, n),
        "Expand" => shape_ops::expand(imp, n),
        "Constant" => shape_ops::constant(n),
        "Identity" | "Dropout" => imp.slot(n, 0),
        "LogSoftmax" | "Exp" | "Log" | "LeakyRelu" | "Elu" | "Selu" | "HardSigmoid"
        | "Softplus" | "Softsign" | "HardSwish" | "Mish" | "Sin" | "Cos" | "Abs" => {
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

/// `x @ W` with W constant: `[.., K] @ [K, N] -> [.., N]`, `[.., K] @ [K] -> [..]`;
/// of two activations, a batched [`FloatOp::MatMul`].
fn matmul(imp: &mut Importer, n: &NodeCtx) -> Result<Value, QuantizeError> {
    let (x, w) = match (imp.input(n, 0)?, imp.input(n, 1)?) {
        (Value::Act(x), Value::Const(w)) => (x, w),
        (Value::Act(a), Value::Act(b)) => return matmul_activations(imp, n, a, b),
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

/// `[.., m, k] @ [.., k, n] -> [.., m, n]`, batch axes equal (no broadcasting).
fn matmul_activations(
    imp: &mut Importer,
    n: &NodeCtx,
    a: TensorId,
    b: TensorId,
) -> Result<Value, QuantizeError> {
    let (sa, sb) = (imp.shape(a).to_vec(), imp.shape(b).to_vec());
    if sa.len() < 2 || sb.len() < 2 {
        return Err(n.unsupported(format!(
            "MatMul of activations {sa:?} and {sb:?}: both must be at least 2-D"
        )));
    }
    let (ra, rb) = (sa.len(), sb.len());
    let (m, k, k2, nn) = (sa[ra - 2], sa[ra - 1], sb[rb - 2], sb[rb - 1]);
    if k != k2 {
        return Err(n.bad(format!("shapes {sa:?} and {sb:?} do not multiply")));
    }
    if sa[..ra - 2] != sb[..rb - 2] {
        return Err(n.unsupported(format!(
            "MatMul of activations {sa:?} and {sb:?}: the batch axes must be equal (no broadcasting)"
        )));
    }
    let mut shape = sa[..ra - 2].to_vec();
    shape.extend([m, nn]);
    imp.emit(n, FloatOp::MatMul { m, k, n: nn }, vec![a, b], shape)
}

fn relu(imp: &mut Importer, n: &NodeCtx) -> Result<Value, QuantizeError> {
    match imp.input(n, 0)? {
        Value::Act(x) => {
            let shape = imp.shape(x).to_vec();
            imp.emit(n, FloatOp::Relu, vec![x], shape)
        }
        Value::Const(c) => Ok(Value::Const(c.map(|v| v.max(0.0)))),
    }
}
