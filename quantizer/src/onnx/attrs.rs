//! Typed access to a node's attributes, with errors naming the node.

use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::{AttributeProto, NodeProto, TensorProto};

use crate::error::QuantizeError;

pub struct Attrs<'a> {
    node: &'a NodeProto,
    /// "node 'name' (Op)", for messages.
    label: &'a str,
}

impl<'a> Attrs<'a> {
    pub fn new(node: &'a NodeProto, label: &'a str) -> Self {
        Attrs { node, label }
    }

    /// The attribute `name` if present, checking its declared type. Files
    /// that leave the type unset (old exporters) are taken at their word.
    fn get(
        &self,
        name: &str,
        ty: AttributeType,
    ) -> Result<Option<&'a AttributeProto>, QuantizeError> {
        let Some(a) = self.node.attribute.iter().find(|a| a.name == name) else {
            return Ok(None);
        };
        if a.r#type != ty as i32 && a.r#type != AttributeType::Undefined as i32 {
            let found = AttributeType::try_from(a.r#type).map_or("unknown", |t| t.as_str_name());
            return Err(QuantizeError::BadOnnx(format!(
                "{}: attribute '{name}' is {found}, {} expected",
                self.label,
                ty.as_str_name()
            )));
        }
        Ok(Some(a))
    }

    pub fn int(&self, name: &str, default: i64) -> Result<i64, QuantizeError> {
        Ok(self.get(name, AttributeType::Int)?.map_or(default, |a| a.i))
    }

    pub fn float(&self, name: &str, default: f32) -> Result<f32, QuantizeError> {
        Ok(self
            .get(name, AttributeType::Float)?
            .map_or(default, |a| a.f))
    }

    pub fn ints(&self, name: &str) -> Result<Option<&'a [i64]>, QuantizeError> {
        Ok(self
            .get(name, AttributeType::Ints)?
            .map(|a| a.ints.as_slice()))
    }

    pub fn floats(&self, name: &str) -> Result<Option<&'a [f32]>, QuantizeError> {
        Ok(self
            .get(name, AttributeType::Floats)?
            .map(|a| a.floats.as_slice()))
    }

    pub fn tensor(&self, name: &str) -> Result<Option<&'a TensorProto>, QuantizeError> {
        Ok(self
            .get(name, AttributeType::Tensor)?
            .and_then(|a| a.t.as_ref()))
    }

    pub fn string(&self, name: &str, default: &str) -> Result<String, QuantizeError> {
        Ok(self.get(name, AttributeType::String)?.map_or_else(
            || default.to_string(),
            |a| String::from_utf8_lossy(&a.s).into_owned(),
        ))
    }

    /// Whether an attribute of this name exists at all (any type).
    pub fn has(&self, name: &str) -> bool {
        self.node.attribute.iter().any(|a| a.name == name)
    }
}
