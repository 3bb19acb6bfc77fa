//! What the transformer nonlinearity chips ([`super::pointwise`],
//! [`super::softmax`], [`super::layernorm`]) share: the errors their
//! parameters are validated with, and bit-width arithmetic.
//!
//! Each chip validates its constants (tables, `gamma`, `eps`, shapes) before
//! laying anything out: a constant the circuit cannot prove without wrapping
//! around the field is a [`NonlinearError`] naming the problem, never a proof
//! that fails later or, worse, one that proves something else. Inside
//! synthesis the same failure is `halo2`'s `Error::Synthesis`; the compiler
//! calls the chips' `validate` functions first to report the reason.

use thiserror::Error;

#[cfg(test)]
pub(crate) mod testing;

/// Why a nonlinearity's constants cannot be laid out.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum NonlinearError {
    /// The table's fields contradict each other (see
    /// [`zkinfer_quantizer::PointwiseTable::is_consistent`]).
    #[error("the {func} lookup table is inconsistent: {reason}")]
    BadTable { func: String, reason: String },
    /// A constant output (a table value or a saturation constant) does not fit
    /// in the activation range every chip assumes of its inputs.
    #[error("the {func} table outputs {value}, outside the signed {bits}-bit activation range")]
    TableOutputOutOfRange { func: String, value: i64, bits: u32 },
    /// Softmax divides by the sum of its exponentials: they must be
    /// non-negative constants, and `exp(0)` positive so the sum never vanishes.
    #[error("softmax's exp table is unusable: {0}")]
    BadExpTable(String),
    /// `len` values cannot be cut into rows of `row_len`.
    #[error("{len} values do not form rows of {row_len}")]
    Shape { len: usize, row_len: usize },
    /// A layer norm's constants are outside what the chip proves.
    #[error("layer norm: {0}")]
    BadLayerNorm(String),
    /// Scale and activation widths the chip cannot work with.
    #[error("{0}")]
    BadWidths(String),
}

/// The fewest bits `b ≥ 1` with `max < 2^b`.
pub fn bits_for(max: u128) -> u32 {
    (128 - max.leading_zeros()).max(1)
}

/// `v` fits in a signed `bits`-bit value: `−2^(bits−1) ≤ v < 2^(bits−1)`.
pub fn fits_signed(v: i128, bits: u32) -> bool {
    let half = 1i128 << (bits - 1);
    (-half..half).contains(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_for_is_the_smallest_width() {
        assert_eq!(bits_for(0), 1);
        assert_eq!(bits_for(1), 1);
        assert_eq!(bits_for(2), 2);
        assert_eq!(bits_for(255), 8);
        assert_eq!(bits_for(256), 9);
    }

    #[test]
    fn the_chips_keep_the_circuit_degree() {
        // 5 is what the range lookup already needs (input degree 2); a sixth
        // would double the prover's extended domain.
        let mut cs = halo2_proofs::plonk::ConstraintSystem::default();
        testing::NonlinearConfig::configure(&mut cs, &testing::params());
        assert_eq!(cs.degree(), 5);
    }

    #[test]
    fn fits_signed_includes_the_low_end_only() {
        assert!(fits_signed(-512, 10) && fits_signed(511, 10));
        assert!(!fits_signed(512, 10) && !fits_signed(-513, 10));
    }
}
