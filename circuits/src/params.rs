//! The parameters the constraint system is built from.

use serde::{Deserialize, Serialize};

use crate::chips::range::MAX_LOOKUP_BITS;

/// Fewest advice columns: the lookup column, plus four gate columns (ReLU's
/// `x, b, y, t`), which leaves three accumulator columns for linear layers.
pub const MIN_ADVICE_COLUMNS: usize = 5;

/// Fewest advice columns of a circuit that hashes (private weights or a
/// hashed input): the lookup column and the Poseidon chip's six.
pub const MIN_HASHING_ADVICE_COLUMNS: usize = 7;

/// Everything `configure_with_params` reads, and nothing from the model: a
/// verifying key is rebuilt from these alone (the weights enter through
/// fixed-column assignments, which the key stores as commitments).
///
/// `k` does not change the constraint system; it is kept here so that the
/// parameters say everything needed to rebuild the keys.
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct CircuitParams {
    /// The circuit has `2^k` rows.
    pub k: u32,
    /// The range table holds `[0, 2^lookup_bits)`.
    pub lookup_bits: u32,
    /// All advice columns: one lookup column and `advice_columns − 1` gate
    /// columns, of which `advice_columns − 2` are linear accumulators.
    pub advice_columns: usize,
    /// Fixed-point fractional bits `s` (the rescale gate divides by `2^s`).
    pub scale_bits: u32,
    /// Signed width `B` of every activation.
    pub activation_bits: u32,
    /// Lanes `F` of the Freivalds check ([`crate::chips::freivalds`]): the
    /// circuit gets `F + 1` second-phase advice columns and one challenge.
    /// 0 (the default, and what files written before this field read as):
    /// none, and every linear layer takes the direct layout.
    #[serde(default)]
    pub freivalds_lanes: usize,
    /// The circuit has the transformer chips: the pointwise lookup (GELU,
    /// tanh, exp, embeddings), softmax, layer norm and gather. false (the
    /// default, and what files written before this field read as): dense
    /// models keep the smaller constraint system they had without them.
    #[serde(default)]
    pub nonlinear: bool,
    /// Lookup columns ("lanes") of the range track, each with its own
    /// lookup into the one range table: more lanes, a shorter range track.
    /// 1 (the default, and what files written before this field read as):
    /// the constraint system range checks had before lanes existed.
    #[serde(default = "one")]
    pub range_lanes: usize,
    /// Public values packed several to an instance ([`crate::public`]),
    /// `activation_bits` wide: what the planner chooses. false (the default,
    /// and what files written before this field read as): one instance per
    /// value, the format those keys were made with.
    #[serde(default)]
    pub packed_public: bool,
    /// Where the weights live ([`WeightVisibility`]). `Fixed` (the default,
    /// and what files written before this field read as): in the verifying
    /// key.
    #[serde(default)]
    pub weights: WeightVisibility,
    /// Signed width of every private weight's lane in the model commitment
    /// ([`crate::commitment`]); 0 unless `weights` is `Private`.
    #[serde(default)]
    pub weight_bits: u32,
    /// The same for the linear biases; 0 unless private and the model has
    /// biases.
    #[serde(default)]
    pub bias_bits: u32,
    /// How the input appears among the instances ([`InputVisibility`]).
    #[serde(default)]
    pub input: InputVisibility,
}

/// Where a model's weights live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightVisibility {
    /// Fixed cells of the verifying key: the key is the model's identity, and
    /// anyone holding the `.zkq` can rebuild it and compare.
    #[default]
    Fixed,
    /// Advice: the verifying key holds no weight, and the circuit proves that
    /// the weights hash to the model commitment, its first public instance.
    Private,
}

/// How a model's input appears among the public instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputVisibility {
    /// The input values themselves, packed.
    #[default]
    Public,
    /// Only the input commitment ([`crate::commitment::input_commitment`]).
    Hashed,
}

/// What a user chooses about visibility; the rest of [`CircuitParams`] is
/// the planner's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Visibility {
    pub weights: WeightVisibility,
    pub input: InputVisibility,
}

impl std::fmt::Display for WeightVisibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WeightVisibility::Fixed => "fixed",
            WeightVisibility::Private => "private",
        })
    }
}

impl std::fmt::Display for InputVisibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputVisibility::Public => "public",
            InputVisibility::Hashed => "hashed",
        })
    }
}

fn one() -> usize {
    1
}

impl CircuitParams {
    /// The values `configure` uses. Degenerate parameters (such as
    /// `CircuitParams::default()`, which halo2's parameterless `configure`
    /// falls back on) are raised to the smallest valid ones instead of
    /// panicking; the planner never produces them.
    pub fn normalized(&self) -> CircuitParams {
        let scale_bits = self.scale_bits.max(1);
        let private = self.private_weights();
        // The Poseidon chip takes six gate columns.
        let minimum = if private || self.hashed_input() {
            MIN_HASHING_ADVICE_COLUMNS
        } else {
            MIN_ADVICE_COLUMNS
        };
        let advice_columns = self.advice_columns.max(minimum);
        CircuitParams {
            k: self.k,
            lookup_bits: self.lookup_bits.clamp(1, MAX_LOOKUP_BITS),
            advice_columns,
            scale_bits,
            activation_bits: self.activation_bits.max(scale_bits + 1),
            // Each lane's operand is a gate column.
            freivalds_lanes: self.freivalds_lanes.min(advice_columns - 1),
            nonlinear: self.nonlinear,
            range_lanes: self.range_lanes.max(1),
            // Commitments exist only in the packed format.
            packed_public: self.packed_public || private || self.hashed_input(),
            weights: self.weights,
            weight_bits: if private { self.weight_bits.max(2) } else { 0 },
            bias_bits: if private { self.bias_bits } else { 0 },
            input: self.input,
        }
    }

    pub fn visibility(&self) -> Visibility {
        Visibility {
            weights: self.weights,
            input: self.input,
        }
    }

    pub fn private_weights(&self) -> bool {
        self.weights == WeightVisibility::Private
    }

    pub fn hashed_input(&self) -> bool {
        self.input == InputVisibility::Hashed
    }

    /// Accumulator columns of the linear chip.
    pub fn accumulators(&self) -> usize {
        self.normalized().advice_columns - 2
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;

    use super::*;

    #[test]
    fn parameters_saved_without_freivalds_lanes_still_read() {
        let old = [
            ("k", 10u64),
            ("lookup_bits", 4),
            ("advice_columns", 5),
            ("scale_bits", 4),
            ("activation_bits", 10),
        ];
        let params =
            CircuitParams::deserialize(MapDeserializer::<_, Error>::new(old.into_iter())).unwrap();
        assert_eq!(params.freivalds_lanes, 0);
        assert!(!params.nonlinear);
        assert_eq!(params.range_lanes, 1);
        assert!(!params.packed_public);
        assert_eq!(params.advice_columns, 5);
    }

    #[test]
    fn freivalds_lanes_fit_in_the_gate_columns() {
        let params = CircuitParams {
            advice_columns: 6,
            freivalds_lanes: 9,
            ..CircuitParams::default()
        };
        assert_eq!(params.normalized().freivalds_lanes, 5);
        assert_eq!(CircuitParams::default().normalized().freivalds_lanes, 0);
    }
}
