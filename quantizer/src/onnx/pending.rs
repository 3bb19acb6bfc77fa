//! Pending values: ONNX nodes whose float ops are not emitted yet.
//!
//! Exporters write GELU, layer norm and attention masks as chains of small
//! ops. Lowered one by one they would cost a lookup per `Erf`, a division
//! by an activation the circuits cannot do, or a `-3.4e38` constant no
//! scale can hold. So a node that may belong to such a pattern does not
//! emit anything: its output is a [`Pending`] value recording what it
//! computes, and the nodes that consume it either extend the pattern (a
//! `Sub` of a pending `ReduceMean` becomes "x centred") or need the tensor,
//! which *materializes* it ([`Importer::materialize`]): a completed pattern
//! becomes one fused op, anything else is emitted op by op, with the
//! original node names. A pending value is emitted at most once, however
//! many consumers need it; one that nothing needs is never emitted.
//!
//! Fusion never changes what is computed: every pattern is checked to be
//! the function it is replaced by (layer norm by its structure, GELU by
//! evaluating the written-out expression), and the importer's output is
//! compared with tract on every bundled model.

use std::cell::Cell;
use std::rc::Rc;

use super::attention::Masked;
use super::elementwise::Elementwise;
use super::layernorm::NormStage;
use super::{Importer, Slot, Value};
use crate::error::QuantizeError;
use crate::model::TensorId;

/// The ONNX node a value came from: emitted ops take its names, errors
/// name it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Origin {
    pub node: String,
    pub op: String,
    /// The node's output tensor name.
    pub output: String,
}

impl Origin {
    /// `UnsupportedOp` naming this node.
    pub fn unsupported(&self, hint: impl AsRef<str>) -> QuantizeError {
        QuantizeError::UnsupportedOp {
            op: self.op.clone(),
            node: self.node.clone(),
            hint: format!(": {}", hint.as_ref()),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Pending {
    pub origin: Origin,
    pub shape: Vec<usize>,
    pub kind: PendingKind,
    /// The tensor once emitted.
    emitted: Cell<Option<TensorId>>,
}

#[derive(Debug)]
pub(crate) enum PendingKind {
    /// An elementwise function of one activation with scalar constants.
    Elementwise(Elementwise),
    /// A stage of a written-out layer normalization.
    Norm(NormStage),
    /// Scores under a constant mask, waiting for their softmax.
    Masked(Masked),
}

impl Pending {
    pub fn new(origin: Origin, shape: Vec<usize>, kind: PendingKind) -> Rc<Self> {
        Rc::new(Pending {
            origin,
            shape,
            kind,
            emitted: Cell::new(None),
        })
    }
}

impl Importer {
    /// The value a consumer reads: a pending one is emitted now.
    pub fn resolve(&mut self, s: Slot) -> Result<Value, QuantizeError> {
        match s {
            Slot::Value(v) => Ok(v),
            Slot::Pending(p) => self.materialize(&p).map(Value::Act),
        }
    }

    /// The tensor behind a slot, if it is one already (an activation, or a
    /// pending value some consumer has emitted).
    pub fn as_act(&self, s: &Slot) -> Option<TensorId> {
        match s {
            Slot::Value(Value::Act(id)) => Some(*id),
            Slot::Pending(p) => p.emitted.get(),
            Slot::Value(Value::Const(_)) => None,
        }
    }

    /// Emits a pending value (once) and returns its tensor.
    pub fn materialize(&mut self, p: &Rc<Pending>) -> Result<TensorId, QuantizeError> {
        if let Some(id) = p.emitted.get() {
            return Ok(id);
        }
        let id = match &p.kind {
            PendingKind::Elementwise(e) => super::elementwise::materialize(self, p, e)?,
            PendingKind::Norm(stage) => super::layernorm::materialize(self, p, stage)?,
            PendingKind::Masked(m) => super::attention::materialize_mask(p, m)?,
        };
        p.emitted.set(Some(id));
        Ok(id)
    }
}
