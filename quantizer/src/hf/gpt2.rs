//! GPT-2 (`GPT2LMHeadModel` / `GPT2Model` checkpoints) as a float graph:
//!
//! ```text
//! input_ids [1, T] -> wte (Embedding) + wpe[0..T] (a constant: positions are fixed)
//! per block h.i:  x = x + attn.c_proj(attention(attn.c_attn(ln_1(x))))   causal
//!                 x = x + mlp.c_proj(act(mlp.c_fc(ln_2(x))))              act: gelu_new
//! ln_f -> lm_head (tied: wte transposed, unless lm_head.weight is stored) -> logits [1, T, V]
//! ```
//!
//! `Conv1D` weights are stored `[in, out]` and used as they are; `c_attn`
//! computes q, k and v together (`[D, 3D]`), split along the last axis.

use super::attention::{self_attention, SelfAttention};
use super::builder::{Dense, GraphBuilder};
use super::config::{activation, Gpt2Config};
use super::weights::{transpose, Weights};
use crate::error::QuantizeError;
use crate::float_graph::FloatGraph;

/// The graph of `cfg` with `w`'s weights for `seq_len` tokens.
pub fn build(
    cfg: &Gpt2Config,
    w: &Weights,
    seq_len: usize,
    name: &str,
) -> Result<FloatGraph, QuantizeError> {
    let (d, v, t) = (cfg.n_embd, cfg.vocab_size, seq_len);
    let inner = cfg.n_inner.unwrap_or(4 * d);
    let act = activation(&cfg.activation_function, "activation_function")?;
    let eps = cfg.layer_norm_epsilon;
    let conv1d = |module: &str, n_in: usize, n_out: usize| -> Result<Dense, QuantizeError> {
        Ok(Dense {
            n_in,
            n_out,
            weight: w.tensor(&format!("{module}.weight"), &[n_in, n_out])?,
            bias: Some(w.tensor(&format!("{module}.bias"), &[n_out])?),
        })
    };

    let mut b = GraphBuilder::new(name);
    let ids = b.input("input_ids", vec![1, t]);
    let wte = w.tensor("wte.weight", &[v, d])?;
    let wpe = w.tensor("wpe.weight", &[cfg.n_positions, d])?;
    let x = b.push(
        "wte",
        "Embedding",
        crate::float_graph::FloatOp::Gather {
            vocab: v,
            dim: d,
            table: wte.clone(),
        },
        vec![ids],
        vec![1, t, d],
    );
    let mut x = b.add_const("wpe", "Embedding (positions)", x, wpe[..t * d].to_vec());
    for i in 0..cfg.n_layer {
        let p = format!("h.{i}");
        let h = b.layer_norm(
            &format!("{p}.ln_1"),
            x,
            w.layer_norm(&format!("{p}.ln_1"), d)?,
            eps,
        );
        let qkv = b.linear(
            &format!("{p}.attn.c_attn"),
            "Conv1D",
            h,
            conv1d(&format!("{p}.attn.c_attn"), d, 3 * d)?,
        );
        let q = b.slice(&format!("{p}.attn.query"), qkv, 2, 0, d);
        let k = b.slice(&format!("{p}.attn.key"), qkv, 2, d, 2 * d);
        let val = b.slice(&format!("{p}.attn.value"), qkv, 2, 2 * d, 3 * d);
        let mut scale = if cfg.scale_attn_weights {
            1.0 / ((d / cfg.n_head) as f64).sqrt()
        } else {
            1.0
        };
        if cfg.scale_attn_by_inverse_layer_idx {
            scale /= (i + 1) as f64;
        }
        let spec = SelfAttention {
            heads: cfg.n_head,
            scale,
            causal: true,
        };
        let a = self_attention(&mut b, &format!("{p}.attn"), [q, k, val], &spec);
        let a = b.linear(
            &format!("{p}.attn.c_proj"),
            "Conv1D",
            a,
            conv1d(&format!("{p}.attn.c_proj"), d, d)?,
        );
        x = b.add(&format!("{p}.attn_residual"), a, x);
        let h = b.layer_norm(
            &format!("{p}.ln_2"),
            x,
            w.layer_norm(&format!("{p}.ln_2"), d)?,
            eps,
        );
        let h = b.linear(
            &format!("{p}.mlp.c_fc"),
            "Conv1D",
            h,
            conv1d(&format!("{p}.mlp.c_fc"), d, inner)?,
        );
        let h = b.activation(&format!("{p}.mlp.act"), h, act.clone());
        let h = b.linear(
            &format!("{p}.mlp.c_proj"),
            "Conv1D",
            h,
            conv1d(&format!("{p}.mlp.c_proj"), inner, d)?,
        );
        x = b.add(&format!("{p}.mlp_residual"), x, h);
    }
    let x = b.layer_norm("ln_f", x, w.layer_norm("ln_f", d)?, eps);
    // nn.Linear [V, D], usually the same tensor as wte and then not saved.
    let head = match w.optional("lm_head.weight", &[v, d])? {
        Some(head) => head,
        None => wte,
    };
    let head = Dense {
        n_in: d,
        n_out: v,
        weight: transpose(&head, v, d),
        bias: None,
    };
    let logits = b.linear("lm_head", "Linear", x, head);
    b.note(format!(
        "Hugging Face gpt2: {} layers, {} heads, width {d}, MLP {inner}, {}; built for {t} tokens \
         (positions 0..{t} of {}), no padding mask",
        cfg.n_layer, cfg.n_head, cfg.activation_function, cfg.n_positions
    ));
    if !w.contains("lm_head.weight") {
        b.note("lm_head tied to wte (no lm_head.weight stored)".into());
    }
    Ok(b.finish(&[(logits, "logits")]))
}
