//! The parameters the constraint system is built from.

use serde::{Deserialize, Serialize};

use crate::chips::range::MAX_LOOKUP_BITS;

/// Fewest advice columns: the lookup column, plus four gate columns (ReLU's
/// `x, b, y, t`), which leaves three accumulator columns for linear layers.
pub const MIN_ADVICE_COLUMNS: usize = 5;

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
}

impl CircuitParams {
    /// The values `configure` uses. Degenerate parameters (such as
    /// `CircuitParams::default()`, which halo2's parameterless `configure`
    /// falls back on) are raised to the smallest valid ones instead of
    /// panicking; the planner never produces them.
    pub fn normalized(&self) -> CircuitParams {
        let scale_bits = self.scale_bits.max(1);
        CircuitParams {
            k: self.k,
            lookup_bits: self.lookup_bits.clamp(1, MAX_LOOKUP_BITS),
            advice_columns: self.advice_columns.max(MIN_ADVICE_COLUMNS),
            scale_bits,
            activation_bits: self.activation_bits.max(scale_bits + 1),
        }
    }

    /// Accumulator columns of the linear chip.
    pub fn accumulators(&self) -> usize {
        self.normalized().advice_columns - 2
    }
}
