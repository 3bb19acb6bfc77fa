//! Pointwise nonlinearities as lookup tables over a bounded input range.
//!
//! For an input `x` (scale `2^s`) the table index is `i = floor(x / 2^t)`
//! (`t = in_shift`, so a table covers a wide real range with few rows; the
//! remainder `x - i·2^t` lies in `[0, 2^t)`). Inside `[lo, hi]` the output is
//! `values[i - lo]`; outside it the function saturates as the table says:
//! to a constant (GELU → 0, tanh → ±1, exp → 0) or to the identity (GELU(x)
//! → x). Saturation is part of the semantics, so an input far outside the
//! calibrated range is still proved exactly, never wrapped.

use serde::{Deserialize, Serialize};

/// The real function a table samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Nonlinearity {
    /// `x·Φ(x)` (erf form, BERT).
    Gelu,
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (GPT-2's `gelu_new`).
    GeluTanh,
    Tanh,
    Erf,
    Sigmoid,
    Exp,
}

impl Nonlinearity {
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Nonlinearity::Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            Nonlinearity::GeluTanh => {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
            }
            Nonlinearity::Tanh => x.tanh(),
            Nonlinearity::Erf => erf(x),
            Nonlinearity::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Nonlinearity::Exp => x.exp(),
        }
    }
}

/// What a table returns for an index outside `[lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Saturation {
    /// This constant (scale `2^s`).
    Const(i64),
    /// The input itself.
    Identity,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointwiseTable {
    pub func: Nonlinearity,
    /// `t`: the index is `floor(x / 2^t)`.
    pub in_shift: u32,
    /// Smallest and largest index the table holds (inclusive).
    pub lo: i64,
    pub hi: i64,
    pub below: Saturation,
    pub above: Saturation,
    /// Outputs for indices `lo..=hi`, scale `2^s`.
    pub values: Vec<i64>,
}

impl PointwiseTable {
    /// Samples `func` at the centre of each index's input interval.
    pub fn build(
        func: Nonlinearity,
        scale_bits: u32,
        in_shift: u32,
        lo: i64,
        hi: i64,
        below: Saturation,
        above: Saturation,
    ) -> Self {
        assert!(lo <= hi, "a table needs at least one row");
        let unit = (1u64 << scale_bits) as f64;
        let half = if in_shift == 0 {
            0.0
        } else {
            (1u64 << (in_shift - 1)) as f64
        };
        let values = (lo..=hi)
            .map(|i| {
                let x = (i as f64 * (1u64 << in_shift) as f64 + half) / unit;
                (func.eval(x) * unit).round() as i64
            })
            .collect();
        PointwiseTable {
            func,
            in_shift,
            lo,
            hi,
            below,
            above,
            values,
        }
    }

    /// The table index of `x` and the remainder `x - index·2^t`.
    pub fn index(&self, x: i64) -> (i64, i64) {
        let d = 1i64 << self.in_shift;
        (x.div_euclid(d), x.rem_euclid(d))
    }

    pub fn eval(&self, x: i64) -> i64 {
        let (i, _) = self.index(x);
        saturating_lookup(x, i, self.lo, [self.below, self.above], &self.values)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Structural checks for a table read from a file.
    pub fn is_consistent(&self) -> bool {
        self.lo <= self.hi
            && self.in_shift < 40
            && self.values.len() as i64 == self.hi - self.lo + 1
    }
}

/// The output of a table holding `values` for indices `lo..`, for input `x`
/// at index `i`: the value, or the saturation `sides[0]` below / `sides[1]`
/// above. Shared by every table that evaluates like a [`PointwiseTable`].
pub fn saturating_lookup(x: i64, i: i64, lo: i64, sides: [Saturation; 2], values: &[i64]) -> i64 {
    let saturate = |s: Saturation| match s {
        Saturation::Const(c) => c,
        Saturation::Identity => x,
    };
    match usize::try_from(i - lo) {
        Err(_) => saturate(sides[0]),
        Ok(at) => values
            .get(at)
            .copied()
            .unwrap_or_else(|| saturate(sides[1])),
    }
}

/// erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), enough
/// for tables whose step is at least 2^-20.
pub fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398
                                + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - erfc
    } else {
        erfc - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.5204998778),
            (1.0, 0.8427007929),
            (-2.0, -0.9953222650),
        ] {
            assert!((erf(x) - want).abs() < 2e-7, "erf({x})");
        }
    }

    #[test]
    fn gelu_table_tracks_the_function_and_saturates() {
        let s = 10;
        let t = PointwiseTable::build(
            Nonlinearity::Gelu,
            s,
            2,
            -1024,
            1023,
            Saturation::Const(0),
            Saturation::Identity,
        );
        let unit = 1024.0;
        for xq in (-4096i64..4096).step_by(37) {
            let want = Nonlinearity::Gelu.eval(xq as f64 / unit);
            let got = t.eval(xq) as f64 / unit;
            // One index step is 4/1024 in x; GELU's slope is at most ~1.13.
            assert!((got - want).abs() < 6.0 / unit, "x = {xq}: {got} vs {want}");
        }
        assert_eq!(t.eval(-5000), 0, "below the table: constant 0");
        assert_eq!(t.eval(9000), 9000, "above the table: identity");
    }

    #[test]
    fn index_floors_negative_inputs() {
        let t = PointwiseTable::build(
            Nonlinearity::Tanh,
            8,
            3,
            -4,
            3,
            Saturation::Const(-256),
            Saturation::Const(256),
        );
        assert_eq!(t.index(-1), (-1, 7));
        assert_eq!(t.index(-8), (-1, 0));
        assert_eq!(t.index(15), (1, 7));
        assert_eq!(t.eval(-33), -256);
        assert_eq!(t.eval(32), 256);
    }
}
