//! Layer normalization of one row, in integers.
//!
//! For a row `x` of length `n` (scale `2^s`), `gamma`, `beta` (scale `2^s`) and
//! `eps` (scale `2^(2s)`, at least 1):
//!
//! ```text
//! Σx      = μ·n + r_μ,            0 ≤ r_μ < n            (μ = floor(mean))
//! d_i     = x_i − μ
//! Σd_i²   = v·n + r_v,            0 ≤ r_v < n            (v = floor(variance), scale 2^(2s))
//! w       = v + eps
//! ρ       = floor(2^(2s) / √w):   ρ²·w ≤ 2^(4s) < (ρ+1)²·w   (1/σ at scale 2^s)
//! z_i     = rescale(d_i·ρ)                               (normalized, scale 2^s)
//! y_i     = rescale(z_i·gamma_i) + beta_i
//! ```
//!
//! `rescale` is [`crate::fixed::rescale`] (round half up, remainder in `[0, 2^s)`).

use crate::fixed::rescale;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerNormWitness {
    pub mean: i64,
    pub mean_rem: i64,
    pub centered: Vec<i64>,
    pub var: i128,
    pub var_rem: i128,
    pub rstd: i128,
    pub normalized: Vec<i64>,
    pub outputs: Vec<i64>,
}

/// Largest `ρ` with `ρ²·w ≤ 2^(4s)`: `⌊√⌊2^(4s)/w⌋⌋`, which equals
/// `⌊√(2^(4s)/w)⌋`. Exact in `u128` for every width the circuits accept
/// (`4s ≤ 96`); 0 for `w ≤ 0`, which no honest row has (`eps ≥ 1`).
pub fn rstd(w: i128, scale_bits: u32) -> i128 {
    if w <= 0 {
        return 0;
    }
    ((1u128 << (4 * scale_bits)) / w as u128).isqrt() as i128
}

pub fn layernorm_row(
    x: &[i64],
    gamma: &[i64],
    beta: &[i64],
    eps: i64,
    scale_bits: u32,
) -> LayerNormWitness {
    let n = x.len() as i128;
    assert!(n > 0 && gamma.len() == x.len() && beta.len() == x.len());
    let sum: i128 = x.iter().map(|&v| v as i128).sum();
    let (mean, mean_rem) = (sum.div_euclid(n), sum.rem_euclid(n));
    let centered: Vec<i64> = x.iter().map(|&v| (v as i128 - mean) as i64).collect();
    let sq: i128 = centered.iter().map(|&d| d as i128 * d as i128).sum();
    let (var, var_rem) = (sq / n, sq % n);
    let rho = rstd(var + eps as i128, scale_bits);
    let normalized: Vec<i64> = centered
        .iter()
        .map(|&d| rescale(d as i128 * rho, scale_bits).0 as i64)
        .collect();
    let outputs = normalized
        .iter()
        .zip(gamma.iter().zip(beta))
        .map(|(&z, (&g, &b))| (rescale(z as i128 * g as i128, scale_bits).0 + b as i128) as i64)
        .collect();
    LayerNormWitness {
        mean: mean as i64,
        mean_rem: mean_rem as i64,
        centered,
        var,
        var_rem,
        rstd: rho,
        normalized,
        outputs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rstd_is_the_exact_integer_root() {
        for s in [6u32, 10, 13] {
            for w in [
                1i128,
                2,
                3,
                1000,
                123_456,
                1 << (2 * s),
                (1 << (2 * s)) * 9 + 7,
            ] {
                let r = rstd(w, s) as u128;
                let t = 1u128 << (4 * s);
                assert!(
                    r * r * w as u128 <= t && (r + 1) * (r + 1) * w as u128 > t,
                    "s={s} w={w}"
                );
            }
        }
    }

    #[test]
    fn tracks_the_float_layernorm() {
        let s = 10;
        let q = |v: f64| (v * 1024.0).round() as i64;
        let xf = [0.5, -1.25, 2.0, 0.75, -0.3, 1.1, 0.0, -2.2];
        let gf = [1.0, 0.5, 1.5, 1.0, 0.8, 1.2, 1.0, 0.9];
        let bf = [0.0, 0.1, -0.2, 0.0, 0.05, 0.0, 0.3, -0.1];
        let x: Vec<i64> = xf.iter().map(|&v| q(v)).collect();
        let g: Vec<i64> = gf.iter().map(|&v| q(v)).collect();
        let b: Vec<i64> = bf.iter().map(|&v| q(v)).collect();
        let eps = ((1e-5f64 * (1u64 << 20) as f64).round() as i64).max(1);
        let w = layernorm_row(&x, &g, &b, eps, s);
        let mean: f64 = xf.iter().sum::<f64>() / 8.0;
        let var: f64 = xf.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 8.0;
        for i in 0..8 {
            let want = (xf[i] - mean) / (var + 1e-5).sqrt() * gf[i] + bf[i];
            let got = w.outputs[i] as f64 / 1024.0;
            assert!((got - want).abs() < 1e-2, "entry {i}: {got} vs {want}");
        }
        assert_eq!(
            w.mean as i128 * 8 + w.mean_rem as i128,
            x.iter().map(|&v| v as i128).sum::<i128>()
        );
    }
}
