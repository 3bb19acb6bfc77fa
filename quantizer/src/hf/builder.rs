//! A [`FloatGraph`] written op by op, as the checkpoint's modules compute.
//! Node and tensor names are the module paths of the checkpoint
//! (`h.0.attn.c_attn`); a node's `onnx_op` field holds the module kind
//! (`Conv1D`, `Linear`, `LayerNorm`, ...), which the report prints.

use crate::float_graph::{FloatGraph, FloatNode, FloatOp, FloatTensor, Nonlinearity};
use crate::model::TensorId;

pub struct GraphBuilder {
    graph: FloatGraph,
}

/// A projection's parameters in `FloatOp::Linear`'s layout.
pub struct Dense {
    pub n_in: usize,
    pub n_out: usize,
    /// Row-major `[n_in, n_out]`.
    pub weight: Vec<f64>,
    pub bias: Option<Vec<f64>>,
}

impl GraphBuilder {
    pub fn new(name: &str) -> Self {
        GraphBuilder {
            graph: FloatGraph {
                name: name.to_string(),
                tensors: Vec::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                nodes: Vec::new(),
                notes: Vec::new(),
            },
        }
    }

    pub fn note(&mut self, note: String) {
        self.graph.notes.push(note);
    }

    /// A model input of shape `shape`.
    pub fn input(&mut self, name: &str, shape: Vec<usize>) -> TensorId {
        let id = self.tensor(name, shape);
        self.graph.inputs.push(id);
        id
    }

    pub fn shape(&self, id: TensorId) -> &[usize] {
        &self.graph.tensors[id].shape
    }

    fn tensor(&mut self, name: &str, shape: Vec<usize>) -> TensorId {
        self.graph.tensors.push(FloatTensor {
            name: name.to_string(),
            shape,
        });
        self.graph.tensors.len() - 1
    }

    /// Adds node `name` (also its output tensor's name) of module kind `kind`.
    pub fn push(
        &mut self,
        name: &str,
        kind: &str,
        op: FloatOp,
        inputs: Vec<TensorId>,
        shape: Vec<usize>,
    ) -> TensorId {
        let output = self.tensor(name, shape);
        self.graph.nodes.push(FloatNode {
            name: name.to_string(),
            onnx_op: kind.to_string(),
            op,
            inputs,
            output,
        });
        output
    }

    /// `x`'s shape with the last axis set to `last`.
    fn with_last(&self, x: TensorId, last: usize) -> Vec<usize> {
        let mut shape = self.shape(x).to_vec();
        *shape.last_mut().expect("activations have an axis") = last;
        shape
    }

    /// `x · W + b` over the last axis.
    pub fn linear(&mut self, name: &str, kind: &str, x: TensorId, d: Dense) -> TensorId {
        let shape = self.with_last(x, d.n_out);
        let op = FloatOp::Linear {
            in_features: d.n_in,
            out_features: d.n_out,
            weight: d.weight,
            bias: d.bias,
        };
        self.push(name, kind, op, vec![x], shape)
    }

    pub fn layer_norm(
        &mut self,
        name: &str,
        x: TensorId,
        (gamma, beta): (Vec<f64>, Vec<f64>),
        eps: f64,
    ) -> TensorId {
        let shape = self.shape(x).to_vec();
        let op = FloatOp::LayerNorm { gamma, beta, eps };
        self.push(name, "LayerNorm", op, vec![x], shape)
    }

    pub fn add(&mut self, name: &str, a: TensorId, b: TensorId) -> TensorId {
        let shape = self.shape(a).to_vec();
        self.push(name, "Add", FloatOp::Add, vec![a, b], shape)
    }

    /// `x + c`, `c` of `x`'s size.
    pub fn add_const(
        &mut self,
        name: &str,
        kind: &str,
        x: TensorId,
        constant: Vec<f64>,
    ) -> TensorId {
        let shape = self.shape(x).to_vec();
        self.push(name, kind, FloatOp::AddConst { constant }, vec![x], shape)
    }

    /// An activation (`FloatOp::Pointwise` or `FloatOp::Relu`).
    pub fn activation(&mut self, name: &str, x: TensorId, op: FloatOp) -> TensorId {
        let kind = match &op {
            FloatOp::Pointwise {
                func: Nonlinearity::Gelu,
            } => "GELU",
            FloatOp::Pointwise {
                func: Nonlinearity::GeluTanh,
            } => "GELU (tanh)",
            FloatOp::Pointwise {
                func: Nonlinearity::Tanh,
            } => "Tanh",
            FloatOp::Relu => "ReLU",
            _ => "Activation",
        };
        let shape = self.shape(x).to_vec();
        self.push(name, kind, op, vec![x], shape)
    }

    pub fn slice(
        &mut self,
        name: &str,
        x: TensorId,
        axis: usize,
        start: usize,
        end: usize,
    ) -> TensorId {
        let mut shape = self.shape(x).to_vec();
        shape[axis] = end - start;
        self.push(
            name,
            "Slice",
            FloatOp::Slice { axis, start, end },
            vec![x],
            shape,
        )
    }

    pub fn reshape(&mut self, name: &str, x: TensorId, shape: Vec<usize>) -> TensorId {
        debug_assert_eq!(
            shape.iter().product::<usize>(),
            self.shape(x).iter().product::<usize>()
        );
        self.push(name, "Reshape", FloatOp::Reshape, vec![x], shape)
    }

    pub fn transpose(&mut self, name: &str, x: TensorId, perm: Vec<usize>) -> TensorId {
        let shape = perm.iter().map(|&a| self.shape(x)[a]).collect();
        self.push(
            name,
            "Transpose",
            FloatOp::Transpose { perm },
            vec![x],
            shape,
        )
    }

    /// The graph with `outputs` as its outputs, each tensor renamed as given
    /// (`logits`, `last_hidden_state`: the names transformers returns).
    pub fn finish(mut self, outputs: &[(TensorId, &str)]) -> FloatGraph {
        for &(id, name) in outputs {
            self.graph.tensors[id].name = name.to_string();
            self.graph.outputs.push(id);
        }
        self.graph
    }
}
