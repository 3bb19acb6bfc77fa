use thiserror::Error;
use zkinfer_quantizer::QuantizeError;

/// Why a model cannot be laid out as a circuit, or why a witness cannot be made.
#[derive(Debug, Error)]
pub enum CircuitError {
    /// The model file is inconsistent, or integer inference rejected the input
    /// (wrong shape, a value outside the calibrated range, ...).
    #[error(transparent)]
    Model(#[from] QuantizeError),
    /// A public value does not fit the instance format.
    #[error(transparent)]
    Public(#[from] crate::public::PackError),
    /// A product could exceed the bound under which field arithmetic equals
    /// integer arithmetic.
    #[error(
        "node '{node}' ({op}): its accumulator can reach 2^{bits} in magnitude, above the 2^{limit} \
         the circuit proves without wrapping around the field; the weights or constants are too large"
    )]
    Overflow {
        node: String,
        op: &'static str,
        bits: u32,
        limit: u32,
    },
    /// The model needs more rows than the largest supported circuit.
    #[error(
        "the model needs {rows} rows even with {advice_columns} advice columns, more than a circuit of \
         2^{max_k} rows holds"
    )]
    TooLarge {
        rows: usize,
        advice_columns: usize,
        max_k: u32,
    },
    /// A transformer op's constants are outside what its chip proves.
    #[error("node '{node}' ({op}): {reason}")]
    Nonlinear {
        node: String,
        op: &'static str,
        reason: String,
    },
    /// A visibility the model's ops cannot have.
    #[error("node '{node}' ({op}): {reason}")]
    Visibility {
        node: String,
        op: String,
        reason: String,
    },
    /// Synthesis failed while measuring the layout (a bug, not a user error).
    #[error("laying out the circuit failed: {0}")]
    Synthesis(String),
}
