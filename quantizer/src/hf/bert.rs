//! BERT (`BertModel` checkpoints, or the `bert.` base of a `BertFor*`
//! one) as a float graph, as `BertModel(input_ids)` computes it:
//!
//! ```text
//! input_ids [1, T] -> word_embeddings + (position_embeddings[0..T] + token_type_embeddings[0])
//!                  -> embeddings.LayerNorm
//! per layer encoder.layer.i (post-LN):
//!     x = attention.output.LayerNorm(x + attention.output.dense(attention(q(x), k(x), v(x))))
//!     x = output.LayerNorm(x + output.dense(act(intermediate.dense(x))))     act: erf GELU
//! -> last_hidden_state [1, T, D]
//! pooler (if stored): tanh(pooler.dense(x[:, 0])) -> pooler_output [1, D]
//! ```
//!
//! With only `input_ids`, transformers uses token type 0 everywhere and
//! attends over every token; both are constants here (one constant added
//! after the word embedding). `nn.Linear` weights are `[out, in]` and are
//! transposed on reading.

use super::attention::{self_attention, SelfAttention};
use super::builder::{Dense, GraphBuilder};
use super::config::{activation, BertConfig};
use super::weights::Weights;
use crate::error::QuantizeError;
use crate::float_graph::{FloatGraph, FloatOp, Nonlinearity};

/// The graph of `cfg` with `w`'s weights for `seq_len` tokens.
pub fn build(
    cfg: &BertConfig,
    w: &Weights,
    seq_len: usize,
    name: &str,
) -> Result<FloatGraph, QuantizeError> {
    let (d, v, t) = (cfg.hidden_size, cfg.vocab_size, seq_len);
    let act = activation(&cfg.hidden_act, "hidden_act")?;
    let eps = cfg.layer_norm_eps;
    let linear = |module: &str, n_in: usize, n_out: usize| -> Result<Dense, QuantizeError> {
        Ok(Dense {
            n_in,
            n_out,
            weight: w.linear(module, n_in, n_out)?,
            bias: Some(w.tensor(&format!("{module}.bias"), &[n_out])?),
        })
    };

    let mut b = GraphBuilder::new(name);
    let ids = b.input("input_ids", vec![1, t]);
    let words = w.tensor("embeddings.word_embeddings.weight", &[v, d])?;
    let positions = w.tensor(
        "embeddings.position_embeddings.weight",
        &[cfg.max_position_embeddings, d],
    )?;
    let types = w.tensor(
        "embeddings.token_type_embeddings.weight",
        &[cfg.type_vocab_size, d],
    )?;
    let x = b.push(
        "embeddings.word_embeddings",
        "Embedding",
        FloatOp::Gather {
            vocab: v,
            dim: d,
            table: words,
        },
        vec![ids],
        vec![1, t, d],
    );
    let fixed: Vec<f64> = positions[..t * d]
        .iter()
        .enumerate()
        .map(|(i, p)| p + types[i % d])
        .collect();
    let x = b.add_const(
        "embeddings.position_and_token_type",
        "Embedding (positions, token type 0)",
        x,
        fixed,
    );
    let mut x = b.layer_norm(
        "embeddings.LayerNorm",
        x,
        w.layer_norm("embeddings.LayerNorm", d)?,
        eps,
    );
    let spec = SelfAttention {
        heads: cfg.num_attention_heads,
        scale: 1.0 / ((d / cfg.num_attention_heads) as f64).sqrt(),
        causal: false,
    };
    for i in 0..cfg.num_hidden_layers {
        let p = format!("encoder.layer.{i}");
        let s = format!("{p}.attention.self");
        let mut project = |what: &str| -> Result<_, QuantizeError> {
            let module = format!("{s}.{what}");
            let dense = linear(&module, d, d)?;
            Ok(b.linear(&module, "Linear", x, dense))
        };
        let qkv = [project("query")?, project("key")?, project("value")?];
        let a = self_attention(&mut b, &s, qkv, &spec);
        let o = format!("{p}.attention.output");
        let h = b.linear(
            &format!("{o}.dense"),
            "Linear",
            a,
            linear(&format!("{o}.dense"), d, d)?,
        );
        let h = b.add(&format!("{o}.residual"), h, x);
        x = b.layer_norm(
            &format!("{o}.LayerNorm"),
            h,
            w.layer_norm(&format!("{o}.LayerNorm"), d)?,
            eps,
        );
        let m = format!("{p}.intermediate.dense");
        let h = b.linear(&m, "Linear", x, linear(&m, d, cfg.intermediate_size)?);
        let h = b.activation(&format!("{p}.intermediate.act"), h, act.clone());
        let o = format!("{p}.output");
        let dense = linear(&format!("{o}.dense"), cfg.intermediate_size, d)?;
        let h = b.linear(&format!("{o}.dense"), "Linear", h, dense);
        let h = b.add(&format!("{o}.residual"), h, x);
        x = b.layer_norm(
            &format!("{o}.LayerNorm"),
            h,
            w.layer_norm(&format!("{o}.LayerNorm"), d)?,
            eps,
        );
    }
    let mut outputs = vec![(x, "last_hidden_state")];
    if w.contains("pooler.dense.weight") {
        let first = b.slice("pooler.first_token", x, 1, 0, 1);
        let first = b.reshape("pooler.first_token_flat", first, vec![1, d]);
        let pooled = b.linear(
            "pooler.dense",
            "Linear",
            first,
            linear("pooler.dense", d, d)?,
        );
        let tanh = FloatOp::Pointwise {
            func: Nonlinearity::Tanh,
        };
        outputs.push((
            b.activation("pooler.activation", pooled, tanh),
            "pooler_output",
        ));
    } else {
        b.note("no pooler.dense.weight stored: last_hidden_state is the only output".into());
    }
    b.note(format!(
        "Hugging Face bert: {} layers, {} heads, width {d}, intermediate {}, {}; built for {t} \
         tokens (positions 0..{t} of {}), token type 0, no padding mask",
        cfg.num_hidden_layers,
        cfg.num_attention_heads,
        cfg.intermediate_size,
        cfg.hidden_act,
        cfg.max_position_embeddings
    ));
    Ok(b.finish(&outputs))
}
