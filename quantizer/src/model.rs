//! The `.zkq` format: a quantized graph, its integer weights and its scale.
//!
//! A real number `v` is stored as the integer `round(v * 2^scale_bits)`. Every
//! activation tensor (inputs included) satisfies
//! `-2^(activation_bits-1) <= x < 2^(activation_bits-1)`: that is the range the
//! circuits prove for every value, so nothing can wrap around the field.
//!
//! The file is `MAGIC` followed by the bincode encoding of [`QuantizedModel`];
//! the model id is the SHA-256 of those bytes, so any change to a weight, a
//! scale or the graph changes the id.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

use crate::error::QuantizeError;
pub use crate::nonlinear::PointwiseTable;

/// First bytes of every `.zkq` file; the last three name the format version.
pub const MAGIC: &[u8; 8] = b"ZKQ\0v002";

/// Index of a tensor in [`QuantizedModel::tensors`].
pub type TensorId = usize;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantizedModel {
    pub name: String,
    /// Fixed-point fractional bits `s`: an integer `q` means `q / 2^s`.
    pub scale_bits: u32,
    /// Signed bit width that bounds every activation (see the module doc).
    pub activation_bits: u32,
    pub tensors: Vec<TensorInfo>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    /// In topological order: a node only reads tensors produced before it.
    pub nodes: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    /// Largest |value| seen in calibration, in real units (for reports).
    pub calibrated_max_abs: f64,
}

impl TensorInfo {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The ONNX node name (or a generated one), used in every error message.
    pub name: String,
    /// The ONNX op type this node came from (e.g. "Gemm").
    pub onnx_op: String,
    pub op: Op,
    /// Activation inputs only; constants live inside [`Op`].
    pub inputs: Vec<TensorId>,
    pub output: TensorId,
}

/// Quantized operations. Constants are expanded to the output's shape at
/// quantization time, so the circuits never broadcast.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// `y[r, j] = rescale(sum_k x[r, k] * weight[k * out + j] + bias[j])` over
    /// the last axis of `x`; `weight` at scale `s` (row-major `[in, out]`),
    /// `bias` at scale `2s`.
    Linear {
        in_features: usize,
        out_features: usize,
        weight: Vec<i64>,
        bias: Option<Vec<i64>>,
    },
    /// `y = a + b`, same shapes.
    Add,
    /// `y = a - b`, same shapes.
    Sub,
    /// `y = x + c`, `c` at scale `s`.
    AddConst { constant: Vec<i64> },
    /// `y = c - x`, `c` at scale `s`.
    ConstSub { constant: Vec<i64> },
    /// `y = rescale(a * b)`.
    Mul,
    /// `y = rescale(x * c)`, `c` at scale `s`.
    MulConst { constant: Vec<i64> },
    /// `y = max(x, 0)`.
    Relu,
    /// Same values, new shape (the output tensor's). Costs no cells.
    Reshape,
    /// `y[b, i, j] = rescale(sum_k a[b, i, k] * c[b, k, j])`: a product of two
    /// activations (Q·Kᵀ, scores·V), batched over `len(a) / (m·k)` matrices.
    MatMul { m: usize, k: usize, n: usize },
    /// `y = table(x)` elementwise (GELU, tanh, erf, ...): see
    /// [`crate::nonlinear::table`].
    Pointwise { table: PointwiseTable },
    /// Softmax over the last axis: see [`crate::nonlinear::softmax`]. With
    /// `causal`, the input is `[.., T, T]` and row `i` (of each matrix) keeps
    /// its first `i + 1` entries.
    Softmax { causal: bool, exp: PointwiseTable },
    /// Layer normalization over the last axis: see
    /// [`crate::nonlinear::layernorm`]; `gamma`, `beta` at scale `s`, `eps` at `2s`.
    LayerNorm {
        gamma: Vec<i64>,
        beta: Vec<i64>,
        eps: i64,
    },
    /// `y[t, j] = table[id_t * dim + j]` for each id of a `token_ids` input;
    /// `table` (`[vocab, dim]`) at scale `s`.
    Gather {
        vocab: usize,
        dim: usize,
        table: Vec<i64>,
    },
    /// Axes permuted: output axis `a` is input axis `perm[a]`. Pure wiring.
    Transpose { perm: Vec<usize> },
    /// `x[.., start..end, ..]` along `axis`. Pure wiring.
    Slice {
        axis: usize,
        start: usize,
        end: usize,
    },
    /// The inputs joined along `axis`. Pure wiring.
    Concat { axis: usize },
}

impl Op {
    /// A short name for reports and layout labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Linear { .. } => "linear",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::AddConst { .. } => "add_const",
            Op::ConstSub { .. } => "const_sub",
            Op::Mul => "mul",
            Op::MulConst { .. } => "mul_const",
            Op::Relu => "relu",
            Op::Reshape => "reshape",
            Op::MatMul { .. } => "matmul",
            Op::Pointwise { .. } => "pointwise",
            Op::Softmax { .. } => "softmax",
            Op::LayerNorm { .. } => "layernorm",
            Op::Gather { .. } => "gather",
            Op::Transpose { .. } => "transpose",
            Op::Slice { .. } => "slice",
            Op::Concat { .. } => "concat",
        }
    }
}

impl QuantizedModel {
    /// Bytes of the `.zkq` file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend(bincode::serialize(self).expect("a QuantizedModel always serializes"));
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, QuantizeError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(QuantizeError::BadZkq(
                "not a .zkq file (missing the ZKQ v002 header; files from older zkinfer versions must be re-quantized)".into(),
            ));
        }
        let model: QuantizedModel = bincode::deserialize(&bytes[MAGIC.len()..])
            .map_err(|e| QuantizeError::BadZkq(format!("corrupt .zkq body: {e}")))?;
        model.validate()?;
        Ok(model)
    }

    pub fn load(path: &Path) -> Result<Self, QuantizeError> {
        let bytes =
            std::fs::read(path).map_err(|e| QuantizeError::Io(path.display().to_string(), e))?;
        Self::from_bytes(&bytes)
    }

    pub fn save(&self, path: &Path) -> Result<(), QuantizeError> {
        std::fs::write(path, self.to_bytes())
            .map_err(|e| QuantizeError::Io(path.display().to_string(), e))
    }

    /// SHA-256 of the file bytes, hex: the model id.
    pub fn id(&self) -> String {
        hex::encode(Sha256::digest(self.to_bytes()))
    }

    /// Which tensors hold integer token ids rather than fixed-point
    /// activations: those a [`Op::Gather`] reads, directly or through
    /// reshapes. Ids are used as they are and bounded by the vocabulary.
    pub fn token_id_tensors(&self) -> Vec<bool> {
        let mut ids = vec![false; self.tensors.len()];
        for node in self.nodes.iter().rev() {
            let feeds_ids = match node.op {
                Op::Gather { .. } => true,
                Op::Reshape => ids[node.output],
                _ => false,
            };
            if feeds_ids {
                for &i in &node.inputs {
                    if i < ids.len() {
                        ids[i] = true;
                    }
                }
            }
        }
        ids
    }

    /// Largest value an activation may take, exclusive: `2^(activation_bits-1)`.
    pub fn activation_limit(&self) -> i64 {
        1i64 << (self.activation_bits - 1)
    }

    /// Structural checks, so a hand-edited or corrupt file is an error here and
    /// not a panic deep inside witness generation.
    pub fn validate(&self) -> Result<(), QuantizeError> {
        let bad = |m: String| Err(QuantizeError::BadZkq(m));
        if self.scale_bits == 0 || self.scale_bits > 24 {
            return bad(format!("scale_bits {} outside 1..=24", self.scale_bits));
        }
        if self.activation_bits <= self.scale_bits || self.activation_bits > 40 {
            return bad(format!(
                "activation_bits {} must be in scale_bits+1..=40",
                self.activation_bits
            ));
        }
        let n = self.tensors.len();
        let mut defined = vec![false; n];
        let ids = self.token_id_tensors();
        for &i in &self.inputs {
            if i >= n {
                return bad(format!("input tensor {i} does not exist"));
            }
            defined[i] = true;
        }
        for node in &self.nodes {
            for &i in &node.inputs {
                if i >= n || !defined[i] {
                    return bad(format!(
                        "node '{}' reads tensor {i} before it is produced",
                        node.name
                    ));
                }
            }
            if node.output >= n {
                return bad(format!(
                    "node '{}' writes a tensor that does not exist",
                    node.name
                ));
            }
            let out_len = self.tensors[node.output].len();
            let in_len = |k: usize| self.tensors[node.inputs[k]].len();
            let arity = match &node.op {
                Op::Add | Op::Sub | Op::Mul | Op::MatMul { .. } => 2,
                Op::Concat { .. } => node.inputs.len().max(1),
                _ => 1,
            };
            if node.inputs.len() != arity {
                return bad(format!(
                    "node '{}' has {} inputs, {} expected",
                    node.name,
                    node.inputs.len(),
                    arity
                ));
            }
            let ok = match &node.op {
                Op::Linear {
                    in_features,
                    out_features,
                    weight,
                    bias,
                } => {
                    let x = &self.tensors[node.inputs[0]].shape;
                    *in_features > 0
                        && x.last() == Some(in_features)
                        && weight.len() == in_features * out_features
                        && bias.as_ref().is_none_or(|b| b.len() == *out_features)
                        && out_len == in_len(0) / in_features * out_features
                }
                Op::Add | Op::Sub | Op::Mul => in_len(0) == out_len && in_len(1) == out_len,
                Op::AddConst { constant }
                | Op::ConstSub { constant }
                | Op::MulConst { constant } => constant.len() == out_len && in_len(0) == out_len,
                Op::Relu | Op::Reshape => in_len(0) == out_len,
                Op::MatMul { m, k, n } => {
                    let batch = in_len(0).checked_div(m * k).unwrap_or(0);
                    batch > 0
                        && in_len(0) == batch * m * k
                        && in_len(1) == batch * k * n
                        && out_len == batch * m * n
                }
                Op::Pointwise { table } => table.is_consistent() && in_len(0) == out_len,
                Op::Softmax { causal, exp } => {
                    let shape = &self.tensors[node.inputs[0]].shape;
                    let t = shape.last().copied().unwrap_or(0);
                    exp.is_consistent()
                        && t > 0
                        && in_len(0) == out_len
                        && (!causal || (shape.len() >= 2 && shape[shape.len() - 2] == t))
                }
                Op::LayerNorm { gamma, beta, eps } => {
                    let d = self.tensors[node.inputs[0]]
                        .shape
                        .last()
                        .copied()
                        .unwrap_or(0);
                    d > 0
                        && gamma.len() == d
                        && beta.len() == d
                        && *eps >= 1
                        && in_len(0) == out_len
                }
                Op::Gather { vocab, dim, table } => {
                    *vocab > 0 && table.len() == vocab * dim && out_len == in_len(0) * dim
                }
                Op::Transpose { perm } => {
                    let shape = &self.tensors[node.inputs[0]].shape;
                    let out = &self.tensors[node.output].shape;
                    let mut sorted = perm.clone();
                    sorted.sort_unstable();
                    sorted == (0..shape.len()).collect::<Vec<_>>()
                        && out.len() == shape.len()
                        && perm.iter().enumerate().all(|(a, &p)| out[a] == shape[p])
                }
                Op::Slice { axis, start, end } => {
                    let shape = &self.tensors[node.inputs[0]].shape;
                    let out = &self.tensors[node.output].shape;
                    *axis < shape.len()
                        && start < end
                        && *end <= shape[*axis]
                        && out.len() == shape.len()
                        && (0..shape.len())
                            .all(|a| out[a] == if a == *axis { end - start } else { shape[a] })
                }
                Op::Concat { axis } => {
                    let out = &self.tensors[node.output].shape;
                    *axis < out.len()
                        && node.inputs.iter().all(|&i| {
                            let s = &self.tensors[i].shape;
                            s.len() == out.len()
                                && (0..s.len()).all(|a| a == *axis || s[a] == out[a])
                        })
                        && node
                            .inputs
                            .iter()
                            .map(|&i| self.tensors[i].shape[*axis])
                            .sum::<usize>()
                            == out[*axis]
                }
            };
            // Token ids are read only by Gather (which checks its input above)
            // and Reshape (which keeps them ids); everything else is arithmetic
            // on activations.
            let reads_ids = node.inputs.iter().any(|&i| ids[i]);
            let writes_ids = ids[node.output];
            let ids_ok = match node.op {
                Op::Gather { .. } => !writes_ids,
                Op::Reshape => writes_ids == reads_ids,
                _ => !reads_ids && !writes_ids,
            };
            if !ids_ok {
                return bad(format!(
                    "node '{}' ({}) mixes token ids and activations",
                    node.name,
                    node.op.kind()
                ));
            }
            if !ok {
                return bad(format!(
                    "node '{}' ({}) has inconsistent shapes",
                    node.name,
                    node.op.kind()
                ));
            }
            defined[node.output] = true;
        }
        for &o in &self.outputs {
            if o >= n || !defined[o] {
                return bad(format!("output tensor {o} is never produced"));
            }
        }
        if self.inputs.is_empty() || self.outputs.is_empty() {
            return bad("a model needs at least one input and one output".into());
        }
        Ok(())
    }
}
