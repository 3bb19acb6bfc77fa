//! How a model's public values become public instances.
//!
//! Every public instance costs a verifier on a chain about 32 bytes of
//! calldata and a few hundred gas of Lagrange arithmetic, whatever the value
//! it carries. A model's inputs and outputs are `B`-bit signed activations
//! (`B = activation_bits ≤ 40`), so one field element can carry many of
//! them: the *packed* format puts `L = ⌊253 / B⌋` values in each instance.
//!
//! # Format (packed)
//!
//! The inputs (flattened, in `model.inputs` order) and the outputs (in
//! `model.outputs` order) are packed separately, so that the input words
//! alone are what a request commits to. Value `j` of a group sits in word
//! `j / L` at bits `[B·(j mod L), B·(j mod L) + B)` as the unsigned lane
//! `v + 2^(B−1) ∈ [0, 2^B)`. Lanes past the group's last value are zero.
//! Instances are, in order:
//!
//! 1. the model commitment, with private weights only
//!    ([`crate::commitment`]);
//! 2. the input words, or with a hashed input their commitment alone;
//! 3. the output words.
//!
//! A word is below `2^(B·L) ≤ 2^253 < p`, so it is a canonical field element
//! and its lanes are unique: the circuit range-checks every lane
//! ([`crate::chips::pack`]), so no other choice of lanes reaches the same
//! word.
//!
//! # Format (unpacked)
//!
//! Keys made before packing existed have one instance per value, the field
//! element `v mod p` ([`crate::field`]); [`PublicLayout`] with `lane_bits =
//! 0` describes them.

use halo2curves::bn256::Fr;
use halo2curves::ff::{Field, PrimeField};
use thiserror::Error;

use zkinfer_quantizer::QuantizedModel;

use crate::field::{fr_from_i64, fr_to_i128, pow2};
use crate::params::CircuitParams;

/// Bits a packed word may use: `2^253 < p`.
pub const WORD_BITS: u32 = 253;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PackError {
    #[error("public value {value} does not fit the {bits}-bit signed lanes of this key")]
    OutOfRange { value: i64, bits: u32 },
    #[error("expected {expected} public instances for this key, got {got}")]
    WrongCount { expected: usize, got: usize },
    #[error("public instance {index} is not a packed word of {lanes} {bits}-bit lanes")]
    NotAWord {
        index: usize,
        lanes: usize,
        bits: u32,
    },
    #[error("public instance {index} is not a small signed value")]
    NotAValue { index: usize },
    #[error("{}", if *expected { "this key's instances start with the model commitment, and none was given" } else { "a model commitment was given for a key with fixed weights" })]
    Commitment { expected: bool },
}

/// Where a model's public values sit among its instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicLayout {
    /// `B`, the width of a lane; 0: the unpacked format.
    pub lane_bits: u32,
    pub num_inputs: usize,
    pub num_outputs: usize,
    /// The first instance is the model commitment (private weights).
    pub model_commitment: bool,
    /// The input appears only as its commitment, one instance.
    pub hashed_input: bool,
}

/// What a proof's instances say, decoded ([`PublicLayout::unpack`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicValues {
    /// The model commitment, for a model with private weights.
    pub model_commitment: Option<Fr>,
    pub input: PublicInput,
    pub outputs: Vec<i64>,
}

/// The input as the instances carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicInput {
    Values(Vec<i64>),
    Commitment(Fr),
}

/// Values per word for `lane_bits`-bit lanes (1 for the unpacked format).
pub fn lanes_per_word(lane_bits: u32) -> usize {
    WORD_BITS.checked_div(lane_bits).map_or(1, |l| l as usize)
}

/// `values` packed into words of `⌊253 / bits⌋` lanes (the packed format
/// above); `bits = 0`: one element per value.
pub fn pack_words(values: &[i64], bits: u32) -> Result<Vec<Fr>, PackError> {
    if bits == 0 {
        return Ok(values.iter().map(|&v| fr_from_i64(v)).collect());
    }
    values
        .chunks(lanes_per_word(bits))
        .map(|chunk| {
            let mut word = Fr::ZERO;
            for &v in chunk.iter().rev() {
                word = word * pow2(bits) + Fr::from(lane_of(v, bits)?);
            }
            Ok(word)
        })
        .collect()
}

impl PublicLayout {
    /// The layout of `model`'s circuit under `params`.
    pub fn of(model: &QuantizedModel, params: &CircuitParams) -> Self {
        let values = |ids: &[usize]| ids.iter().map(|&id| model.tensors[id].len()).sum();
        Self::new(params, values(&model.inputs), values(&model.outputs))
    }

    /// The layout of a circuit under `params` with these many values.
    pub fn new(params: &CircuitParams, num_inputs: usize, num_outputs: usize) -> Self {
        PublicLayout {
            lane_bits: if params.packed_public {
                params.activation_bits
            } else {
                0
            },
            num_inputs,
            num_outputs,
            model_commitment: params.private_weights(),
            hashed_input: params.hashed_input(),
        }
    }

    /// A layout of plain values: no commitments.
    pub fn values(lane_bits: u32, num_inputs: usize, num_outputs: usize) -> Self {
        PublicLayout {
            lane_bits,
            num_inputs,
            num_outputs,
            model_commitment: false,
            hashed_input: false,
        }
    }

    pub fn is_packed(&self) -> bool {
        self.lane_bits > 0
    }

    pub fn lanes(&self) -> usize {
        lanes_per_word(self.lane_bits)
    }

    fn words(&self, values: usize) -> usize {
        values.div_ceil(self.lanes())
    }

    /// Words the input values pack into (also when only their commitment
    /// is public: it is their hash).
    pub fn input_value_words(&self) -> usize {
        self.words(self.num_inputs)
    }

    /// Index of the first instance that carries the input.
    pub fn input_start(&self) -> usize {
        usize::from(self.model_commitment)
    }

    /// Instances that carry the input: its words, or its commitment.
    pub fn input_words(&self) -> usize {
        if self.hashed_input {
            1
        } else {
            self.input_value_words()
        }
    }

    /// The instances that carry the input.
    pub fn input_range(&self) -> std::ops::Range<usize> {
        self.input_start()..self.output_start()
    }

    /// Index of the first output word.
    pub fn output_start(&self) -> usize {
        self.input_start() + self.input_words()
    }

    pub fn output_words(&self) -> usize {
        self.words(self.num_outputs)
    }

    pub fn num_instances(&self) -> usize {
        self.output_start() + self.output_words()
    }

    /// The instances of `inputs` then `outputs` (flattened), after the model
    /// commitment when the layout has one. A hashed input becomes its
    /// commitment ([`crate::commitment::input_commitment`]). Errors on a
    /// count that does not match the layout, a value that does not fit a
    /// lane, or a model commitment missing or not expected.
    pub fn pack(
        &self,
        model_commitment: Option<Fr>,
        inputs: &[i64],
        outputs: &[i64],
    ) -> Result<Vec<Fr>, PackError> {
        self.pack_salted(model_commitment, Fr::ZERO, inputs, outputs)
    }

    /// [`Self::pack`] where a hashed input's commitment takes `salt`.
    pub fn pack_salted(
        &self,
        model_commitment: Option<Fr>,
        salt: Fr,
        inputs: &[i64],
        outputs: &[i64],
    ) -> Result<Vec<Fr>, PackError> {
        let count = |got: usize, expected: usize| {
            (got == expected)
                .then_some(())
                .ok_or(PackError::WrongCount { expected, got })
        };
        count(inputs.len(), self.num_inputs)?;
        count(outputs.len(), self.num_outputs)?;
        let mut out = match (self.model_commitment, model_commitment) {
            (true, Some(c)) => vec![c],
            (false, None) => Vec::new(),
            (expected, _) => return Err(PackError::Commitment { expected }),
        };
        let input_words = pack_words(inputs, self.lane_bits)?;
        if self.hashed_input {
            out.push(crate::commitment::input_commitment(
                &input_words,
                self.lane_bits,
                salt,
            ));
        } else {
            out.extend(input_words);
        }
        out.extend(pack_words(outputs, self.lane_bits)?);
        Ok(out)
    }

    /// The inverse of [`Self::pack`], as far as the instances say: the
    /// commitments as they are, the values decoded. Errors on a count that
    /// does not match or on an instance that is not a word of this layout
    /// (or, unpacked, not a small signed value).
    pub fn unpack(&self, instances: &[Fr]) -> Result<PublicValues, PackError> {
        let expected = self.num_instances();
        if instances.len() != expected {
            return Err(PackError::WrongCount {
                expected,
                got: instances.len(),
            });
        }
        let input = if self.hashed_input {
            PublicInput::Commitment(instances[self.input_start()])
        } else {
            PublicInput::Values(self.unpack_group(
                &instances[self.input_range()],
                self.input_start(),
                self.num_inputs,
            )?)
        };
        Ok(PublicValues {
            model_commitment: self.model_commitment.then(|| instances[0]),
            input,
            outputs: self.unpack_outputs(&instances[self.output_start()..])?,
        })
    }

    /// The output values alone, from the output words.
    pub fn unpack_outputs(&self, words: &[Fr]) -> Result<Vec<i64>, PackError> {
        if words.len() != self.output_words() {
            return Err(PackError::WrongCount {
                expected: self.output_words(),
                got: words.len(),
            });
        }
        self.unpack_group(words, self.output_start(), self.num_outputs)
    }

    fn unpack_group(
        &self,
        words: &[Fr],
        first_index: usize,
        count: usize,
    ) -> Result<Vec<i64>, PackError> {
        if !self.is_packed() {
            return (words.iter().enumerate())
                .map(|(i, w)| {
                    fr_to_i128(*w)
                        .and_then(|v| i64::try_from(v).ok())
                        .ok_or(PackError::NotAValue {
                            index: first_index + i,
                        })
                })
                .collect();
        }
        let (bits, lanes) = (self.lane_bits, self.lanes());
        let mut values = Vec::with_capacity(count);
        for (i, word) in words.iter().enumerate() {
            let bad = PackError::NotAWord {
                index: first_index + i,
                lanes,
                bits,
            };
            let used = (count - i * lanes).min(lanes);
            let repr = word.to_repr();
            let bytes = repr.as_ref();
            let lane = |j: usize| read_bits(bytes, bits * j as u32, bits);
            // Zero past the last value and past the lanes: the word the
            // circuit constrains, not another element decoding the same.
            let high_clear = (used..lanes).all(|j| lane(j) == 0)
                && (bits * lanes as u32..256).all(|b| read_bits(bytes, b, 1) == 0);
            if !high_clear {
                return Err(bad);
            }
            values.extend((0..used).map(|j| lane(j) as i64 - (1i64 << (bits - 1))));
        }
        Ok(values)
    }
}

/// `v + 2^(bits−1)`, when it lies in `[0, 2^bits)`.
pub fn lane_of(v: i64, bits: u32) -> Result<u64, PackError> {
    let half = 1i128 << (bits - 1);
    let lane = v as i128 + half;
    if (0..2 * half).contains(&lane) {
        Ok(lane as u64)
    } else {
        Err(PackError::OutOfRange { value: v, bits })
    }
}

/// `len ≤ 64` bits of the little-endian `bytes` from bit `from`.
fn read_bits(bytes: &[u8], from: u32, len: u32) -> u64 {
    let mut out = 0u128;
    for b in 0..len {
        let at = (from + b) as usize;
        let bit = bytes.get(at / 8).map_or(0, |byte| (byte >> (at % 8)) & 1);
        out |= (bit as u128) << b;
    }
    out as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(bits: u32, num_inputs: usize, num_outputs: usize) -> PublicLayout {
        PublicLayout::values(bits, num_inputs, num_outputs)
    }

    fn values(inputs: Vec<i64>, outputs: Vec<i64>) -> PublicValues {
        PublicValues {
            model_commitment: None,
            input: PublicInput::Values(inputs),
            outputs,
        }
    }

    #[test]
    fn lanes_fill_253_bits() {
        assert_eq!(lanes_per_word(16), 15);
        assert_eq!(lanes_per_word(20), 12);
        assert_eq!(lanes_per_word(40), 6);
        assert_eq!(lanes_per_word(0), 1);
        let l = layout(20, 25, 12);
        assert_eq!(
            (l.input_words(), l.output_words(), l.num_instances()),
            (3, 1, 4)
        );
    }

    #[test]
    fn pack_then_unpack_is_the_identity_at_the_extremes() {
        let bits = 20;
        let (lo, hi) = (-(1i64 << 19), (1i64 << 19) - 1);
        let inputs: Vec<i64> = (0..25).map(|i| [lo, hi, 0, -1, 7][i % 5]).collect();
        let outputs = vec![hi; 12];
        let l = layout(bits, inputs.len(), outputs.len());
        let words = l.pack(None, &inputs, &outputs).unwrap();
        assert_eq!(words.len(), 4);
        assert_eq!(l.unpack(&words).unwrap(), values(inputs, outputs.clone()));
        assert_eq!(l.unpack_outputs(&words[3..]).unwrap(), outputs);
    }

    #[test]
    fn lane_layout_is_little_endian_with_an_offset() {
        let l = layout(16, 2, 1);
        let words = l.pack(None, &[1, -1], &[-32768]).unwrap();
        // lane 0 = 1 + 2^15, lane 1 = -1 + 2^15 at bit 16.
        let expected = Fr::from(((32767u64) << 16) + 32769);
        assert_eq!(words[0], expected);
        assert_eq!(words[1], Fr::ZERO);
    }

    #[test]
    fn values_outside_the_lanes_are_refused() {
        let l = layout(16, 1, 1);
        assert_eq!(
            l.pack(None, &[1 << 15], &[0]),
            Err(PackError::OutOfRange {
                value: 1 << 15,
                bits: 16
            })
        );
        assert!(l.pack(None, &[-(1 << 15)], &[0]).is_ok());
        assert!(matches!(
            l.pack(None, &[0, 0], &[0]),
            Err(PackError::WrongCount { .. })
        ));
    }

    #[test]
    fn elements_that_are_not_words_are_refused() {
        let l = layout(16, 2, 1);
        let good = l.pack(None, &[3, 4], &[5]).unwrap();
        // A lane past the last value set.
        let mut bad = good.clone();
        bad[0] += pow2(32);
        assert!(matches!(
            l.unpack(&bad),
            Err(PackError::NotAWord { index: 0, .. })
        ));
        // Bits above the lanes: a negative element.
        let mut bad = good;
        bad[1] = -bad[1];
        assert!(matches!(
            l.unpack(&bad),
            Err(PackError::NotAWord { index: 1, .. })
        ));
    }

    #[test]
    fn unpacked_layout_is_one_signed_value_per_instance() {
        let l = layout(0, 2, 1);
        let inst = l.pack(None, &[3, -4], &[5]).unwrap();
        assert_eq!(inst, vec![Fr::from(3), -Fr::from(4), Fr::from(5)]);
        assert_eq!(l.unpack(&inst).unwrap(), values(vec![3, -4], vec![5]));
    }
}
