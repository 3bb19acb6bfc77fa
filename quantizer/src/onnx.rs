//! ONNX protobuf -> [`FloatGraph`].
//!
//! The file is decoded with tract-onnx's protobuf types, but the nodes are
//! lowered here, one ONNX node at a time, rather than through tract's own
//! (optimized, renamed) ops: every error names the ONNX op type and node name
//! the user sees in Netron or in their exporter's output.
//!
//! Lowering rules (see `onnx/ops.rs` for each op):
//! - constants (initializers, `Constant` nodes) are values, not tensors; an op
//!   whose operands are all constant is folded at import time;
//! - an op mixing an activation with a constant carries the constant inside
//!   the op, broadcast to the activation's shape;
//! - a symbolic dimension in a graph input (e.g. "batch") is set to 1, and
//!   the assumption is recorded in [`FloatGraph::notes`].

mod attrs;
mod ops;
mod tensor;

use std::collections::HashMap;
use std::path::Path;

use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::pb::{GraphProto, ModelProto, NodeProto, ValueInfoProto};
use tract_onnx::prelude::Framework;

use crate::error::QuantizeError;
use crate::float_graph::{FloatGraph, FloatNode, FloatOp, FloatTensor};
use crate::inputs::InputShape;
use crate::model::TensorId;
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
pub fn graph_input_shapes(
    proto: &ModelProto,
) -> Result<(Vec<InputShape>, Vec<String>), QuantizeError> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| QuantizeError::BadOnnx("the model has no graph".into()))?;
    let initializers: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let mut shapes = Vec::new();
    let mut notes = Vec::new();
    for vi in graph
        .input
        .iter()
        .filter(|vi| !initializers.contains(vi.name.as_str()))
    {
        shapes.push(input_shape(vi, &mut notes)?);
    }
    if shapes.is_empty() {
        return Err(QuantizeError::BadOnnx(
            "the graph has no inputs besides its initializers".into(),
        ));
    }
    Ok((shapes, notes))
}

fn input_shape(vi: &ValueInfoProto, notes: &mut Vec<String>) -> Result<InputShape, QuantizeError> {
    let bad = |m: &str| QuantizeError::BadOnnx(format!("graph input '{}' {m}", vi.name));
    let Some(TypeValue::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err(bad("is not a tensor"));
    };
    if t.elem_type != DataType::Float as i32 {
        let name = DataType::try_from(t.elem_type).map_or("unknown", |d| d.as_str_name());
        return Err(bad(&format!(
            "has element type {name}; only FLOAT inputs are supported"
        )));
    }
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
    Ok(InputShape {
        name: vi.name.clone(),
        shape,
    })
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
    };
    for init in &graph.initializer {
        let c = ConstTensor::from_proto(init, &format!("initializer '{}'", init.name))?;
        imp.env.insert(init.name.clone(), Value::Const(c));
    }
    for s in input_shapes {
        let id = imp.add_tensor(&s.name, s.shape)?;
        imp.graph.inputs.push(id);
        imp.env.insert(s.name, Value::Act(id));
    }
    for (index, node) in graph.node.iter().enumerate() {
        imp.lower_node(node, index)?;
    }
    imp.bind_outputs(graph)?;
    Ok(imp.graph)
}

/// What an ONNX value name refers to during import.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// A tensor computed at run time: a graph input or a node output.
    Act(TensorId),
    Const(ConstTensor),
}

pub(crate) struct Importer {
    graph: FloatGraph,
    env: HashMap<String, Value>,
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
        let outputs: Vec<&String> = node.output.iter().filter(|o| !o.is_empty()).collect();
        if outputs.len() != 1 {
            return Err(n.unsupported(format!(
                "{} outputs; only single-output ops are supported",
                outputs.len()
            )));
        }
        let value = ops::lower(self, &n)?;
        self.env.insert(outputs[0].clone(), value);
        Ok(())
    }

    /// Input `i` of the node; an error if it is absent or undefined.
    pub fn input(&self, n: &NodeCtx, i: usize) -> Result<Value, QuantizeError> {
        self.optional_input(n, i)?
            .ok_or_else(|| n.bad(format!("input #{i} is missing")))
    }

    /// Input `i` of the node, `None` if the node omits it.
    pub fn optional_input(&self, n: &NodeCtx, i: usize) -> Result<Option<Value>, QuantizeError> {
        match n.proto.input.get(i).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(name) => self.env.get(name).cloned().map(Some).ok_or_else(|| {
                n.bad(format!(
                    "reads '{name}', which no graph input, initializer or earlier node defines"
                ))
            }),
        }
    }

    pub fn shape(&self, id: TensorId) -> &[usize] {
        &self.graph.tensors[id].shape
    }

    /// Adds the node's float op, writing the node's ONNX output tensor.
    pub fn emit(
        &mut self,
        n: &NodeCtx,
        op: FloatOp,
        inputs: Vec<TensorId>,
        shape: Vec<usize>,
    ) -> Result<Value, QuantizeError> {
        let out_name = n
            .proto
            .output
            .iter()
            .find(|o| !o.is_empty())
            .cloned()
            .unwrap_or_else(|| n.name.clone());
        self.push_node(n, n.name.clone(), &out_name, op, inputs, shape)
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
        let out = n
            .proto
            .output
            .iter()
            .find(|o| !o.is_empty())
            .cloned()
            .unwrap_or_else(|| n.name.clone());
        self.push_node(
            n,
            format!("{}{suffix}", n.name),
            &format!("{out}{suffix}"),
            op,
            inputs,
            shape,
        )
    }

    fn push_node(
        &mut self,
        n: &NodeCtx,
        name: String,
        tensor: &str,
        op: FloatOp,
        inputs: Vec<TensorId>,
        shape: Vec<usize>,
    ) -> Result<TensorId, QuantizeError> {
        let output = self.add_tensor(tensor, shape)?;
        self.graph.nodes.push(FloatNode {
            name,
            onnx_op: n.op().to_string(),
            op,
            inputs,
            output,
        });
        Ok(output)
    }

    /// Resolves the graph outputs and checks their declared static shapes
    /// against the computed ones (a cheap self-check of the importer).
    fn bind_outputs(&mut self, graph: &GraphProto) -> Result<(), QuantizeError> {
        for vi in &graph.output {
            let id = match self.env.get(&vi.name) {
                Some(Value::Act(id)) => *id,
                Some(Value::Const(_)) => {
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
