//! Hugging Face checkpoints: a folder with `config.json` and
//! `model.safetensors`, built into a [`FloatGraph`] by zkinfer itself.
//!
//! Two families, by `model_type`:
//! - `gpt2` ([`gpt2`]): pre-layer-norm blocks, tanh GELU (`gelu_new`),
//!   causal attention, the LM head tied to the token embedding; output
//!   `logits`.
//! - `bert` ([`bert`]): post-layer-norm layers, erf GELU, word + position +
//!   token-type embeddings; outputs `last_hidden_state` and, when the
//!   checkpoint has a pooler, `pooler_output`.
//!
//! Both take token ids (`input_ids`, `[1, T]`) and are built for one
//! sequence length `T`, chosen by the caller (the quantized model, and so
//! the circuit, proves exactly `T` tokens): default [`DEFAULT_SEQ_LEN`],
//! the length of the bundled models' samples.
//!
//! The graphs use the ops the ONNX importer produces for the same modules
//! (fused `LayerNorm`, `Pointwise` GELU, `Softmax { causal }`, `Gather` for
//! the embedding, `Linear` for every projection, `MatMul` with
//! reshapes/transposes for the heads), so a checkpoint and its ONNX export
//! quantize alike. There is no independent runtime for checkpoints here:
//! the float reference of their accuracy report is the graph's own f64
//! evaluation, and the builders are tested against tract running ONNX
//! exports of the same weights (`models/*_hf` beside `models/*.onnx`).

mod attention;
pub mod bert;
mod builder;
pub mod config;
pub mod gpt2;
pub mod weights;

#[cfg(test)]
mod tests;

use std::path::Path;

use crate::error::QuantizeError;
use crate::float_graph::FloatGraph;
use crate::inputs::InputShape;
pub use config::{read_config, HfConfig};
pub use weights::Weights;

/// Tokens per sequence when the caller does not choose: the bundled
/// transformers' samples hold 16 token ids.
pub const DEFAULT_SEQ_LEN: usize = 16;

/// Whether `path` looks like a Hugging Face model folder (a directory with
/// a `config.json`) rather than a model file.
pub fn is_hf_folder(path: &Path) -> bool {
    path.is_dir() && path.join("config.json").is_file()
}

/// Reads the folder and builds its float graph for `seq_len` tokens.
pub fn load_hf(folder: &Path, seq_len: usize) -> Result<FloatGraph, QuantizeError> {
    let config = read_config(folder)?;
    check_seq_len(&config, seq_len)?;
    let name = folder_name(folder);
    let (weights, mut graph) = match &config {
        HfConfig::Gpt2(c) => {
            let w = Weights::open(folder, "transformer")?;
            let g = gpt2::build(c, &w, seq_len, &name)?;
            (w, g)
        }
        HfConfig::Bert(c) => {
            let w = Weights::open(folder, "bert")?;
            let g = bert::build(c, &w, seq_len, &name)?;
            (w, g)
        }
    };
    let (vocab, _) = config.vocab_and_positions();
    graph.notes.insert(
        0,
        format!("input 'input_ids' holds token ids: integers in [0, {vocab}), used unscaled"),
    );
    let unused = weights.unused();
    if !unused.is_empty() {
        const SHOWN: usize = 4;
        let more = unused.len().saturating_sub(SHOWN);
        graph.notes.push(format!(
            "{} stored tensor(s) not used by the {} base model: {}{}",
            unused.len(),
            config.model_type(),
            unused[..unused.len().min(SHOWN)].join(", "),
            if more > 0 {
                format!(", ... ({more} more)")
            } else {
                String::new()
            }
        ));
    }
    Ok(graph)
}

/// The model's input (`input_ids`, `[1, seq_len]`, token ids), from
/// `config.json` alone.
pub fn input_shapes(folder: &Path, seq_len: usize) -> Result<Vec<InputShape>, QuantizeError> {
    let config = read_config(folder)?;
    check_seq_len(&config, seq_len)?;
    let (vocab, _) = config.vocab_and_positions();
    Ok(vec![InputShape {
        name: "input_ids".into(),
        shape: vec![1, seq_len],
        vocab: Some(vocab),
    }])
}

/// The folder's own name ("gpt2_2layer_hf"), the model's default name.
pub fn folder_name(folder: &Path) -> String {
    folder
        .canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(folder)
        .file_name()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
}

fn check_seq_len(config: &HfConfig, seq_len: usize) -> Result<(), QuantizeError> {
    let (_, positions) = config.vocab_and_positions();
    if seq_len == 0 || seq_len > positions {
        return Err(QuantizeError::BadInput(format!(
            "sequence length {seq_len}: the {} model takes 1 to {positions} tokens \
             (its position table's rows)",
            config.model_type()
        )));
    }
    Ok(())
}
