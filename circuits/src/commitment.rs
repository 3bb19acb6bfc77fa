//! The model commitment and the input commitment: Poseidon hashes
//! ([`crate::poseidon`]) of packed integers, computed the same way here and
//! in the circuit ([`crate::chips::poseidon`]).
//!
//! # Model commitment
//!
//! A model's *parameters* are every constant its nodes carry, in node order:
//! a linear layer's weight (row-major `[in, out]`) then its bias, the
//! constant of `add_const`, `const_sub` and `mul_const`, a layer norm's gamma
//! then beta, an embedding table. They fall in two groups: the biases (at
//! scale `2s`, wide) and everything else (at scale `s`), each packed into
//! words like the public values ([`crate::public::pack_words`]) with its own
//! lane width, the fewest signed bits that hold the group's largest value.
//! The commitment is
//!
//! ```text
//! Poseidon(iv, weight words ‖ bias words),
//! iv = 1·2^96 + weight_bits·2^80 + bias_bits·2^64 + number of words
//! ```
//!
//! It depends on the values and the lane widths alone, not on the circuit's
//! layout, so it names the model across zkinfer versions that lay it out
//! differently. What stays public with private weights is the architecture:
//! the graph, the shapes, the scales, the layer norms' `eps`, the nonlinear
//! functions' tables and the two lane widths.
//!
//! # Input commitment
//!
//! `Poseidon(2·2^96 + lane_bits·2^80 + number of words, salt ‖ input words)`,
//! the input words being exactly those a public input would put among the
//! instances and the salt a field element the requester chooses and gives
//! the prover (a private witness of the circuit). With a random salt the
//! commitment hides the input; with salt 0 it hides the input only as well
//! as the input is hard to guess (whoever can list the likely inputs can
//! hash each and compare).

use halo2curves::bn256::Fr;
use zkinfer_quantizer::{Op, QuantizedModel};

use crate::chips::nonlinear::bits_for;
use crate::field::fr_from_i128;
use crate::poseidon;
use crate::public::{pack_words, PackError};

const WEIGHTS_TAG: i128 = 1;
const INPUT_TAG: i128 = 2;

/// Every parameter of a model, in the order the commitment takes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelParameters {
    /// Scale-`s` parameters, in node order.
    pub weights: Vec<i64>,
    /// Linear biases (scale `2s`), in node order.
    pub biases: Vec<i64>,
    /// For each node, where its parameters start in `weights` and `biases`.
    pub offsets: Vec<(usize, usize)>,
}

impl ModelParameters {
    pub fn of(model: &QuantizedModel) -> Self {
        let mut out = ModelParameters::default();
        for node in &model.nodes {
            out.offsets.push((out.weights.len(), out.biases.len()));
            match &node.op {
                Op::Linear { weight, bias, .. } => {
                    out.weights.extend_from_slice(weight);
                    out.biases.extend(bias.iter().flatten());
                }
                Op::AddConst { constant }
                | Op::ConstSub { constant }
                | Op::MulConst { constant } => out.weights.extend_from_slice(constant),
                Op::LayerNorm { gamma, beta, .. } => {
                    out.weights.extend_from_slice(gamma);
                    out.weights.extend_from_slice(beta);
                }
                Op::Gather { table, .. } => out.weights.extend_from_slice(table),
                _ => {}
            }
        }
        out
    }

    /// Lane widths `(weight_bits, bias_bits)`: signed widths that hold every
    /// value of each group (0 for an empty group).
    pub fn lane_bits(&self) -> (u32, u32) {
        (signed_bits(&self.weights), signed_bits(&self.biases))
    }

    pub fn len(&self) -> usize {
        self.weights.len() + self.biases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Fewest signed bits `b` with every value in `[−2^(b−1), 2^(b−1))`; at
/// least 2, 0 for no values.
pub fn signed_bits(values: &[i64]) -> u32 {
    let Some(top) = values
        .iter()
        .map(|&v| if v < 0 { !v } else { v } as u128)
        .max()
    else {
        return 0;
    };
    (bits_for(top) + 1).max(2)
}

/// The words the model commitment hashes: weight words then bias words.
pub fn model_words(params: &ModelParameters) -> Result<Vec<Fr>, PackError> {
    let (wb, bb) = params.lane_bits();
    let mut words = pack_words(&params.weights, wb)?;
    words.extend(pack_words(&params.biases, bb)?);
    Ok(words)
}

/// The IV of the model commitment over `words` words.
pub fn model_iv(weight_bits: u32, bias_bits: u32, words: usize) -> Fr {
    fr_from_i128(
        (WEIGHTS_TAG << 96)
            + (i128::from(weight_bits) << 80)
            + (i128::from(bias_bits) << 64)
            + words as i128,
    )
}

/// The model commitment: what `zkinfer commit` prints and a private-weights
/// proof carries as its first instance.
pub fn model_commitment(model: &QuantizedModel) -> Fr {
    let params = ModelParameters::of(model);
    let (wb, bb) = params.lane_bits();
    let words = model_words(&params).expect("lane widths are chosen to fit every value");
    poseidon::hash(model_iv(wb, bb, words.len()), &words)
}

/// The IV of the input commitment over `words` words of `lane_bits` lanes.
pub fn input_iv(lane_bits: u32, words: usize) -> Fr {
    fr_from_i128((INPUT_TAG << 96) + (i128::from(lane_bits) << 80) + words as i128)
}

/// The input commitment over the packed input words and `salt`.
pub fn input_commitment(words: &[Fr], lane_bits: u32, salt: Fr) -> Fr {
    let message: Vec<Fr> = std::iter::once(salt).chain(words.iter().copied()).collect();
    poseidon::hash(input_iv(lane_bits, words.len()), &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_widths_hold_their_extremes() {
        assert_eq!(signed_bits(&[]), 0);
        assert_eq!(signed_bits(&[0]), 2);
        assert_eq!(signed_bits(&[1]), 2);
        assert_eq!(signed_bits(&[-2, 1]), 2);
        assert_eq!(signed_bits(&[2]), 3);
        assert_eq!(signed_bits(&[-3]), 3);
        assert_eq!(signed_bits(&[127, -128]), 8);
        assert_eq!(signed_bits(&[128]), 9);
    }

    #[test]
    fn ivs_separate_their_domains() {
        assert_ne!(model_iv(8, 0, 3), input_iv(8, 3));
        assert_ne!(model_iv(8, 0, 3), model_iv(8, 0, 4));
        assert_ne!(model_iv(8, 9, 3), model_iv(9, 8, 3));
    }

    #[test]
    fn input_commitment_changes_with_any_word() {
        let words = [Fr::from(5), Fr::from(7), Fr::from(9)];
        let salt = Fr::from(11);
        let base = input_commitment(&words, 16, salt);
        for i in 0..words.len() {
            let mut other = words;
            other[i] += Fr::from(1);
            assert_ne!(input_commitment(&other, 16, salt), base);
        }
        assert_ne!(input_commitment(&words[..2], 16, salt), base);
        assert_ne!(input_commitment(&words, 16, salt + Fr::from(1)), base);
    }
}
