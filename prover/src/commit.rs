//! The commitments a creator publishes and a requester sends, for the CLI:
//! what the model commitment covers, and the input commitment of an input
//! as the user gives it ([`zkinfer_circuits::commitment`] computes both;
//! the model commitment is its `model_commitment`).

use halo2curves::bn256::Fr;
use zkinfer_circuits::commitment::{self, ModelParameters};
use zkinfer_circuits::public::pack_words;
use zkinfer_quantizer::QuantizedModel;

use crate::error::ProverError;

/// What the model commitment covers, for the printout of `zkinfer commit`.
pub struct CommitmentSummary {
    pub parameters: usize,
    pub weight_bits: u32,
    pub bias_bits: u32,
    pub words: usize,
}

pub fn summary(model: &QuantizedModel) -> CommitmentSummary {
    let params = ModelParameters::of(model);
    let (weight_bits, bias_bits) = params.lane_bits();
    CommitmentSummary {
        parameters: params.len(),
        weight_bits,
        bias_bits,
        words: commitment::model_words(&params).map_or(0, |w| w.len()),
    }
}

/// The input commitment of already-quantized `inputs` (one vector per model
/// input) with `salt`: what a proof with a hashed input carries instead of
/// the input.
pub fn input_commitment(
    model: &QuantizedModel,
    inputs: &[Vec<i64>],
    salt: Fr,
) -> Result<Fr, ProverError> {
    let bits = model.activation_bits;
    let words = pack_words(&inputs.concat(), bits).map_err(|e| {
        ProverError::BadInput(format!("the input does not fit the model's lanes: {e}"))
    })?;
    Ok(commitment::input_commitment(&words, bits, salt))
}
