//! Consistency check of a list of powers of tau.
//!
//! A KZG SRS of size n on BN254 is
//!
//! ```text
//! g[i] = τ^i·G1  (0 <= i < n),    g2 = G2,    s_g2 = τ·G2
//! ```
//!
//! for one τ that nobody knows. Whether nobody knows τ is the ceremony's
//! business and cannot be checked from the points; what can be checked is
//! that the points have this shape, which is what the KZG opening proof's
//! soundness relies on besides the secrecy of τ.
//!
//! Write g[i] = a_i·G1 (BN254's G1 has prime order r and cofactor 1, so every
//! point on the curve is such a multiple) and s_g2 = t·G2 (true only for a
//! point of G2's order-r subgroup: G2's cofactor is not 1, so this is
//! checked). The checks and what each one gives:
//!
//! 1. g[0] = G1 and g2 = G2: a_0 = 1.
//! 2. s_g2 is in the order-r subgroup, s_g2 != O (t = 0) and s_g2 != G2
//!    (t = 1, the value every snarkjs `powersoftau new` file starts from: a
//!    file without any contribution has a public τ).
//! 3. e(g[1], G2) = e(G1, s_g2): a_1 = t.
//! 4. With r_0, ..., r_{n-2} uniform in F_r and drawn after the points are
//!    fixed, e(Σ r_i·g[i+1], G2) = e(Σ r_i·g[i], s_g2), i.e.
//!    Σ r_i·(a_{i+1} − t·a_i) = 0 (mod r). If some a_{i+1} != t·a_i this is a
//!    nonzero linear form in the r_i, which vanishes with probability 1/r
//!    (about 2^-254). So a_{i+1} = t·a_i for every i, and with a_0 = 1,
//!    a_i = t^i: the g[i] are the powers of the τ = t that s_g2 commits to.
//!
//! Check 4 costs two multi-scalar multiplications of size n-1 and one
//! two-pairing product, instead of n pairings for checking each step.

use halo2_proofs::arithmetic::best_multiexp;
use halo2curves::bn256::{Bn256, Fr, G1Affine, G2Affine, G2Prepared, G1};
use halo2curves::ff::Field;
use halo2curves::group::{cofactor::CofactorGroup, prime::PrimeCurveAffine, Curve, Group};
use halo2curves::pairing::{MillerLoopResult, MultiMillerLoop};
use halo2curves::CurveAffine;
use rand::rngs::OsRng;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Checks that `g` are the powers τ^0..τ^(n-1) of the τ that `s_g2 = τ·G2`
/// commits to, with `g2 = G2` (see the module doc for why these checks
/// suffice). The error is a one-line reason.
pub(crate) fn check_powers(g: &[G1Affine], g2: &G2Affine, s_g2: &G2Affine) -> Result<(), String> {
    if g.len() < 2 {
        return Err(format!("{} G1 powers, at least 2 are needed", g.len()));
    }
    if let Some(i) = g.iter().position(|p| !bool::from(p.is_on_curve())) {
        return Err(format!("G1 power {i} is not on the curve"));
    }
    if !bool::from(g2.is_on_curve()) || !bool::from(s_g2.is_on_curve()) {
        return Err("a G2 power is not on the curve".into());
    }
    if g[0] != G1Affine::generator() {
        return Err("the first G1 power is not the BN254 G1 generator".into());
    }
    if *g2 != G2Affine::generator() {
        return Err("the first G2 power is not the BN254 G2 generator".into());
    }
    if bool::from(s_g2.is_identity()) {
        return Err("tau·G2 is the point at infinity (tau = 0)".into());
    }
    if s_g2 == g2 {
        return Err("tau·G2 equals G2 (tau = 1): the file has no contribution".into());
    }
    if !bool::from(s_g2.to_curve().is_torsion_free()) {
        return Err("tau·G2 is not in the prime-order subgroup of G2".into());
    }
    if !pairings_equal(&g[1].to_curve(), g2, &g[0].to_curve(), s_g2) {
        return Err("e(tau·G1, G2) != e(G1, tau·G2)".into());
    }

    // The r_i must be unpredictable to whoever wrote the points: seed from
    // the operating system. ChaCha20 only makes drawing many of them cheap.
    let mut rng = ChaCha20Rng::from_rng(OsRng).map_err(|e| format!("no OS randomness: {e}"))?;
    let r: Vec<Fr> = (0..g.len() - 1).map(|_| Fr::random(&mut rng)).collect();
    let shifted = best_multiexp(&r, &g[1..]);
    let unshifted = best_multiexp(&r, &g[..g.len() - 1]);
    if !pairings_equal(&shifted, g2, &unshifted, s_g2) {
        return Err(format!(
            "the {} G1 points are not successive powers of the tau in tau·G2",
            g.len()
        ));
    }
    Ok(())
}

/// e(a, b) == e(c, d), as one two-pairing product e(a, b)·e(−c, d) = 1.
fn pairings_equal(a: &G1, b: &G2Affine, c: &G1, d: &G2Affine) -> bool {
    let a = a.to_affine();
    let minus_c = (-c).to_affine();
    let (b, d) = (G2Prepared::from(*b), G2Prepared::from(*d));
    let product = Bn256::multi_miller_loop(&[(&a, &b), (&minus_c, &d)]).final_exponentiation();
    bool::from(product.is_identity())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [τ^0·G1, ..., τ^(n-1)·G1], G2, τ·G2 for a known τ.
    fn powers(tau: Fr, n: usize) -> (Vec<G1Affine>, G2Affine, G2Affine) {
        let mut g = Vec::with_capacity(n);
        let mut acc = G1::generator();
        for _ in 0..n {
            g.push(acc.to_affine());
            acc *= tau;
        }
        let g2 = G2Affine::generator();
        (g, g2, (g2 * tau).to_affine())
    }

    #[test]
    fn honest_powers_pass() {
        let (g, g2, s_g2) = powers(Fr::from(12345), 16);
        assert_eq!(check_powers(&g, &g2, &s_g2), Ok(()));
    }

    #[test]
    fn one_wrong_power_fails() {
        let (mut g, g2, s_g2) = powers(Fr::from(12345), 16);
        // A valid curve point, off by one multiple of G1: only check 4 sees it.
        g[9] = (g[9] + G1Affine::generator()).to_affine();
        let err = check_powers(&g, &g2, &s_g2).unwrap_err();
        assert!(err.contains("not successive powers"), "{err}");
    }

    #[test]
    fn powers_of_another_tau_fail() {
        let (g, g2, _) = powers(Fr::from(12345), 16);
        let s_g2 = (g2 * Fr::from(54321)).to_affine();
        let err = check_powers(&g, &g2, &s_g2).unwrap_err();
        assert!(err.contains("e(tau·G1, G2) != e(G1, tau·G2)"), "{err}");
    }

    #[test]
    fn swapped_powers_fail() {
        let (mut g, g2, s_g2) = powers(Fr::from(7), 8);
        g.swap(3, 4);
        assert!(check_powers(&g, &g2, &s_g2).is_err());
    }

    #[test]
    fn public_tau_fails() {
        let (g, g2, s_g2) = powers(Fr::ONE, 8);
        let err = check_powers(&g, &g2, &s_g2).unwrap_err();
        assert!(err.contains("tau = 1"), "{err}");
        let (g, g2, s_g2) = powers(Fr::ZERO, 8);
        let err = check_powers(&g, &g2, &s_g2).unwrap_err();
        assert!(err.contains("tau = 0"), "{err}");
    }

    #[test]
    fn wrong_generator_fails() {
        let (mut g, g2, s_g2) = powers(Fr::from(3), 8);
        g[0] = (g[0] + g[0]).to_affine();
        let err = check_powers(&g, &g2, &s_g2).unwrap_err();
        assert!(err.contains("generator"), "{err}");
    }
}
