//! The witness of a layer-norm row's statistics: mean, variance and `ρ`
//! (`1/σ` at scale `2^s`), with the remainders and gaps that
//! [`super::LayerNormChip`]'s stats gate and range checks constrain.

pub use zkinfer_quantizer::nonlinear::layernorm::rstd;

/// A row's sums, which the chip's sum rows prove: `Σx`, `Σx²` and `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowSums {
    pub sum: i128,
    pub sq: i128,
    pub n: i128,
}

impl RowSums {
    pub fn of(x: &[i128]) -> Self {
        RowSums {
            sum: x.iter().sum(),
            sq: x.iter().map(|v| v * v).sum(),
            n: x.len() as i128,
        }
    }

    /// `Σ(x − mean)² = Σx² − 2·mean·Σx + n·mean²`: the stats gate's form.
    pub fn centered_squares(&self, mean: i128) -> i128 {
        self.sq - 2 * mean * self.sum + self.n * mean * mean
    }
}

/// The row statistics: mean, variance, `ρ`, their remainders and the gaps of
/// `ρ`'s inequalities (`lo = 2^(4s) − ρ²·w`, `hi = (ρ+1)²·w − 2^(4s) − 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerNormStats {
    pub mean: i128,
    pub mean_rem: i128,
    pub var: i128,
    pub var_rem: i128,
    pub rstd: i128,
    pub lo: i128,
    pub hi: i128,
}

impl LayerNormStats {
    /// The honest statistics of the row `x`.
    pub fn honest(x: &[i128], eps: i64, scale_bits: u32) -> Self {
        Self::from_sums(RowSums::of(x), eps, scale_bits)
    }

    /// The honest statistics from the row's sums alone.
    pub fn from_sums(sums: RowSums, eps: i64, scale_bits: u32) -> Self {
        let n = sums.n.max(1);
        let mean = sums.sum.div_euclid(n);
        let var = sums.centered_squares(mean) / n;
        let rho = rstd(var + eps as i128, scale_bits);
        Self::claim(sums, eps, scale_bits, mean, var, rho)
    }

    /// The statistics of `x` claiming `mean`, `var` and `rstd`, with the
    /// remainders and gaps their equations then force (tests forge rows with it).
    pub fn with(x: &[i128], eps: i64, scale_bits: u32, mean: i128, var: i128, rstd: i128) -> Self {
        Self::claim(RowSums::of(x), eps, scale_bits, mean, var, rstd)
    }

    fn claim(sums: RowSums, eps: i64, scale_bits: u32, mean: i128, var: i128, rstd: i128) -> Self {
        let w = var + eps as i128;
        let target = 1i128 << (4 * scale_bits);
        LayerNormStats {
            mean,
            mean_rem: sums.sum - mean * sums.n,
            var,
            var_rem: sums.centered_squares(mean) - var * sums.n,
            rstd,
            lo: target - rstd * rstd * w,
            hi: (rstd + 1) * (rstd + 1) * w - target - 1,
        }
    }
}
