//! Signed integers as field elements.
//!
//! A signed value `x` is the field element `x mod p`: non-negative numbers are
//! themselves, a negative number is `p - |x|`. Every value the circuits
//! handle is far below `p / 2` in magnitude (activations are bounded by
//! `2^(activation_bits-1) <= 2^39`, accumulators by `2^120`, see
//! [`mod@crate::plan`]), so this map is injective on them and the field equations
//! the chips prove are integer equations.

use halo2curves::bn256::Fr;
use halo2curves::ff::{Field, PrimeField};

/// `x mod p`.
pub fn fr_from_i64(x: i64) -> Fr {
    fr_from_i128(x as i128)
}

/// `x mod p`.
pub fn fr_from_i128(x: i128) -> Fr {
    let magnitude = Fr::from_u128(x.unsigned_abs());
    if x < 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// The inverse of [`fr_from_i128`]: `Some(x)` when the element is `x mod p`
/// for some `|x| < 2^127`, `None` for any other element.
pub fn fr_to_i128(f: Fr) -> Option<i128> {
    fn small(f: &Fr) -> Option<i128> {
        let repr = f.to_repr();
        if repr[16..].iter().all(|&b| b == 0) && repr[15] < 0x80 {
            let mut low = [0u8; 16];
            low.copy_from_slice(&repr[..16]);
            Some(u128::from_le_bytes(low) as i128)
        } else {
            None
        }
    }
    small(&f).or_else(|| small(&-f).map(|m| -m))
}

/// `2^bits` as a field element.
pub fn pow2(bits: u32) -> Fr {
    Fr::from(2u64).pow_vartime([bits as u64])
}

/// The `bits <= 64` least significant bits of the canonical representative
/// of `f` (in `[0, p)`).
pub fn low_bits(f: &Fr, bits: u32) -> u64 {
    let repr = f.to_repr();
    let mut low = [0u8; 8];
    low.copy_from_slice(&repr[..8]);
    let word = u64::from_le_bytes(low);
    if bits >= 64 {
        word
    } else {
        word & ((1u64 << bits) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_values_round_trip() {
        for x in [
            0i128,
            1,
            -1,
            42,
            -42,
            i64::MAX as i128,
            i64::MIN as i128,
            (1 << 126) - 1,
            -(1 << 126),
        ] {
            assert_eq!(fr_to_i128(fr_from_i128(x)), Some(x), "{x}");
        }
        assert_eq!(fr_from_i64(-5), -Fr::from(5u64));
    }

    #[test]
    fn large_elements_are_not_small_integers() {
        // 2^200 is neither a small positive nor a small negative number.
        assert_eq!(fr_to_i128(pow2(200)), None);
        assert_eq!(fr_to_i128(-pow2(200)), None);
    }

    #[test]
    fn low_bits_read_the_canonical_representative() {
        assert_eq!(low_bits(&Fr::from(0xABCDu64), 8), 0xCD);
        assert_eq!(low_bits(&pow2(16), 16), 0);
        // p - 1 is even and its low 8 bits are those of the modulus minus one.
        assert_eq!(low_bits(&-Fr::ONE, 8), 0x00);
        assert_eq!(pow2(10), Fr::from(1024u64));
    }
}
