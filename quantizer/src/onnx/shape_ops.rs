//! Ops that move values without computing: reshapes, transposes, slices,
//! concatenation, gathers, and the shape arithmetic exporters record.
//!
//! | ONNX | on an activation | on constants |
//! | --- | --- | --- |
//! | `Reshape` (constant shape), `Flatten`, `Unsqueeze`, `Squeeze` | `Reshape` (none if the shape is unchanged) | folded |
//! | `Transpose` | `Transpose` | folded |
//! | `Slice` (constant starts/ends/axes, steps 1), `Split` | one `Slice` per cut axis / output | folded |
//! | `Concat` | `Concat` (all inputs activations) | folded |
//! | `Gather(table, ids)` | `Gather`: `table` a constant `[vocab, dim]`, `ids` token ids | folded |
//! | `Gather(x, i)`, `i` a constant scalar or a run `a, a+1, ..` | `Slice` (+ `Reshape` for a scalar) | folded |
//! | `Shape` | a constant: shapes are static | |
//! | `Cast` to a float type (or ids to an integer type) | nothing | converted |
//! | `Expand` | nothing if the shape is unchanged | folded |
//! | `Constant`, `ConstantOfShape`, `Range` | | constants |
//!
//! Wiring ops cost no arithmetic in the circuit: their output cells are
//! copies of input cells (`crate::wiring`).

use tract_onnx::pb::tensor_proto::DataType;

use super::pending::Origin;
use super::{ConstTensor, Importer, NodeCtx, Slot, Value};
use crate::error::QuantizeError;
use crate::float_graph::FloatOp;
use crate::model::TensorId;
use crate::onnx::tensor::{broadcast_shapes, element_count};

/// `a` normalized against `rank` (negative counts from the end).
fn axis(n: &NodeCtx, a: i64, rank: usize) -> Result<usize, QuantizeError> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r).contains(&v) {
        Ok(v as usize)
    } else {
        Err(n.bad(format!("axis {a} out of range for rank {rank}")))
    }
}

/// The value under a new shape (same element count).
fn reshape_to(
    imp: &mut Importer,
    n: &NodeCtx,
    data: Slot,
    shape: Vec<usize>,
) -> Result<Slot, QuantizeError> {
    match imp.resolve(data)? {
        Value::Const(c) => Ok(Value::Const(c.reshaped(shape)).into()),
        Value::Act(x) if imp.shape(x) == shape.as_slice() => Ok(Value::Act(x).into()),
        Value::Act(x) => imp
            .emit(n, FloatOp::Reshape, vec![x], shape)
            .map(Slot::Value),
    }
}

/// ONNX Reshape semantics: `-1` is inferred from the element count (at most
/// one), `0` copies the input's dimension unless `allowzero=1`.
pub(super) fn reshape(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let data = imp.slot(n, 0)?;
    let Slot::Value(Value::Const(target)) = imp.slot(n, 1)? else {
        return Err(n.unsupported("the target shape must be a constant"));
    };
    let target = target.to_ints(&n.label)?;
    let allow_zero = n.attrs().int("allowzero", 0)? != 0;
    let in_shape = imp.slot_shape(&data);
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
    reshape_to(imp, n, data, shape)
}

/// `[d0, .., dn] -> [d0 * .. * d(axis-1), d(axis) * .. * dn]`.
pub(super) fn flatten(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let data = imp.slot(n, 0)?;
    let in_shape = imp.slot_shape(&data);
    let rank = in_shape.len() as i64;
    let a = n.attrs().int("axis", 1)?;
    let a = if a < 0 { a + rank } else { a };
    if !(0..=rank).contains(&a) {
        return Err(n.bad(format!("axis {a} out of range for rank {rank}")));
    }
    let (head, tail) = in_shape.split_at(a as usize);
    let shape = vec![head.iter().product(), tail.iter().product()];
    reshape_to(imp, n, data, shape)
}

/// The `axes` of Unsqueeze/Squeeze: an input from opset 13, an attribute before.
fn axes_operand(imp: &mut Importer, n: &NodeCtx) -> Result<Option<Vec<i64>>, QuantizeError> {
    if let Some(a) = n.attrs().ints("axes")? {
        return Ok(Some(a.to_vec()));
    }
    match imp.optional_slot(n, 1)? {
        None => Ok(None),
        Some(Slot::Value(Value::Const(c))) => c.to_ints(&n.label).map(Some),
        Some(_) => Err(n.unsupported("the axes must be a constant")),
    }
}

pub(super) fn unsqueeze(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let data = imp.slot(n, 0)?;
    let mut shape = imp.slot_shape(&data);
    let axes = axes_operand(imp, n)?.ok_or_else(|| n.bad("no axes"))?;
    let out_rank = shape.len() + axes.len();
    let mut axes = axes
        .iter()
        .map(|&a| axis(n, a, out_rank))
        .collect::<Result<Vec<_>, _>>()?;
    axes.sort_unstable();
    for a in axes {
        shape.insert(a, 1);
    }
    reshape_to(imp, n, data, shape)
}

pub(super) fn squeeze(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let data = imp.slot(n, 0)?;
    let in_shape = imp.slot_shape(&data);
    let drop: Vec<usize> = match axes_operand(imp, n)? {
        None => (0..in_shape.len()).filter(|&a| in_shape[a] == 1).collect(),
        Some(axes) => axes
            .iter()
            .map(|&a| axis(n, a, in_shape.len()))
            .collect::<Result<_, _>>()?,
    };
    if let Some(&a) = drop.iter().find(|&&a| in_shape[a] != 1) {
        return Err(n.bad(format!("cannot squeeze axis {a} of size {}", in_shape[a])));
    }
    let shape = (0..in_shape.len())
        .filter(|a| !drop.contains(a))
        .map(|a| in_shape[a])
        .collect();
    reshape_to(imp, n, data, shape)
}

pub(super) fn transpose(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let data = imp.input(n, 0)?;
    let in_shape = match &data {
        Value::Act(x) => imp.shape(*x).to_vec(),
        Value::Const(c) => c.shape.clone(),
    };
    let rank = in_shape.len();
    let perm: Vec<usize> = match n.attrs().ints("perm")? {
        None => (0..rank).rev().collect(),
        Some(p) => p
            .iter()
            .map(|&a| axis(n, a, rank))
            .collect::<Result<_, _>>()?,
    };
    let mut seen = vec![false; rank];
    if perm.len() != rank || perm.iter().any(|&p| std::mem::replace(&mut seen[p], true)) {
        return Err(n.bad(format!("perm {perm:?} is not a permutation of 0..{rank}")));
    }
    match data {
        Value::Const(c) => Ok(Value::Const(c.transpose(&perm)).into()),
        Value::Act(x) if perm.iter().enumerate().all(|(i, &p)| i == p) => Ok(Value::Act(x).into()),
        Value::Act(x) => {
            let shape = perm.iter().map(|&p| in_shape[p]).collect();
            imp.emit(n, FloatOp::Transpose { perm }, vec![x], shape)
                .map(Slot::Value)
        }
    }
}

pub(super) fn concat(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let mut parts = Vec::with_capacity(n.proto.input.len());
    for i in 0..n.proto.input.len() {
        parts.push(imp.input(n, i)?);
    }
    let shapes: Vec<Vec<usize>> = parts
        .iter()
        .map(|p| match p {
            Value::Act(x) => imp.shape(*x).to_vec(),
            Value::Const(c) => c.shape.clone(),
        })
        .collect();
    let Some(first) = shapes.first() else {
        return Err(n.bad("no inputs"));
    };
    let a = axis(n, n.attrs().int("axis", 0)?, first.len())?;
    let fits = shapes
        .iter()
        .all(|s| s.len() == first.len() && (0..s.len()).all(|i| i == a || s[i] == first[i]));
    if !fits {
        return Err(n.bad(format!(
            "shapes {shapes:?} do not concatenate along axis {a}"
        )));
    }
    if parts.iter().all(|p| matches!(p, Value::Const(_))) {
        let consts: Vec<ConstTensor> = parts
            .into_iter()
            .map(|p| match p {
                Value::Const(c) => c,
                Value::Act(_) => unreachable!("all constants"),
            })
            .collect();
        return Ok(Value::Const(ConstTensor::concat(&consts, a)).into());
    }
    let ids: Vec<TensorId> = parts
        .iter()
        .map(|p| match p {
            Value::Act(x) => Ok(*x),
            Value::Const(_) => Err(n.unsupported(
                "Concat of activations with constants is not supported (e.g. a key/value cache); \
                 all inputs must be activations",
            )),
        })
        .collect::<Result<_, _>>()?;
    let mut shape = first.clone();
    shape[a] = shapes.iter().map(|s| s[a]).sum();
    imp.emit(n, FloatOp::Concat { axis: a }, ids, shape)
        .map(Slot::Value)
}

/// `Split`: one value per output, each a `Slice` of the input.
pub(super) fn split(imp: &mut Importer, n: &NodeCtx) -> Result<Vec<Slot>, QuantizeError> {
    let data = imp.input(n, 0)?;
    let in_shape = match &data {
        Value::Act(x) => imp.shape(*x).to_vec(),
        Value::Const(c) => c.shape.clone(),
    };
    let attrs = n.attrs();
    let a = axis(n, attrs.int("axis", 0)?, in_shape.len())?;
    let outputs = n.proto.output.len();
    let sizes: Vec<usize> = match (attrs.ints("split")?, imp.optional_slot(n, 1)?) {
        (Some(s), _) => s.iter().map(|&v| v.max(0) as usize).collect(),
        (None, Some(Slot::Value(Value::Const(c)))) => c
            .to_ints(&n.label)?
            .iter()
            .map(|&v| v.max(0) as usize)
            .collect(),
        (None, Some(_)) => return Err(n.unsupported("the split sizes must be a constant")),
        (None, None) => {
            let parts = attrs.int("num_outputs", outputs as i64)?.max(1) as usize;
            let each = in_shape[a].div_ceil(parts);
            (0..parts)
                .map(|i| each.min(in_shape[a].saturating_sub(i * each)))
                .collect()
        }
    };
    if sizes.len() != outputs || sizes.iter().sum::<usize>() != in_shape[a] || sizes.contains(&0) {
        return Err(n.bad(format!(
            "split sizes {sizes:?} do not cut axis {a} ({}) into {outputs} non-empty parts",
            in_shape[a]
        )));
    }
    let mut start = 0;
    let mut out = Vec::with_capacity(outputs);
    for (i, &size) in sizes.iter().enumerate() {
        let (s, e) = (start, start + size);
        start = e;
        out.push(match &data {
            Value::Const(c) => Value::Const(c.slice(a, s, e)).into(),
            Value::Act(x) => {
                let origin = Origin {
                    node: format!("{}:{i}", n.name),
                    op: n.op().to_string(),
                    output: n.proto.output[i].clone(),
                };
                let mut shape = in_shape.clone();
                shape[a] = size;
                let op = FloatOp::Slice {
                    axis: a,
                    start: s,
                    end: e,
                };
                Value::Act(imp.push_node(&origin, None, "", op, vec![*x], shape)?).into()
            }
        });
    }
    Ok(out)
}

/// `Slice` with constant starts, ends and axes, and steps of 1.
pub(super) fn slice(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let data = imp.input(n, 0)?;
    let in_shape = match &data {
        Value::Act(x) => imp.shape(*x).to_vec(),
        Value::Const(c) => c.shape.clone(),
    };
    let rank = in_shape.len();
    let ints =
        |imp: &mut Importer, i: usize, what: &str| -> Result<Option<Vec<i64>>, QuantizeError> {
            match imp.optional_slot(n, i)? {
                None => Ok(None),
                Some(Slot::Value(Value::Const(c))) => c.to_ints(&n.label).map(Some),
                Some(_) => Err(n.unsupported(format!("the {what} must be constants"))),
            }
        };
    let starts = ints(imp, 1, "starts")?.ok_or_else(|| n.bad("no starts"))?;
    let ends = ints(imp, 2, "ends")?.ok_or_else(|| n.bad("no ends"))?;
    let axes = ints(imp, 3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = ints(imp, 4, "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(n.bad("starts, ends, axes and steps differ in length"));
    }
    if let Some(s) = steps.iter().find(|&&s| s != 1) {
        return Err(n.unsupported(format!("step {s}; only slices with step 1 are supported")));
    }
    let mut cuts = Vec::new();
    for k in 0..starts.len() {
        let a = axis(n, axes[k], rank)?;
        let dim = in_shape[a] as i64;
        let clamp = |v: i64| (if v < 0 { v + dim } else { v }).clamp(0, dim) as usize;
        let (s, e) = (clamp(starts[k]), clamp(ends[k]));
        if e <= s {
            return Err(n.unsupported(format!("an empty slice {s}..{e} of axis {a}")));
        }
        if (s, e) != (0, in_shape[a]) {
            cuts.push((a, s, e));
        }
    }
    let mut x = match data {
        Value::Const(mut c) => {
            for (a, s, e) in cuts {
                c = c.slice(a, s, e);
            }
            return Ok(Value::Const(c).into());
        }
        Value::Act(x) => x,
    };
    let mut shape = in_shape;
    for (i, &(a, s, e)) in cuts.iter().enumerate() {
        shape[a] = e - s;
        let op = FloatOp::Slice {
            axis: a,
            start: s,
            end: e,
        };
        x = if i + 1 == cuts.len() {
            match imp.emit(n, op, vec![x], shape.clone())? {
                Value::Act(id) => id,
                Value::Const(_) => unreachable!("emit makes a tensor"),
            }
        } else {
            imp.emit_part(n, &format!(":axis{a}"), op, vec![x], shape.clone())?
        };
    }
    Ok(Value::Act(x).into())
}

/// Embedding lookups, constant indexing and folding; see the module table.
pub(super) fn gather(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let (data, indices) = (imp.input(n, 0)?, imp.input(n, 1)?);
    let data_shape = match &data {
        Value::Act(x) => imp.shape(*x).to_vec(),
        Value::Const(c) => c.shape.clone(),
    };
    let a = axis(n, n.attrs().int("axis", 0)?, data_shape.len())?;
    match (data, indices) {
        (Value::Const(table), Value::Const(idx)) => {
            let ints = normalize_indices(n, &idx, data_shape[a])?;
            Ok(Value::Const(gather_const(&table, a, &ints, &idx.shape)).into())
        }
        (Value::Const(table), Value::Act(ids)) => {
            if !imp.is_token_ids(ids) {
                return Err(n.unsupported(
                    "the indices of an embedding lookup must be token ids (an integer model input)",
                ));
            }
            let [vocab, dim] = table.shape[..] else {
                return Err(n.unsupported(format!(
                    "an embedding table of shape {:?}; only [vocab, dim] tables are supported",
                    table.shape
                )));
            };
            if a != 0 {
                return Err(
                    n.unsupported("an embedding lookup along axis 1; only axis 0 is supported")
                );
            }
            let mut shape = imp.shape(ids).to_vec();
            shape.push(dim);
            let op = FloatOp::Gather {
                vocab,
                dim,
                table: table.data,
            };
            imp.emit(n, op, vec![ids], shape).map(Slot::Value)
        }
        (Value::Act(x), Value::Const(idx)) => {
            let ints = normalize_indices(n, &idx, data_shape[a])?;
            let run = ints.windows(2).all(|w| w[1] == w[0] + 1);
            if ints.is_empty() || !run || idx.shape.len() > 1 {
                return Err(n.unsupported(
                    "indexing an activation with anything but one constant index or a run of \
                     consecutive ones is not supported",
                ));
            }
            let (s, e) = (ints[0], ints[ints.len() - 1] + 1);
            let mut sliced = data_shape.clone();
            sliced[a] = e - s;
            let op = FloatOp::Slice {
                axis: a,
                start: s,
                end: e,
            };
            if idx.shape.len() == 1 {
                return imp.emit(n, op, vec![x], sliced).map(Slot::Value);
            }
            // A scalar index drops the axis.
            let part = imp.emit_part(n, ":slice", op, vec![x], sliced)?;
            let mut shape = data_shape;
            shape.remove(a);
            imp.emit(n, FloatOp::Reshape, vec![part], shape)
                .map(Slot::Value)
        }
        (Value::Act(_), Value::Act(_)) => {
            Err(n.unsupported("Gather with run-time indices into an activation is not supported"))
        }
    }
}

fn normalize_indices(
    n: &NodeCtx,
    idx: &ConstTensor,
    dim: usize,
) -> Result<Vec<usize>, QuantizeError> {
    idx.to_ints(&n.label)?
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + dim as i64 } else { i };
            usize::try_from(j)
                .ok()
                .filter(|&j| j < dim)
                .ok_or_else(|| n.bad(format!("index {i} out of range for a dimension of {dim}")))
        })
        .collect()
}

/// `table` indexed along axis `a`: shape `table[..a] + idx_shape + table[a+1..]`.
fn gather_const(table: &ConstTensor, a: usize, idx: &[usize], idx_shape: &[usize]) -> ConstTensor {
    let outer: usize = table.shape[..a].iter().product();
    let inner: usize = table.shape[a + 1..].iter().product();
    let dim = table.shape[a];
    let mut data = Vec::with_capacity(outer * idx.len() * inner);
    for o in 0..outer {
        for &i in idx {
            let at = (o * dim + i) * inner;
            data.extend_from_slice(&table.data[at..at + inner]);
        }
    }
    let mut shape = table.shape[..a].to_vec();
    shape.extend_from_slice(idx_shape);
    shape.extend_from_slice(&table.shape[a + 1..]);
    ConstTensor { shape, data }
}

pub(super) fn shape(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let s = imp.slot_shape(&imp.slot(n, 0)?);
    let rank = s.len() as i64;
    let attrs = n.attrs();
    let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
    let (start, end) = (
        clamp(attrs.int("start", 0)?),
        clamp(attrs.int("end", rank)?),
    );
    let data: Vec<f64> = s[start..end.max(start)].iter().map(|&d| d as f64).collect();
    Ok(Value::Const(ConstTensor {
        shape: vec![data.len()],
        data,
    })
    .into())
}

fn is_float(t: i64) -> bool {
    [
        DataType::Float,
        DataType::Double,
        DataType::Float16,
        DataType::Bfloat16,
    ]
    .iter()
    .any(|d| *d as i64 == t)
}

pub(super) fn cast(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let to = n.attrs().int("to", 0)?;
    let x = imp.slot(n, 0)?;
    if let Slot::Value(Value::Const(c)) = &x {
        let f: fn(f64) -> f64 = if is_float(to) {
            |v| v
        } else if to == DataType::Bool as i64 {
            |v| (v != 0.0) as u8 as f64
        } else {
            f64::trunc
        };
        return Ok(Value::Const(c.map(f)).into());
    }
    let ids = imp.as_act(&x).is_some_and(|id| imp.is_token_ids(id));
    if ids == is_float(to) {
        let name = DataType::try_from(to as i32).map_or("unknown", |d| d.as_str_name());
        return Err(n.unsupported(if ids {
            format!("a cast of token ids to {name}: token ids may only index an embedding table")
        } else {
            format!("a cast of an activation to {name}: only casts to a float type are supported")
        }));
    }
    Ok(x)
}

pub(super) fn constant_of_shape(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let shape: Vec<usize> = imp
        .const_input(n, 0, "the shape")?
        .to_ints(&n.label)?
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| n.bad(format!("negative dimension {d}"))))
        .collect::<Result<_, _>>()?;
    let count = element_count(&shape, &n.label)?;
    let value = match n.attrs().tensor("value")? {
        Some(t) => ConstTensor::from_proto(t, &n.label)?
            .as_scalar()
            .ok_or_else(|| n.bad("value must hold one element"))?,
        None => 0.0,
    };
    Ok(Value::Const(ConstTensor {
        shape,
        data: vec![value; count],
    })
    .into())
}

pub(super) fn range(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let scalar = |imp: &mut Importer, i: usize, what: &str| -> Result<f64, QuantizeError> {
        imp.const_input(n, i, what)?
            .as_scalar()
            .ok_or_else(|| n.bad(format!("{what} must be a scalar")))
    };
    let (start, limit, delta) = (
        scalar(imp, 0, "start")?,
        scalar(imp, 1, "limit")?,
        scalar(imp, 2, "delta")?,
    );
    if delta == 0.0 {
        return Err(n.bad("delta is 0"));
    }
    let count = ((limit - start) / delta).ceil().max(0.0) as usize;
    element_count(&[count], &n.label)?;
    let data: Vec<f64> = (0..count).map(|i| start + i as f64 * delta).collect();
    Ok(Value::Const(ConstTensor {
        shape: vec![count],
        data,
    })
    .into())
}

pub(super) fn expand(imp: &mut Importer, n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let target: Vec<usize> = imp
        .const_input(n, 1, "the shape")?
        .to_ints(&n.label)?
        .iter()
        .map(|&d| d.max(0) as usize)
        .collect();
    let x = imp.slot(n, 0)?;
    let in_shape = imp.slot_shape(&x);
    let shape = broadcast_shapes(&in_shape, &target)
        .ok_or_else(|| n.bad(format!("{in_shape:?} does not expand to {target:?}")))?;
    match x {
        Slot::Value(Value::Const(c)) => {
            element_count(&shape, &n.label)?;
            let data = c.broadcast_to(&shape).expect("broadcast shape");
            Ok(Value::Const(ConstTensor { shape, data }).into())
        }
        other if shape == in_shape => Ok(other),
        _ => Err(n.unsupported(format!(
            "expanding an activation {in_shape:?} to {shape:?} is not supported"
        ))),
    }
}

pub(super) fn constant(n: &NodeCtx) -> Result<Slot, QuantizeError> {
    let attrs = n.attrs();
    let c = if let Some(t) = attrs.tensor("value")? {
        ConstTensor::from_proto(t, &n.label)?
    } else if attrs.has("value_float") {
        ConstTensor::scalar(attrs.float("value_float", 0.0)? as f64)
    } else if attrs.has("value_int") {
        ConstTensor::scalar(attrs.int("value_int", 0)? as f64)
    } else if let Some(v) = attrs.floats("value_floats")? {
        vector(v.iter().map(|&x| x as f64).collect())
    } else if let Some(v) = attrs.ints("value_ints")? {
        vector(v.iter().map(|&x| x as f64).collect())
    } else {
        return Err(
            n.unsupported("only tensor, float and int values are supported in Constant nodes")
        );
    };
    Ok(Value::Const(c).into())
}

fn vector(data: Vec<f64>) -> ConstTensor {
    ConstTensor {
        shape: vec![data.len()],
        data,
    }
}
