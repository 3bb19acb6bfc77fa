//! Multi-head self-attention from projected queries, keys and values, with
//! the op sequence the ONNX importer produces for transformers' eager
//! attention (so both paths quantize and prove alike):
//!
//! ```text
//! q, k, v [1, T, D] -> Reshape [1, T, H, d] -> Transpose [1, H, T, d]
//! scores = MatMul(q, Transpose(k) [1, H, d, T]) · scale      [1, H, T, T]
//! probs  = Softmax(scores), causal: row i keeps keys 0..=i
//! ctx    = MatMul(probs, v) -> Transpose [1, T, H, d] -> Reshape [1, T, D]
//! ```
//!
//! No padding mask: every token of the sequence is real.

use super::builder::GraphBuilder;
use crate::float_graph::FloatOp;
use crate::model::TensorId;

pub struct SelfAttention {
    pub heads: usize,
    /// Multiplies the scores: `1/sqrt(d)` in both families.
    pub scale: f64,
    pub causal: bool,
}

/// The attention context `[1, T, D]` of `q`, `k`, `v` (each `[1, T, D]`);
/// nodes are named `{name}.<step>`.
pub fn self_attention(
    b: &mut GraphBuilder,
    name: &str,
    [q, k, v]: [TensorId; 3],
    spec: &SelfAttention,
) -> TensorId {
    let &[batch, t, d] = b.shape(q) else {
        unreachable!("the builders pass [1, T, D] activations")
    };
    let (h, hd) = (spec.heads, d / spec.heads);
    let mut heads = |x: TensorId, tag: &str| {
        let split = b.reshape(&format!("{name}.{tag}_heads"), x, vec![batch, t, h, hd]);
        b.transpose(&format!("{name}.{tag}_by_head"), split, vec![0, 2, 1, 3])
    };
    let (q, k, v) = (heads(q, "query"), heads(k, "key"), heads(v, "value"));
    let k_t = b.transpose(&format!("{name}.key_t"), k, vec![0, 1, 3, 2]);
    let mut scores = b.push(
        &format!("{name}.scores"),
        "MatMul",
        FloatOp::MatMul { m: t, k: hd, n: t },
        vec![q, k_t],
        vec![batch, h, t, t],
    );
    if spec.scale != 1.0 {
        let constant = vec![spec.scale; batch * h * t * t];
        scores = b.push(
            &format!("{name}.scaled_scores"),
            "Scale",
            FloatOp::MulConst { constant },
            vec![scores],
            vec![batch, h, t, t],
        );
    }
    let probs = b.push(
        &format!("{name}.softmax"),
        "Softmax",
        FloatOp::Softmax {
            causal: spec.causal,
        },
        vec![scores],
        vec![batch, h, t, t],
    );
    let ctx = b.push(
        &format!("{name}.context"),
        "MatMul",
        FloatOp::MatMul { m: t, k: t, n: hd },
        vec![probs, v],
        vec![batch, h, t, hd],
    );
    let ctx = b.transpose(&format!("{name}.context_by_token"), ctx, vec![0, 2, 1, 3]);
    b.reshape(&format!("{name}.merge_heads"), ctx, vec![batch, t, d])
}
