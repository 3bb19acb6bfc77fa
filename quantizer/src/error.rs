use thiserror::Error;

/// Everything that can go wrong between a model file and a quantized model.
/// Each message names what the user can fix: the file, the node, the tensor.
#[derive(Debug, Error)]
pub enum QuantizeError {
    #[error("cannot read or write {0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("malformed ONNX model: {0}")]
    BadOnnx(String),
    /// A Hugging Face model folder that contradicts itself or the format
    /// (config.json, model.safetensors): a missing or misshapen tensor, bad JSON.
    #[error("malformed Hugging Face checkpoint: {0}")]
    BadCheckpoint(String),
    /// A well-formed Hugging Face model that zkinfer does not build (another
    /// architecture, activation or option).
    #[error("unsupported Hugging Face model: {0}")]
    UnsupportedCheckpoint(String),
    #[error("unsupported op '{op}' at node '{node}'{hint}")]
    UnsupportedOp {
        op: String,
        node: String,
        hint: String,
    },
    #[error("invalid .zkq file: {0}")]
    BadZkq(String),
    #[error("bad input: {0}")]
    BadInput(String),
    #[error(
        "tensor '{tensor}' (produced by {producer}) reaches {value}, outside the calibrated range \
         ±{limit} by {excess}; re-quantize with calibration samples that cover this input"
    )]
    OutOfRange {
        tensor: String,
        producer: String,
        value: f64,
        limit: f64,
        excess: f64,
    },
    #[error("calibration: {0}")]
    Calibration(String),
    #[error("float reference (tract) failed: {0}")]
    Reference(String),
}
