//! ONNX protobuf -> [`FloatGraph`].
//!
//! The file is decoded with tract-onnx's protobuf types, but the nodes are
//! lowered here, one ONNX node at a time, rather than through tract's own
//! (optimized, renamed) ops: every error names the ONNX op type and node name
//! the user sees in Netron or in their exporter's output.
//!
//! Lowering rules (see `onnx/ops.rs` for the table of ops):
//! - constants (initializers, `Constant` nodes, shapes of tensors, which are
//!   static here) are values, not tensors; an op whose operands are all
//!   constant is folded at import time;
//! - an op mixing an activation with a constant carries the constant inside
//!   the op, broadcast to the activation's shape;
//! - elementwise ops with scalar constants, the pieces of a written-out layer
//!   norm and a constant attention mask are kept *pending*
//!   ([`pending`]) until a consumer needs the tensor: a GELU written out
//!   op by op then becomes one `Pointwise`, the layer norm one `LayerNorm`,
//!   the mask and its softmax one causal `Softmax`; anything else is
//!   emitted op by op;
//! - integer graph inputs are token ids and may only index an embedding
//!   table (`Gather`), possibly after reshapes;
//! - a symbolic dimension in a graph input (e.g. "batch") is set to 1, and
//!   the assumption is recorded in [`FloatGraph::notes`].

mod attention;
mod attrs;
mod elementwise;
mod layernorm;
mod ops;
mod pending;
mod shape_ops;
mod tensor;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::pb::{GraphProto, ModelProto, NodeProto, ValueInfoProto};
use tract_onnx::prelude::Framework;

use crate::error::QuantizeError;
use crate::float_graph::{FloatGraph, FloatNode, FloatOp, FloatTensor};
use crate::inputs::InputShape;
use crate::model::TensorId;
pub(crate) use pending::{Origin, Pending};
use tensor::element_count;
pub(crate) use tensor::ConstTensor;

/// Reads and imports an ONNX file.
pub fn load_onnx(path: &Path) -> Result<FloatGraph, QuantizeError> {
    import_model(&read_model_proto(path)?)
}

/// The input names and shapes of an ONNX file (symbolic dimensions set to
/// 1), without importing its nodes: what [`crate::inputs::random_samples`]
/// needs.
pub fn input_shapes(path: &Path) -> Result<Vec<InputShape>, QuantizeError> {
    Ok(graph_input_shapes(&read_model_proto(path)?)?.0)
}

/// Reads an ONNX file's protobuf without interpreting its graph.
pub fn read_model_proto(path: &Path) -> Result<ModelProto, QuantizeError> {
    let bytes =
        std::fs::read(path).map_err(|e| QuantizeError::Io(path.display().to_string(), e))?;
    decode_model_proto(&bytes).map_err(|e| match e {
        QuantizeError::BadOnnx(m) => QuantizeError::BadOnnx(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// Decodes ONNX protobuf bytes. Protobuf decoding accepts many byte strings
/// that are not models (an empty file decodes to an empty message), so the
/// result is also checked to have a graph with inputs and outputs.
pub fn decode_model_proto(bytes: &[u8]) -> Result<ModelProto, QuantizeError> {
    let proto = tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| {
            QuantizeError::BadOnnx(format!(
                "not an ONNX model or truncated ({} bytes): protobuf decoding failed: {e}",
                bytes.len()
            ))
        })?;
    match &proto.graph {
        Some(g) if !g.input.is_empty() && !g.output.is_empty() => Ok(proto),
        _ => Err(QuantizeError::BadOnnx(format!(
            "not an ONNX model or truncated ({} bytes): no graph with inputs and outputs",
            bytes.len()
        ))),
    }
}

/// The model's real inputs (graph inputs that are not initializers), with
/// symbolic dimensions set to 1, and a note for each such dimension.
/// Integer inputs are token ids; their vocabulary is the row count of the
/// embedding tables they index.
pub fn graph_input_shapes(
    proto: &ModelProto,
) -> Result<(Vec<InputShape>, Vec<String>), QuantizeError> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| QuantizeError::BadOnnx("the model has no graph".into()))?;
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let mut shapes = Vec::new();
    let mut notes = Vec::new();
    for vi in graph
        .input
        .iter()
        .filter(|vi| !initializers.contains(vi.name.as_str()))
    {
        shapes.push(input_shape(graph, vi, &mut notes)?);
    }
    if shapes.is_empty() {
        return Err(QuantizeError::BadOnnx(
            "the graph has no inputs besides its initializers".into(),
        ));
    }
    Ok((shapes, notes))
}

fn input_shape(
    graph: &GraphProto,
    vi: &ValueInfoProto,
    notes: &mut Vec<String>,
) -> Result<InputShape, QuantizeError> {
    let bad = |m: &str| QuantizeError::BadOnnx(format!("graph input '{}' {m}", vi.name));
    let Some(TypeValue::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err(bad("is not a tensor"));
    };
    let vocab = if t.elem_type == DataType::Float as i32 {
        None
    } else if t.elem_type == DataType::Int64 as i32 || t.elem_type == DataType::Int32 as i32 {
        Some(token_vocab(graph, &vi.name).ok_or_else(|| {
            bad(
                "is an integer tensor that indexes no constant embedding table (Gather); \
                 integer inputs are supported only as token ids",
            )
        })?)
    } else {
        let name = DataType::try_from(t.elem_type).map_or("unknown", |d| d.as_str_name());
        return Err(bad(&format!(
            "has element type {name}; only FLOAT inputs and INT64/INT32 token ids are supported"
        )));
    };
    let dims = &t
        .shape
        .as_ref()
        .ok_or_else(|| bad("has no shape; export it with a static shape"))?
        .dim;
    let mut shape = Vec::with_capacity(dims.len());
    for (axis, d) in dims.iter().enumerate() {
        shape.push(match &d.value {
            Some(Dim::DimValue(v)) if *v > 0 => *v as usize,
            Some(Dim::DimValue(v)) => {
                return Err(bad(&format!("has dimension {v} on axis {axis}")))
            }
            Some(Dim::DimParam(p)) => {
                notes.push(format!(
                    "input '{}': symbolic dimension '{p}' (axis {axis}) set to 1",
                    vi.name
                ));
                1
            }
            None => {
                notes.push(format!(
                    "input '{}': unknown dimension on axis {axis} set to 1",
                    vi.name
                ));
                1
            }
        });
    }
    element_count(&shape, &format!("graph input '{}'", vi.name))?;
    if let Some(v) = vocab {
        notes.push(format!(
            "input '{}' holds token ids: integers in [0, {v}), used unscaled",
            vi.name
        ));
    }
    Ok(InputShape {
        name: vi.name.clone(),
        shape,
        vocab,
    })
}

/// The vocabulary of the embedding tables that the integer tensor `name`
/// indexes, following the ops that keep ids ids (reshapes, casts): the
/// smallest first dimension of a constant `Gather` table it reaches.
fn token_vocab(graph: &GraphProto, name: &str) -> Option<usize> {
    let table_rows = |t: &str| -> Option<usize> {
        graph
            .initializer
            .iter()
            .find(|i| i.name == t)
            .map(|i| i.dims.first().copied().unwrap_or(0) as usize)
    };
    let mut ids: HashSet<&str> = HashSet::from([name]);
    let mut vocab: Option<usize> = None;
    for node in &graph.node {
        let reads = |i: usize| node.input.get(i).is_some_and(|x| ids.contains(x.as_str()));
        match node.op_type.as_str() {
            "Reshape" | "Unsqueeze" | "Squeeze" | "Flatten" | "Identity" | "Cast" if reads(0) => {
                ids.extend(node.output.iter().map(String::as_str));
            }
            "Gather" if reads(1) => {
                if let Some(v) = node.input.first().and_then(|t| table_rows(t)) {
                    vocab = Some(vocab.map_or(v, |o| o.min(v)));
                }
            }
            _ => {}
        }
    }
    vocab.filter(|&v| v > 0)
}

/// Lowers a decoded model to a [`FloatGraph`].
pub fn import_model(proto: &ModelProto) -> Result<FloatGraph, QuantizeError> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| QuantizeError::BadOnnx("the model has no graph".into()))?;
    let (input_shapes, notes) = graph_input_shapes(proto)?;
    let mut imp = Importer {
        graph: FloatGraph {
            name: graph.name.clone(),
            tensors: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            nodes: Vec::new(),
            notes,
        },
        env: HashMap::new(),
        token_ids: HashSet::new(),
    };
    for init in &graph.initializer {
        let c = ConstTensor::from_proto(init, &format!("initializer '{}'", init.name))?;
        imp.env
            .insert(init.name.clone(), Slot::Value(Value::Const(c)));
    }
    for s in input_shapes {
        let id = imp.add_tensor(&s.name, s.shape)?;
        imp.graph.inputs.push(id);
        if s.vocab.is_some() {
            imp.token_ids.insert(id);
        }
        imp.env.insert(s.name, Slot::Value(Value::Act(id)));
    }
    for (index, node) in graph.node.iter().enumerate() {
        imp.lower_node(node, index)?;
    }
    imp.bind_outputs(graph)?;
    imp.check_token_ids()?;
    Ok(imp.graph)
}

/// What an ONNX value name refers to, once a consumer needs it.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// A tensor computed at run time: a graph input or a node output.
    Act(TensorId),
    Const(ConstTensor),
}

/// What an ONNX value name refers to during import: a [`Value`], or a
/// value whose nodes are not emitted yet because they may belong to a
/// fused pattern.
#[derive(Clone, Debug)]
pub(crate) enum Slot {
    Value(Value),
    Pending(Rc<Pending>),
}

impl From<Value> for Slot {
    fn from(v: Value) -> Self {
        Slot::Value(v)
    }
}

pub(crate) struct Importer {
    graph: FloatGraph,
    env: HashMap<String, Slot>,
    /// Tensors holding integer token ids: the integer graph inputs and
    /// their reshapes.
    token_ids: HashSet<TensorId>,
}

/// The ONNX node being lowered.
pub(crate) struct NodeCtx<'a> {
    pub proto: &'a NodeProto,
    pub name: String,
    /// "node 'name' (Op)" for messages.
    pub label: String,
}

impl NodeCtx<'_> {
    pub fn op(&self) -> &str {
        &self.proto.op_type
    }

    /// `UnsupportedOp` naming this node; `hint` says what would work instead.
    pub fn unsupported(&self, hint: impl AsRef<str>) -> QuantizeError {
        QuantizeError::UnsupportedOp {
            op: self.proto.op_type.clone(),
            node: self.name.clone(),
            hint: format!(": {}", hint.as_ref()),
        }
    }

    /// `BadOnnx` naming this node: the file contradicts the ONNX spec.
    pub fn bad(&self, msg: impl AsRef<str>) -> QuantizeError {
        QuantizeError::BadOnnx(format!("{}: {}", self.label, msg.as_ref()))
    }

    pub fn attrs(&self) -> attrs::Attrs<'_> {
        attrs::Attrs::new(self.proto, &self.label)
    }

    /// The node's first (named) output.
    pub fn output_name(&self) -> String {
        self.proto
            .output
            .iter()
            .find(|o| !o.is_empty())
            .cloned()
            .unwrap_or_else(|| self.name.clone())
    }

    /// This node as the origin of a pending value.
    pub fn origin(&self) -> Origin {
        Origin {
            node: self.name.clone(),
            op: self.op().to_string(),
            output: self.output_name(),
        }
    }
}

impl Importer {
    fn add_tensor(&mut self, name: &str, shape: Vec<usize>) -> Result<TensorId, QuantizeError> {
        element_count(&shape, &format!("tensor '{name}'"))?;
        self.graph.tensors.push(FloatTensor {
            name: name.to_string(),
            shape,
        });
        Ok(self.graph.tensors.len() - 1)
    }

    fn lower_node(&mut self, node: &NodeProto, index: usize) -> Result<(), QuantizeError> {
        let name = if node.name.is_empty() {
            format!("{}_{index}", node.op_type)
        } else {
            node.name.clone()
        };
        let n = NodeCtx {
            proto: node,
            label: format!("node '{name}' ({})", node.op_type),
            name,
        };
        if !matches!(node.domain.as_str(), "" | "ai.onnx") {
            return Err(n.unsupported(format!(
                "ops from domain '{}' are not supported, only standard ONNX ops",
                node.domain
            )));
        }
        if node.op_type == "Split" {
            let outputs = shape_ops::split(self, &n)?;
            for (name, value) in node.output.iter().zip(outputs) {
                if !name.is_empty() {
                    self.env.insert(name.clone(), value);
                }
            }
            return Ok(());
        }
        let outputs: Vec<&String> = node.output.iter().filter(|o| !o.is_empty()).collect();
        if outputs.len() != 1 {
            return Err(n.unsupported(format!(
                "{} outputs; only single-output ops (and Split) are supported",
                outputs.len()
            )));
        }
        let value = ops::lower(self, &n)?;
        self.env.insert(outputs[0].clone(), value);
        Ok(())
    }

    /// Input `i` of the node as a tensor or a constant (a pending value is
    /// emitted now); an error if it is absent or undefined.
    pub fn input(&mut self, n: &NodeCtx, i: usize) -> Result<Value, QuantizeError> {
        self.optional_input(n, i)?
            .ok_or_else(|| n.bad(format!("input #{i} is missing")))
    }

    /// Input `i` of the node, `None` if the node omits it.
    pub fn optional_input(
        &mut self,
        n: &NodeCtx,
        i: usize,
    ) -> Result<Option<Value>, QuantizeError> {
        match self.optional_slot(n, i)? {
            None => Ok(None),
            Some(Slot::Value(v)) => Ok(Some(v)),
            Some(Slot::Pending(p)) => self.materialize(&p).map(|id| Some(Value::Act(id))),
        }
    }

    /// Input `i` as it is, pending or not: for the ops that extend patterns.
    pub fn slot(&self, n: &NodeCtx, i: usize) -> Result<Slot, QuantizeError> {
        self.optional_slot(n, i)?
            .ok_or_else(|| n.bad(format!("input #{i} is missing")))
    }

    pub fn optional_slot(&self, n: &NodeCtx, i: usize) -> Result<Option<Slot>, QuantizeError> {
        match n.proto.input.get(i).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(name) => self.env.get(name).cloned().map(Some).ok_or_else(|| {
                n.bad(format!(
                    "reads '{name}', which no graph input, initializer or earlier node defines"
                ))
            }),
        }
    }

    /// Input `i`, which must be a constant (shapes, axes, indices).
    pub fn const_input(
        &mut self,
        n: &NodeCtx,
        i: usize,
        what: &str,
    ) -> Result<ConstTensor, QuantizeError> {
        match self.slot(n, i)? {
            Slot::Value(Value::Const(c)) => Ok(c),
            _ => Err(n.unsupported(format!("{what} (input #{i}) must be a constant"))),
        }
    }

    pub fn shape(&self, id: TensorId) -> &[usize] {
        &self.graph.tensors[id].shape
    }

    /// The shape of any slot: tensor, constant or pending.
    pub fn slot_shape(&self, s: &Slot) -> Vec<usize> {
        match s {
            Slot::Value(Value::Act(id)) => self.shape(*id).to_vec(),
            Slot::Value(Value::Const(c)) => c.shape.clone(),
            Slot::Pending(p) => p.shape.clone(),
        }
    }

    pub fn is_token_ids(&self, id: TensorId) -> bool {
        self.token_ids.contains(&id)
    }

    /// Adds the node's float op, writing the node's ONNX output tensor.
    pub fn emit(
        &mut self,
        n: &NodeCtx,
        op: FloatOp,
        inputs: Vec<TensorId>,
        shape: Vec<usize>,
    ) -> Result<Value, QuantizeError> {
        self.push_node(&n.origin(), None, "", op, inputs, shape)
            .map(Value::Act)
    }

    /// Adds an extra float op for an ONNX node that lowers to several; its
    /// node and tensor names carry `suffix`.
    pub fn emit_part(
        &mut self,
        n: &NodeCtx,
        suffix: &str,
        op: FloatOp,
        inputs: Vec<TensorId>,
        shape: Vec<usize>,
    ) -> Result<TensorId, QuantizeError> {
        self.push_node(&n.origin(), None, suffix, op, inputs, shape)
    }

    /// Adds a float op on behalf of `origin` (a pending value's ONNX node);
    /// `onnx_op` overrides its op type (a fused pattern says what it fused).
    pub fn push_node(
        &mut self,
        origin: &Origin,
        onnx_op: Option<&str>,
        suffix: &str,
        op: FloatOp,
        inputs: Vec<TensorId>,
        shape: Vec<usize>,
    ) -> Result<TensorId, QuantizeError> {
        let keeps_ids =
            matches!(op, FloatOp::Reshape) && inputs.iter().any(|i| self.token_ids.contains(i));
        let output = self.add_tensor(&format!("{}{suffix}", origin.output), shape)?;
        if keeps_ids {
            self.token_ids.insert(output);
        }
        self.graph.nodes.push(FloatNode {
            name: format!("{}{suffix}", origin.node),
            onnx_op: onnx_op.unwrap_or(&origin.op).to_string(),
            op,
            inputs,
            output,
        });
        Ok(output)
    }

    /// Token ids are integers: only an embedding (`Gather`) may read them as
    /// indices, and reshapes keep them ids. Any other use (arithmetic, an
    /// output) is an error naming the node.
    fn check_token_ids(&self) -> Result<(), QuantizeError> {
        let used_as_ids = self.graph.token_id_tensors();
        for node in &self.graph.nodes {
            let reads = node.inputs.iter().find(|i| self.token_ids.contains(i));
            let ok = matches!(node.op, FloatOp::Gather { .. } | FloatOp::Reshape);
            if let (Some(&id), false) = (reads, ok) {
                return Err(QuantizeError::UnsupportedOp {
                    op: node.onnx_op.clone(),
                    node: node.name.clone(),
                    hint: format!(
                        ": it reads '{}', which holds integer token ids; token ids may only index an \
                         embedding table (Gather)",
                        self.graph.tensors[id].name
                    ),
                });
            }
        }
        for &id in &self.token_ids {
            if self.graph.outputs.contains(&id) || !used_as_ids[id] {
                return Err(QuantizeError::BadOnnx(format!(
                    "the integer tensor '{}' is not used as token ids by an embedding table (Gather)",
                    self.graph.tensors[id].name
                )));
            }
        }
        Ok(())
    }

    /// Resolves the graph outputs and checks their declared static shapes
    /// against the computed ones (a cheap self-check of the importer).
    fn bind_outputs(&mut self, graph: &GraphProto) -> Result<(), QuantizeError> {
        for vi in &graph.output {
            let id = match self.env.get(&vi.name).cloned() {
                Some(Slot::Value(Value::Act(id))) => id,
                Some(Slot::Pending(p)) => self.materialize(&p)?,
                Some(Slot::Value(Value::Const(_))) => {
                    return Err(QuantizeError::BadOnnx(format!(
                        "graph output '{}' is a constant (it does not depend on any input); nothing to prove",
                        vi.name
                    )))
                }
                None => {
                    return Err(QuantizeError::BadOnnx(format!("graph output '{}' is never produced", vi.name)))
                }
            };
            if let Some(TypeValue::TensorType(t)) =
                vi.r#type.as_ref().and_then(|t| t.value.as_ref())
            {
                if let Some(declared) = &t.shape {
                    let ours = &self.graph.tensors[id].shape;
                    let mismatch = declared.dim.len() != ours.len()
                        || declared.dim.iter().zip(ours).any(
                            |(d, &o)| matches!(d.value, Some(Dim::DimValue(v)) if v != o as i64),
                        );
                    if mismatch {
                        let dims: Vec<String> = declared
                            .dim
                            .iter()
                            .map(|d| match &d.value {
                                Some(Dim::DimValue(v)) => v.to_string(),
                                Some(Dim::DimParam(p)) => p.clone(),
                                None => "?".into(),
                            })
                            .collect();
                        return Err(QuantizeError::BadOnnx(format!(
                            "graph output '{}' is declared with shape [{}] but computes to {ours:?}",
                            vi.name,
                            dims.join(", ")
                        )));
                    }
                }
            }
            self.graph.outputs.push(id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
