//! `config.json` of the two supported families, with the fields zkinfer
//! reads and transformers' defaults for the optional ones. The dimensions
//! have no default here: a config that lacks one is an error naming the
//! field, rather than a guess that fails later on a tensor's shape.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::QuantizeError;
use crate::float_graph::{FloatOp, Nonlinearity};

/// The architectures [`super::load_hf`] builds, by `model_type`.
pub const SUPPORTED_MODEL_TYPES: [&str; 2] = ["gpt2", "bert"];

#[derive(Clone, Debug, PartialEq)]
pub enum HfConfig {
    Gpt2(Gpt2Config),
    Bert(BertConfig),
}

impl HfConfig {
    /// The `model_type` it was read from.
    pub fn model_type(&self) -> &'static str {
        match self {
            HfConfig::Gpt2(_) => "gpt2",
            HfConfig::Bert(_) => "bert",
        }
    }

    /// Token vocabulary and largest sequence length.
    pub fn vocab_and_positions(&self) -> (usize, usize) {
        match self {
            HfConfig::Gpt2(c) => (c.vocab_size, c.n_positions),
            HfConfig::Bert(c) => (c.vocab_size, c.max_position_embeddings),
        }
    }
}

/// transformers' `GPT2Config`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Gpt2Config {
    pub vocab_size: usize,
    /// Rows of the position table (`n_ctx` in old configs).
    #[serde(alias = "n_ctx")]
    pub n_positions: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    /// The MLP's hidden width; `null` or absent: `4 * n_embd`.
    #[serde(default)]
    pub n_inner: Option<usize>,
    #[serde(default = "gelu_new")]
    pub activation_function: String,
    #[serde(default = "eps_1e_5")]
    pub layer_norm_epsilon: f64,
    /// Scores divided by `sqrt(head_dim)`.
    #[serde(default = "yes")]
    pub scale_attn_weights: bool,
    /// Scores of layer `i` further divided by `i + 1`.
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
    #[serde(default)]
    pub add_cross_attention: bool,
}

/// transformers' `BertConfig`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "two")]
    pub type_vocab_size: usize,
    #[serde(default = "gelu")]
    pub hidden_act: String,
    #[serde(default = "eps_1e_12")]
    pub layer_norm_eps: f64,
    #[serde(default = "absolute")]
    pub position_embedding_type: String,
    #[serde(default)]
    pub is_decoder: bool,
}

fn gelu_new() -> String {
    "gelu_new".into()
}
fn gelu() -> String {
    "gelu".into()
}
fn absolute() -> String {
    "absolute".into()
}
fn eps_1e_5() -> f64 {
    1e-5
}
fn eps_1e_12() -> f64 {
    1e-12
}
fn yes() -> bool {
    true
}
fn two() -> usize {
    2
}

/// Reads `folder/config.json` and checks what the builders rely on.
pub fn read_config(folder: &Path) -> Result<HfConfig, QuantizeError> {
    let path = folder.join("config.json");
    if !path.is_file() {
        return Err(QuantizeError::BadCheckpoint(format!(
            "{} has no config.json: a Hugging Face model folder holds config.json and model.safetensors",
            folder.display()
        )));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| QuantizeError::Io(path.display().to_string(), e))?;
    parse_config(&text).map_err(|e| match e {
        QuantizeError::BadCheckpoint(m) => {
            QuantizeError::BadCheckpoint(format!("{}: {m}", path.display()))
        }
        other => other,
    })
}

/// Parses a `config.json` document (see [`read_config`]).
pub fn parse_config(text: &str) -> Result<HfConfig, QuantizeError> {
    let bad = |m: String| QuantizeError::BadCheckpoint(m);
    let value: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let model_type = match value.get("model_type") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => return Err(bad(format!("model_type is {other}, not a string"))),
        None => return Err(bad("no model_type field".into())),
    };
    let config = match model_type.as_str() {
        "gpt2" => HfConfig::Gpt2(
            serde_json::from_value(value).map_err(|e| bad(format!("gpt2 config: {e}")))?,
        ),
        "bert" => HfConfig::Bert(
            serde_json::from_value(value).map_err(|e| bad(format!("bert config: {e}")))?,
        ),
        other => {
            return Err(QuantizeError::UnsupportedCheckpoint(format!(
                "model_type '{other}' in config.json; supported: {}",
                SUPPORTED_MODEL_TYPES.join(", ")
            )))
        }
    };
    check(&config)?;
    Ok(config)
}

fn check(config: &HfConfig) -> Result<(), QuantizeError> {
    let bad = |m: String| Err(QuantizeError::BadCheckpoint(m));
    let unsupported = |m: &str| Err(QuantizeError::UnsupportedCheckpoint(m.to_string()));
    let (dims, width, heads, eps) = match config {
        HfConfig::Gpt2(c) => {
            if c.add_cross_attention {
                return unsupported("gpt2 with add_cross_attention (an encoder-decoder model)");
            }
            activation(&c.activation_function, "activation_function")?;
            (
                vec![
                    ("vocab_size", c.vocab_size),
                    ("n_positions", c.n_positions),
                    ("n_embd", c.n_embd),
                    ("n_layer", c.n_layer),
                    ("n_head", c.n_head),
                    ("n_inner", c.n_inner.unwrap_or(1)),
                ],
                ("n_embd", c.n_embd),
                ("n_head", c.n_head),
                ("layer_norm_epsilon", c.layer_norm_epsilon),
            )
        }
        HfConfig::Bert(c) => {
            if c.is_decoder {
                return unsupported("bert with is_decoder (a causal BERT)");
            }
            if c.position_embedding_type != "absolute" {
                return Err(QuantizeError::UnsupportedCheckpoint(format!(
                    "bert position_embedding_type '{}'; only 'absolute' is supported",
                    c.position_embedding_type
                )));
            }
            activation(&c.hidden_act, "hidden_act")?;
            (
                vec![
                    ("vocab_size", c.vocab_size),
                    ("hidden_size", c.hidden_size),
                    ("num_hidden_layers", c.num_hidden_layers),
                    ("num_attention_heads", c.num_attention_heads),
                    ("intermediate_size", c.intermediate_size),
                    ("max_position_embeddings", c.max_position_embeddings),
                    ("type_vocab_size", c.type_vocab_size),
                ],
                ("hidden_size", c.hidden_size),
                ("num_attention_heads", c.num_attention_heads),
                ("layer_norm_eps", c.layer_norm_eps),
            )
        }
    };
    if let Some((field, _)) = dims.iter().find(|(_, v)| *v == 0) {
        return bad(format!("{field} is 0"));
    }
    if width.1 % heads.1 != 0 {
        return bad(format!(
            "{} = {} is not a multiple of {} = {}",
            width.0, width.1, heads.0, heads.1
        ));
    }
    if !(eps.1.is_finite() && eps.1 >= 0.0) {
        return bad(format!(
            "{} = {} is not a non-negative number",
            eps.0, eps.1
        ));
    }
    Ok(())
}

/// The float op of a transformers activation name (`ACT2FN`). `gelu_fast`
/// is `gelu_new` written as `x·(1 + 0.044715·x²)`: the same function.
pub fn activation(name: &str, field: &str) -> Result<FloatOp, QuantizeError> {
    Ok(match name {
        "gelu" => FloatOp::Pointwise {
            func: Nonlinearity::Gelu,
        },
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => FloatOp::Pointwise {
            func: Nonlinearity::GeluTanh,
        },
        "relu" => FloatOp::Relu,
        other => {
            return Err(QuantizeError::UnsupportedCheckpoint(format!(
                "{field} '{other}' in config.json; supported: gelu, gelu_new, \
                 gelu_pytorch_tanh, gelu_fast, relu"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GPT2: &str = r#"{"model_type": "gpt2", "vocab_size": 256, "n_positions": 32,
        "n_embd": 64, "n_layer": 2, "n_head": 4, "n_inner": null}"#;

    #[test]
    fn gpt2_defaults_are_transformers_defaults() {
        let HfConfig::Gpt2(c) = parse_config(GPT2).unwrap() else {
            panic!()
        };
        assert_eq!(c.activation_function, "gelu_new");
        assert_eq!(c.layer_norm_epsilon, 1e-5);
        assert!(c.scale_attn_weights && !c.scale_attn_by_inverse_layer_idx);
        assert_eq!(c.n_inner, None);
    }

    #[test]
    fn malformed_configs_name_the_problem() {
        let err = |text: &str| parse_config(text).unwrap_err().to_string();
        assert!(err("{").contains("not valid JSON"), "{}", err("{"));
        assert!(err("{}").contains("no model_type field"));
        let e = err(r#"{"model_type": "llama"}"#);
        assert!(
            e.contains("unsupported Hugging Face model: model_type 'llama'")
                && e.contains("gpt2, bert"),
            "{e}"
        );
        let e = err(r#"{"model_type": "gpt2", "vocab_size": 256}"#);
        assert!(e.contains("missing field `n_positions`"), "{e}");
        let e = err(&GPT2.replace("\"n_head\": 4", "\"n_head\": 5"));
        assert!(
            e.contains("n_embd = 64 is not a multiple of n_head = 5"),
            "{e}"
        );
        let e = err(&GPT2.replace("\"n_inner\": null", "\"activation_function\": \"silu\""));
        assert!(e.contains("activation_function 'silu'"), "{e}");
        let bert = r#"{"model_type": "bert", "vocab_size": 8, "hidden_size": 4,
            "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8,
            "max_position_embeddings": 4, "position_embedding_type": "relative_key"}"#;
        assert!(err(bert).contains("position_embedding_type 'relative_key'"));
    }
}
