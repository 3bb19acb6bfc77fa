//! The round constants and MDS matrix, drawn from the Grain LFSR exactly as
//! the Poseidon authors' `generate_parameters_grain.sage` draws them for
//! `sage generate_parameters_grain.sage 1 0 254 3 8 57 <BN254 r>`.
//!
//! # The generator
//!
//! An 80-bit LFSR `b_0 … b_79` with feedback
//! `b_80 = b_62 ⊕ b_51 ⊕ b_38 ⊕ b_23 ⊕ b_13 ⊕ b_0`, seeded, most significant
//! bit first, with the field type (2 bits, `1` = prime field), the S-box
//! (4 bits, `0` = `x^α`), `n` (12 bits), `t` (12 bits), `R_F` (10 bits),
//! `R_P` (10 bits) and thirty ones. The first 160 output bits are dropped.
//! After that the bits are read in pairs and the second bit of a pair is
//! emitted only when the first is 1 (the self-shrinking step).
//!
//! # The draws, in order
//!
//! 1. `(R_F + R_P)·t = 195` round constants: each takes `n = 254` emitted
//!    bits as a big-endian integer, redrawn while it is `≥ p`.
//! 2. The MDS matrix: `2t` integers of `n` bits reduced mod `p` (no
//!    rejection), redrawn all together while two are equal; the first `t`
//!    are `x`, the last `t` are `y`, and `M[i][j] = 1/(x_i + y_j)`, the whole
//!    draw repeated if some `x_i + y_j = 0`.
//!
//! The reference then runs its three checks against invariant subspaces
//! (Grassi, Rechberger, Schofnegger, "Proving resistance against infinitely
//! long subspace trails", eprint 2020/500) and would draw a new matrix on
//! failure. They are not repeated here: for this instance the first matrix
//! passes them, which the test vector of [`super::permute`] confirms (another
//! matrix would change every output).

use std::sync::OnceLock;

use halo2curves::bn256::Fr;
use halo2curves::ff::{Field, PrimeField};

use super::{FULL_ROUNDS, PARTIAL_ROUNDS, WIDTH};

/// Bits per drawn field element: the bit length of the BN254 scalar field.
const FIELD_BITS: usize = 254;

/// The permutation's constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// `round_constants[r][i]` is added to element `i` at the start of round
    /// `r` (rounds counted from 0 over all `R_F + R_P` rounds).
    pub round_constants: Vec<[Fr; WIDTH]>,
    /// The linear layer: the next state is `mds · state` (`mds[i]` is the
    /// row giving element `i`).
    pub mds: [[Fr; WIDTH]; WIDTH],
}

impl Params {
    /// `mds · v`.
    pub fn mix(&self, v: &[Fr; WIDTH]) -> [Fr; WIDTH] {
        self.mds
            .map(|row| row.iter().zip(v).map(|(m, x)| *m * x).sum())
    }
}

/// The parameters, generated on first use.
pub fn params() -> &'static Params {
    static PARAMS: OnceLock<Params> = OnceLock::new();
    PARAMS.get_or_init(generate)
}

fn generate() -> Params {
    let mut grain = Grain::new(FIELD_BITS, WIDTH, FULL_ROUNDS, PARTIAL_ROUNDS);
    let round_constants = (0..FULL_ROUNDS + PARTIAL_ROUNDS)
        .map(|_| [(); WIDTH].map(|_| grain.field_element_below_p()))
        .collect();
    let mds = loop {
        let mut draw: Vec<Fr> = (0..2 * WIDTH)
            .map(|_| grain.field_element_mod_p())
            .collect();
        while (1..draw.len()).any(|i| draw[..i].contains(&draw[i])) {
            draw = (0..2 * WIDTH)
                .map(|_| grain.field_element_mod_p())
                .collect();
        }
        let (xs, ys) = draw.split_at(WIDTH);
        let mut m = [[Fr::ZERO; WIDTH]; WIDTH];
        let mut invertible = true;
        for (i, x) in xs.iter().enumerate() {
            for (j, y) in ys.iter().enumerate() {
                match Option::<Fr>::from((*x + y).invert()) {
                    Some(inv) => m[i][j] = inv,
                    None => invertible = false,
                }
            }
        }
        if invertible {
            break m;
        }
    };
    Params {
        round_constants,
        mds,
    }
}

/// The self-shrinking Grain LFSR of the reference script.
struct Grain {
    /// Bit `i` holds `b_i`; `b_0` is the oldest.
    state: u128,
}

impl Grain {
    const LEN: u32 = 80;

    fn new(field_bits: usize, width: usize, full_rounds: usize, partial_rounds: usize) -> Self {
        let mut grain = Self::seeded(field_bits, width, full_rounds, partial_rounds);
        for _ in 0..160 {
            grain.step();
        }
        grain
    }

    /// The register before the 160 discarded steps.
    fn seeded(field_bits: usize, width: usize, full_rounds: usize, partial_rounds: usize) -> Self {
        // (value, bit width) of each seed field, most significant bit first.
        let fields: [(u128, u32); 7] = [
            (1, 2), // prime field
            (0, 4), // S-box x^alpha
            (field_bits as u128, 12),
            (width as u128, 12),
            (full_rounds as u128, 10),
            (partial_rounds as u128, 10),
            ((1 << 30) - 1, 30),
        ];
        let mut state = 0u128;
        let mut at = 0;
        for (value, bits) in fields {
            for k in (0..bits).rev() {
                state |= ((value >> k) & 1) << at;
                at += 1;
            }
        }
        debug_assert_eq!(at, Self::LEN);
        Grain { state }
    }

    /// Shifts the register once and returns the new bit.
    fn step(&mut self) -> bool {
        let b = |i: u32| (self.state >> i) & 1;
        let new = b(62) ^ b(51) ^ b(38) ^ b(23) ^ b(13) ^ b(0);
        self.state = (self.state >> 1) | (new << (Self::LEN - 1));
        new == 1
    }

    /// The next emitted bit: the second of the first pair whose first is 1.
    fn bit(&mut self) -> bool {
        loop {
            let keep = self.step();
            let bit = self.step();
            if keep {
                return bit;
            }
        }
    }

    /// `n` emitted bits as a big-endian integer, in little-endian bytes.
    fn integer(&mut self) -> [u8; 32] {
        let mut repr = [0u8; 32];
        for k in (0..FIELD_BITS).rev() {
            if self.bit() {
                repr[k / 8] |= 1 << (k % 8);
            }
        }
        repr
    }

    /// An integer below `p`, redrawn until it is.
    fn field_element_below_p(&mut self) -> Fr {
        loop {
            if let Some(f) = Option::<Fr>::from(Fr::from_repr(self.integer())) {
                return f;
            }
        }
    }

    /// An integer reduced mod `p`.
    fn field_element_mod_p(&mut self) -> Fr {
        let mut repr = self.integer();
        // Below 2^254 < 2p: the top bit's weight is added back in the field,
        // the 253 bits under it are already below p.
        let top = (repr[31] >> 5) & 1;
        repr[31] &= 0x1f;
        let low = Fr::from_repr(repr).expect("253 bits are below p");
        if top == 1 {
            low + Fr::from(2u64).pow_vartime([253u64])
        } else {
            low
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(f: &Fr) -> String {
        f.to_repr()
            .iter()
            .rev()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn the_seed_is_the_reference_header() {
        // The reference's INIT_SEQUENCE, b_0 first.
        let header = format!(
            "{:02b}{:04b}{:012b}{:012b}{:010b}{:010b}{}",
            1,
            0,
            254,
            3,
            8,
            57,
            "1".repeat(30)
        );
        assert_eq!(header.len(), 80);
        let grain = Grain::seeded(254, 3, 8, 57);
        let bits: String = (0..80)
            .map(|i| {
                if (grain.state >> i) & 1 == 1 {
                    '1'
                } else {
                    '0'
                }
            })
            .collect();
        assert_eq!(bits, header);
    }

    #[test]
    fn the_first_constants_and_matrix_entry_match_circomlib() {
        let p = params();
        assert_eq!(p.round_constants.len(), FULL_ROUNDS + PARTIAL_ROUNDS);
        // circomlib's poseidon_constants.json, t = 3: C[0], C[1] and M[0][0].
        assert_eq!(
            hex(&p.round_constants[0][0]),
            "0ee9a592ba9a9518d05986d656f40c2114c4993c11bb29938d21d47304cd8e6e"
        );
        assert_eq!(
            hex(&p.round_constants[0][1]),
            "00f1445235f2148c5986587169fc1bcd887b08d4d00868df5696fff40956e864"
        );
        assert_eq!(
            hex(&p.mds[0][0]),
            "109b7f411ba0e4c9b2b70caf5c36a7b194be7c11ad24378bfedb68592ba8118b"
        );
    }

    #[test]
    fn the_matrix_is_cauchy_so_no_entry_is_zero() {
        let p = params();
        for row in &p.mds {
            for m in row {
                assert_ne!(*m, Fr::ZERO);
            }
        }
        // Not symmetric: using the transpose would be a different permutation.
        assert_ne!(p.mds[0][1], p.mds[1][0]);
    }
}
