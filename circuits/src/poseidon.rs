//! Poseidon over the BN254 scalar field, natively: the permutation and the
//! sponge that [`crate::chips::poseidon`] proves.
//!
//! # The instance
//!
//! Poseidon (Grassi, Khovratovich, Rechberger, Roy, Schofnegger, "Poseidon:
//! A New Hash Function for Zero-Knowledge Proof Systems", USENIX Security
//! 2021) with the S-box `x^5`, width `t = 3` (rate 2, capacity 1),
//! `R_F = 8` full rounds (4 before and 4 after the partial ones) and
//! `R_P = 57` partial rounds: the instance of the authors' reference
//! implementation `poseidonperm_x5_254_3.sage` and of circomlib's
//! two-input Poseidon. The round constants and the MDS matrix are generated
//! at first use the way the authors' `generate_parameters_grain.sage` does
//! ([`params`] says how), not pasted in; the tests pin them to the
//! reference's test vector.
//!
//! Round `r` (of 65) maps the state `x` to
//!
//! ```text
//! y_i = x_i + c[r][i]                 add round constants
//! y_i = y_i^5     for every i         full rounds (0..4 and 61..65)
//! y_0 = y_0^5                         partial rounds (4..61)
//! x'  = M · y                         mix
//! ```
//!
//! # The sponge
//!
//! [`hash`] starts from `[iv, 0, 0]`, adds two inputs at a time to the rate
//! (elements 1 and 2), the last odd input with a zero beside it, permuting
//! after each pair (and once for no input at all), and returns element 1.
//! Zero padding alone would make `[a]` and `[a, 0]` collide; the caller
//! rules that out by putting the message length (and a domain tag) in `iv`,
//! which also separates the hashes of different uses (the model and input
//! commitments do so).

mod params;

use halo2curves::bn256::Fr;
use halo2curves::ff::Field;

pub use params::{params, Params};

/// State width `t`.
pub const WIDTH: usize = 3;
/// Inputs absorbed per permutation.
pub const RATE: usize = 2;
/// Full rounds `R_F`, half before and half after the partial rounds.
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds `R_P`.
pub const PARTIAL_ROUNDS: usize = 57;

/// `x^5`.
pub fn sbox(x: Fr) -> Fr {
    x.square().square() * x
}

/// Whether round `r` (of `R_F + R_P`) is a full round.
pub fn is_full_round(r: usize) -> bool {
    !(FULL_ROUNDS / 2..FULL_ROUNDS / 2 + PARTIAL_ROUNDS).contains(&r)
}

/// The Poseidon permutation, in place.
pub fn permute(state: &mut [Fr; WIDTH]) {
    let p = params();
    for (r, c) in p.round_constants.iter().enumerate() {
        for (x, c) in state.iter_mut().zip(c) {
            *x += c;
        }
        if is_full_round(r) {
            for x in state.iter_mut() {
                *x = sbox(*x);
            }
        } else {
            state[0] = sbox(state[0]);
        }
        *state = p.mix(state);
    }
}

/// The sponge hash of `inputs` from the initial value `iv`; `iv` must encode
/// the length of `inputs` (see the module doc).
pub fn hash(iv: Fr, inputs: &[Fr]) -> Fr {
    let mut state = [iv, Fr::ZERO, Fr::ZERO];
    if inputs.is_empty() {
        permute(&mut state);
    }
    for chunk in inputs.chunks(RATE) {
        state[1] += chunk[0];
        state[2] += chunk.get(1).copied().unwrap_or(Fr::ZERO);
        permute(&mut state);
    }
    state[1]
}

/// Permutations [`hash`] runs on `inputs` inputs.
pub fn permutations(inputs: usize) -> usize {
    inputs.div_ceil(RATE).max(1)
}

#[cfg(test)]
mod tests {
    use halo2curves::ff::PrimeField;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn fr_hex(hex: &str) -> Fr {
        let mut repr = [0u8; 32];
        for (i, byte) in repr.iter_mut().rev().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        Fr::from_repr(repr).unwrap()
    }

    fn random(rng: &mut impl Rng) -> Fr {
        Fr::random(&mut *rng)
    }

    #[test]
    fn the_permutation_matches_the_reference_test_vector() {
        // poseidonperm_x5_254_3 on [0, 1, 2].
        let mut state = [Fr::from(0u64), Fr::from(1u64), Fr::from(2u64)];
        permute(&mut state);
        assert_eq!(
            state,
            [
                fr_hex("115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a"),
                fr_hex("0fca49b798923ab0239de1c9e7a4a9a2210312b6a2f616d18b5a87f9b628ae29"),
                fr_hex("0e7ae82e40091e63cbd4f16a6d16310b3729d4b6e138fcf54110e2867045a30c"),
            ]
        );
    }

    #[test]
    fn the_round_split_is_four_partial_four() {
        let full: Vec<usize> = (0..FULL_ROUNDS + PARTIAL_ROUNDS)
            .filter(|&r| is_full_round(r))
            .collect();
        assert_eq!(full, vec![0, 1, 2, 3, 61, 62, 63, 64]);
    }

    #[test]
    fn the_sponge_absorbs_two_inputs_a_permutation() {
        let iv = Fr::from(7u64);
        let [a, b, c] = [11u64, 12, 13].map(Fr::from);
        let mut state = [iv, a, b];
        permute(&mut state);
        state[1] += c;
        permute(&mut state);
        assert_eq!(hash(iv, &[a, b, c]), state[1]);

        let mut empty = [iv, Fr::ZERO, Fr::ZERO];
        permute(&mut empty);
        assert_eq!(hash(iv, &[]), empty[1]);
    }

    #[test]
    fn digests_are_deterministic_and_separate_inputs_and_ivs() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let inputs: Vec<Fr> = (0..5).map(|_| random(&mut rng)).collect();
        let iv = Fr::from(5u64);
        let mut seen = Vec::new();
        for n in [0, 1, 2, 3, 5] {
            let digest = hash(iv, &inputs[..n]);
            assert_eq!(digest, hash(iv, &inputs[..n]), "{n} inputs");
            assert_ne!(digest, hash(iv + Fr::ONE, &inputs[..n]), "{n} inputs");
            if n > 0 {
                for i in 0..n {
                    let mut changed = inputs[..n].to_vec();
                    changed[i] += Fr::ONE;
                    assert_ne!(digest, hash(iv, &changed), "input {i} of {n}");
                }
            }
            assert!(!seen.contains(&digest), "{n} inputs");
            seen.push(digest);
        }
    }

    #[test]
    fn permutation_counts() {
        let counts: Vec<usize> = (0..6).map(permutations).collect();
        assert_eq!(counts, vec![1, 1, 1, 2, 2, 3]);
    }

    #[test]
    fn the_first_output_agrees_with_light_poseidon() {
        use ark_ff::PrimeField as _;
        use light_poseidon::{Poseidon, PoseidonBytesHasher};

        // light-poseidon's circom hash of two inputs `[a, b]` with domain
        // tag `d` is element 0 of the permutation of `[d, a, b]`.
        let be = |f: &Fr| {
            let mut bytes = f.to_repr();
            bytes.reverse();
            bytes
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        for trial in 0..8 {
            let mut state: [Fr; WIDTH] = [(); WIDTH].map(|_| random(&mut rng));
            if trial == 0 {
                state[0] = Fr::ZERO;
            }
            let tag = ark_bn254::Fr::from_be_bytes_mod_order(&be(&state[0]));
            let mut theirs = Poseidon::<ark_bn254::Fr>::with_domain_tag_circom(2, tag).unwrap();
            let digest = theirs
                .hash_bytes_be(&[&be(&state[1]), &be(&state[2])])
                .unwrap();
            permute(&mut state);
            assert_eq!(digest, be(&state[0]), "trial {trial}");
        }
    }
}
