//! `LayerNormChip`: layer normalization over the rows of a matrix, exactly as
//! [`zkinfer_quantizer::nonlinear::layernorm_row`].
//!
//! For a row `x` of length `n`, fixed `gamma`, `beta` (scale `2^s`) and `eps`
//! (scale `2^(2s)`, at least 1):
//!
//! ```text
//! Σx = μ·n + r_μ,  0 ≤ r_μ < n            Σ(x − μ)² = v·n + r_v,  0 ≤ r_v < n
//! w = v + eps,     ρ²·w ≤ 2^(4s) < (ρ+1)²·w
//! z_i = rescale((x_i − μ)·ρ),   y_i = rescale(z_i·gamma_i) + beta_i
//!                                    = rescale(z_i·gamma_i + beta_i·2^s)
//! ```
//!
//! (the two forms of `y` are equal: adding a multiple of `2^s` before
//! `floor((a + 2^(s−1)) / 2^s)` adds its quotient after; the second costs
//! one gate row and one range check less per entry).
//!
//! # Layout and constraints
//!
//! Four gate columns `(a0, a1, a2, a3)` and two fixed columns `(f0, f1)` of
//! the shared pool; three selectors.
//!
//! **Sum rows** (`q_sum`), one per entry, `cont = f0` (0 on a row's first
//! entry, else 1): `a0 = x_i` (copy), `a1 = Σx`, `a2 = Σx²` running:
//!
//! ```text
//! a1 − cont·a1[prev] − x = 0,     a2 − cont·a2[prev] − x² = 0
//! ```
//!
//! **Stats rows** (`q_stats` on the first of three), `n = f0`, `eps = f1`:
//!
//! ```text
//! row 0: Σx (copy)  μ    r_μ  Σx² (copy)
//! row 1: v          r_v  ρ    lo
//! row 2: hi
//! Σx − μ·n − r_μ = 0
//! Σx² − 2μ·Σx + n·μ² − v·n − r_v = 0          (Σx² − 2μΣx + nμ² = Σ(x − μ)²)
//! lo − 2^(4s) + ρ²·(v + eps) = 0               lo = 2^(4s) − ρ²·w
//! hi − (ρ+1)²·(v + eps) + 2^(4s) + 1 = 0       hi = (ρ+1)²·w − 2^(4s) − 1
//! ```
//!
//! with range checks: `μ` signed `B`-bit; `r_μ, r_v ∈ [0, n)` (`r ∈ [0, 2^k)`
//! and `r + 2^k − n ∈ [0, 2^k)`, `2^k ≥ n`, one check when `2^k = n`);
//! `v ∈ [0, 2^(2B))`; `ρ ∈ [0, 2^(2s+1))`; `lo, hi ∈ [0, 2^G)`.
//!
//! **Center rows** (`q_center`), one per entry: `a0 = x_i`, `a1 = μ`,
//! `a2 = ρ` (copies), `a3 = p_i`: `p − (x − μ)·ρ = 0`.
//!
//! Then [`RescaleChip`] gives `z = rescale(p)`, [`ElementwiseChip`] the
//! values `z·gamma + beta·2^s` (fixed coefficients) and [`RescaleChip`]
//! their rescale `y`, range-checked by it as a signed `B`-bit activation.
//!
//! # Soundness
//!
//! The inputs are proved signed `B`-bit activations, so the running sums are
//! the integers `Σx`, `Σx²` (`|Σx²| ≤ n·2^(2B−2)`).
//!
//! - *Mean.* `μ` (signed `B` bits) and `r_μ ∈ [0, n)` are small integers, so
//!   `Σx = μ·n + r_μ` is an integer equation: `μ = floor(Σx / n)` (Euclidean,
//!   as `div_euclid`). `μ` must be bounded: for any other `r` the field
//!   quotient `(Σx − r)/n` exists, as a huge element.
//! - *Variance.* `Σx² − 2μΣx + nμ²` is the integer `Σ(x_i − μ)² ≥ 0`; with
//!   `v ∈ [0, 2^(2B))` and `r_v ∈ [0, n)` the equation is an integer one and
//!   `v = floor(Σ(x − μ)² / n)`. Honest `v < 2^(2B)` since `|x_i − μ| < 2^B`.
//! - *Inverse square root.* `ρ < 2^(2s+1)` and `w = v + eps ≥ 1` are small
//!   integers, so `ρ²·w` and `(ρ+1)²·w` are integers far below `p`
//!   (validated); `lo, hi ≥ 0` then say `ρ²·w ≤ 2^(4s)` and
//!   `(ρ+1)²·w ≥ 2^(4s) + 1`: `ρ` is the unique integer `rstd` computes.
//!   `ρ` must be bounded here too: a field `ρ` with `ρ²·w = 2^(4s) − lo`
//!   exists for many `lo`. Honest gaps: both are below `(2ρ+1)·w ≤
//!   2^(2s+1)·√w + w` (as `ρ·√w ≤ 2^(2s)`), which bounds `G`.
//! - *Outputs.* `p_i = (x_i − μ)·ρ` is an integer below `2^(B+2s+1)`; the
//!   rescale chip's argument then gives `z`, the elementwise gate
//!   `z·gamma + beta·2^s` (below `2^120`, validated) and the second rescale
//!   `y`, whose range check makes every output a bounded activation.

use halo2_proofs::circuit::{Layouter, Region, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use halo2curves::ff::Field;
use zkinfer_quantizer::fixed::rescale;

use crate::cell::QCell;
use crate::chips::elementwise::{Coeffs, ElementwiseChip, Term};
use crate::chips::nonlinear::{bits_for, fits_signed, NonlinearError};
use crate::chips::range::RangeChip;
use crate::chips::rescale::RescaleChip;
use crate::field::{fr_from_i128, pow2};
use crate::rows::Rows;

mod stats;
pub use stats::{rstd, LayerNormStats, RowSums};

/// Largest magnitude, in bits, of any product the chip forms (as the planner's
/// accumulator bound): far below `p/2`, and within `i128`.
const PRODUCT_BOUND_BITS: u32 = 120;

#[derive(Clone, Debug)]
pub struct LayerNormChip {
    advice: [Column<Advice>; 4],
    fixed: [Column<Fixed>; 2],
    rescale: RescaleChip,
    elementwise: ElementwiseChip,
    q_sum: Selector,
    q_stats: Selector,
    q_center: Selector,
    scale_bits: u32,
    activation_bits: u32,
}

/// Range-check widths of one layer norm (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerNormWidths {
    /// `k`: remainders are in `[0, n) ⊆ [0, 2^k)`.
    pub rem_bits: u32,
    pub var_bits: u32,
    pub rstd_bits: u32,
    /// `G`: the gaps `lo`, `hi` of the `ρ` inequalities.
    pub gap_bits: u32,
}

impl LayerNormChip {
    /// `advice`: four gate columns; `fixed`: two coefficient columns of the
    /// pool; `rescale` and `elementwise`: the circuit's chips, reused for the
    /// two rescales, `·gamma` and `+ beta`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: [Column<Advice>; 4],
        fixed: [Column<Fixed>; 2],
        rescale: RescaleChip,
        elementwise: ElementwiseChip,
        scale_bits: u32,
        activation_bits: u32,
    ) -> Self {
        let (q_sum, q_stats, q_center) = (meta.selector(), meta.selector(), meta.selector());
        let [a0, a1, a2, a3] = advice;
        let [f0, f1] = fixed;
        meta.create_gate("layernorm sums", |meta| {
            let q = meta.query_selector(q_sum);
            let x = meta.query_advice(a0, Rotation::cur());
            let sum = meta.query_advice(a1, Rotation::cur());
            let sq = meta.query_advice(a2, Rotation::cur());
            let sum_prev = meta.query_advice(a1, Rotation::prev());
            let sq_prev = meta.query_advice(a2, Rotation::prev());
            let cont = meta.query_fixed(f0, Rotation::cur());
            vec![
                q.clone() * (sum - cont.clone() * sum_prev - x.clone()),
                q * (sq - cont * sq_prev - x.clone() * x),
            ]
        });
        let target = Expression::Constant(pow2(4 * scale_bits));
        meta.create_gate("layernorm stats", |meta| {
            let q = meta.query_selector(q_stats);
            let (cur, next) = (Rotation::cur(), Rotation::next());
            let sum = meta.query_advice(a0, cur);
            let mean = meta.query_advice(a1, cur);
            let mean_rem = meta.query_advice(a2, cur);
            let sq = meta.query_advice(a3, cur);
            let var = meta.query_advice(a0, next);
            let var_rem = meta.query_advice(a1, next);
            let rho = meta.query_advice(a2, next);
            let lo = meta.query_advice(a3, next);
            let hi = meta.query_advice(a0, Rotation(2));
            let n = meta.query_fixed(f0, cur);
            let eps = meta.query_fixed(f1, cur);
            let one = Expression::Constant(Fr::ONE);
            let two = Expression::Constant(Fr::from(2u64));
            let w = var.clone() + eps;
            let rho1 = rho.clone() + one.clone();
            vec![
                q.clone() * (sum.clone() - mean.clone() * n.clone() - mean_rem),
                q.clone()
                    * (sq - two * mean.clone() * sum + n.clone() * mean.clone() * mean
                        - var * n
                        - var_rem),
                q.clone() * (lo - target.clone() + rho.clone() * rho * w.clone()),
                q * (hi - rho1.clone() * rho1 * w + target.clone() + one),
            ]
        });
        meta.create_gate("layernorm center", |meta| {
            let q = meta.query_selector(q_center);
            let x = meta.query_advice(a0, Rotation::cur());
            let mean = meta.query_advice(a1, Rotation::cur());
            let rho = meta.query_advice(a2, Rotation::cur());
            let p = meta.query_advice(a3, Rotation::cur());
            vec![q * (p - (x - mean) * rho)]
        });
        LayerNormChip {
            advice,
            fixed,
            rescale,
            elementwise,
            q_sum,
            q_stats,
            q_center,
            scale_bits,
            activation_bits,
        }
    }

    /// Checks a layer norm's constants against what the chip proves without
    /// wrapping around the field, and returns its range-check widths.
    pub fn validate(
        gamma: &[i64],
        beta: &[i64],
        eps: i64,
        scale_bits: u32,
        activation_bits: u32,
    ) -> Result<LayerNormWidths, NonlinearError> {
        let bad = |m: String| Err(NonlinearError::BadLayerNorm(m));
        let n = gamma.len();
        if n == 0 || beta.len() != n {
            return bad(format!(
                "{} gammas and {} betas: both must be the (non-zero) row length",
                gamma.len(),
                beta.len()
            ));
        }
        if eps < 1 {
            return bad(format!("eps is {eps}; it must be at least 1"));
        }
        let (s, b) = (scale_bits, activation_bits);
        if s == 0 || b <= s || 4 * s + 2 > PRODUCT_BOUND_BITS {
            return Err(NonlinearError::BadWidths(format!(
                "layer norm with scale 2^{s} and {b}-bit activations: needs 1 ≤ s < B and \
                 4s + 2 ≤ {PRODUCT_BOUND_BITS}"
            )));
        }
        // Σx² ≤ n·2^(2B), and ρ²·w ≤ 2^(4s+2)·w_max.
        let n_bits = bits_for(n as u128);
        if 2 * b + n_bits > PRODUCT_BOUND_BITS {
            return Err(NonlinearError::BadWidths(format!(
                "layer norm rows of {n} {b}-bit values: their squares exceed 2^{PRODUCT_BOUND_BITS}"
            )));
        }
        let w_max = (1u128 << (2 * b)) - 1 + eps as u128;
        if 4 * s + 2 + bits_for(w_max) > PRODUCT_BOUND_BITS {
            return Err(NonlinearError::BadWidths(format!(
                "layer norm with scale 2^{s}, {b}-bit values and eps {eps}: ρ²·(v + eps) may \
                 exceed 2^{PRODUCT_BOUND_BITS}"
            )));
        }
        // z·gamma + beta·2^s with |z| < 2^(B−1).
        let term = |g: i64, beta: i64| {
            ((g.unsigned_abs() as u128) << (b - 1)) + ((beta.unsigned_abs() as u128) << s)
        };
        if let Some((g, beta)) = gamma
            .iter()
            .zip(beta)
            .find(|&(&g, &beta)| bits_for(term(g, beta)) > PRODUCT_BOUND_BITS)
        {
            return bad(format!(
                "gamma {g} times a {b}-bit value plus beta {beta} exceeds 2^{PRODUCT_BOUND_BITS}"
            ));
        }
        let gap_max = (1u128 << (2 * s + 1)) * (w_max.isqrt() + 1) + w_max;
        Ok(LayerNormWidths {
            rem_bits: bits_for(n as u128 - 1),
            var_bits: 2 * b,
            rstd_bits: 2 * s + 1,
            gap_bits: bits_for(gap_max),
        })
    }

    /// Whether honest inference of `x` fits the chip: the normalized values
    /// `z` must be signed `B`-bit values for the rescale chip to prove them
    /// (the outputs are checked by integer inference). Call it at witness
    /// time for a clear error instead of a failing proof.
    pub fn check_row(
        x: &[i64],
        gamma: &[i64],
        beta: &[i64],
        eps: i64,
        scale_bits: u32,
        activation_bits: u32,
    ) -> Result<(), NonlinearError> {
        Self::validate(gamma, beta, eps, scale_bits, activation_bits)?;
        if x.len() != gamma.len() {
            return Err(NonlinearError::Shape {
                len: x.len(),
                row_len: gamma.len(),
            });
        }
        let x: Vec<i128> = x.iter().map(|&v| v as i128).collect();
        let stats = LayerNormStats::honest(&x, eps, scale_bits);
        for (&v, &g) in x.iter().zip(gamma) {
            let z = rescale((v - stats.mean) * stats.rstd, scale_bits).0;
            if !fits_signed(z, activation_bits) {
                return Err(NonlinearError::BadLayerNorm(format!(
                    "a normalized value ({z}, before gamma {g}) does not fit in \
                     {activation_bits} bits"
                )));
            }
        }
        Ok(())
    }

    /// Layer norm of each row of `gamma.len()` consecutive inputs, every input
    /// a proved signed `activation_bits`-bit value. With `private`, gamma
    /// and beta are those advice cells (private weights, proved to be the
    /// committed ones) instead of fixed coefficients; `gamma` and `beta`
    /// still give their values.
    #[allow(clippy::too_many_arguments)]
    pub fn layernorm(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        inputs: &[QCell],
        gamma: &[i64],
        beta: &[i64],
        eps: i64,
        private: Option<(&[QCell], &[QCell])>,
    ) -> Result<Vec<QCell>, Error> {
        self.layernorm_with(
            layouter,
            rows,
            range,
            inputs,
            gamma,
            beta,
            eps,
            private,
            &|_, _| {},
        )
    }

    /// [`Self::layernorm`] where `tamper(row, stats)` may rewrite a row's
    /// statistics before they are assigned (tests forge witnesses with it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn layernorm_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        inputs: &[QCell],
        gamma: &[i64],
        beta: &[i64],
        eps: i64,
        private: Option<(&[QCell], &[QCell])>,
        tamper: &dyn Fn(usize, &mut LayerNormStats),
    ) -> Result<Vec<QCell>, Error> {
        let (s, b) = (self.scale_bits, self.activation_bits);
        let widths = Self::validate(gamma, beta, eps, s, b).map_err(|_| Error::Synthesis)?;
        let n = gamma.len();
        if !inputs.len().is_multiple_of(n) {
            return Err(Error::Synthesis);
        }
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let sums = self.assign_sums(layouter, rows, inputs, n)?;
        let stats = self.assign_stats(layouter, rows, &sums, n, eps, tamper)?;
        let products = self.assign_center(layouter, rows, inputs, &stats, n)?;

        let z = self.rescale.rescale(layouter, rows, range, &products)?;
        let scaled = match private {
            None => {
                let terms: Vec<Term<'_>> = z
                    .iter()
                    .zip(gamma.iter().zip(beta).cycle())
                    .map(|(z, (&g, &beta))| Term {
                        a: z,
                        b: None,
                        coeffs: Coeffs {
                            a: g as i128,
                            constant: (beta as i128) << s,
                            ..Coeffs::default()
                        },
                    })
                    .collect();
                self.elementwise.apply(layouter, rows, &terms)?
            }
            // Two rows a value, z·gamma then + beta·2^s: the elementwise
            // gate has one advice operand besides z.
            Some((gamma, beta)) => {
                if gamma.len() != n || beta.len() != n {
                    return Err(Error::Synthesis);
                }
                let terms: Vec<Term<'_>> = z
                    .iter()
                    .zip(gamma.iter().cycle())
                    .map(|(z, g)| Term {
                        a: z,
                        b: Some(g),
                        coeffs: Coeffs {
                            ab: 1,
                            ..Coeffs::default()
                        },
                    })
                    .collect();
                let products = self.elementwise.apply(layouter, rows, &terms)?;
                let terms: Vec<Term<'_>> = products
                    .iter()
                    .zip(beta.iter().cycle())
                    .map(|(p, beta)| Term {
                        a: p,
                        b: Some(beta),
                        coeffs: Coeffs {
                            a: 1,
                            b: 1 << s,
                            ..Coeffs::default()
                        },
                    })
                    .collect();
                self.elementwise.apply(layouter, rows, &terms)?
            }
        };
        let y = self.rescale.rescale(layouter, rows, range, &scaled)?;

        let column = |k: usize| stats.iter().map(|cells| cells[k]).collect::<Vec<_>>();
        let (rem_bits, pow) = (widths.rem_bits, 1i128 << widths.rem_bits);
        range.check_signed(layouter, rows, &column(0), b)?;
        for rems in [column(1), column(3)] {
            range.check(layouter, rows, &rems, rem_bits, 0)?;
            if pow != n as i128 {
                range.check(layouter, rows, &rems, rem_bits, pow - n as i128)?;
            }
        }
        range.check(layouter, rows, &column(2), widths.var_bits, 0)?;
        range.check(layouter, rows, &column(4), widths.rstd_bits, 0)?;
        range.check(layouter, rows, &column(5), widths.gap_bits, 0)?;
        range.check(layouter, rows, &column(6), widths.gap_bits, 0)?;
        Ok(y)
    }

    /// The sum rows; returns each row's final `(Σx, Σx²)` cells.
    fn assign_sums(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        inputs: &[QCell],
        n: usize,
    ) -> Result<Vec<[QCell; 2]>, Error> {
        let start = rows.take_gate(inputs.len());
        let [a0, a1, a2, _] = self.advice;
        layouter.assign_region(
            || "layernorm sums",
            |mut region| {
                let mut totals = Vec::with_capacity(inputs.len() / n);
                for (r, xs) in inputs.chunks(n).enumerate() {
                    let (mut sum, mut sq) = (Value::known(0i128), Value::known(0i128));
                    let mut last = None;
                    for (j, x) in xs.iter().enumerate() {
                        let row = start + r * n + j;
                        self.q_sum.enable(&mut region, row)?;
                        region.assign_fixed(self.fixed[0], row, Fr::from(u64::from(j > 0)));
                        x.copy_to(&mut region, a0, row);
                        sum = sum + x.value;
                        sq = sq + x.value.map(|x| x * x);
                        last = Some([
                            QCell::assign(&mut region, a1, row, sum),
                            QCell::assign(&mut region, a2, row, sq),
                        ]);
                    }
                    totals.push(last.ok_or(Error::Synthesis)?);
                }
                Ok(totals)
            },
        )
    }

    /// The stats rows; returns each row's cells
    /// `[μ, r_μ, v, r_v, ρ, lo, hi]`.
    fn assign_stats(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        sums: &[[QCell; 2]],
        n: usize,
        eps: i64,
        tamper: &dyn Fn(usize, &mut LayerNormStats),
    ) -> Result<Vec<[QCell; 7]>, Error> {
        let start = rows.take_gate(3 * sums.len());
        let [a0, a1, a2, a3] = self.advice;
        let s = self.scale_bits;
        layouter.assign_region(
            || "layernorm stats",
            |mut region| {
                let mut out = Vec::with_capacity(sums.len());
                for (r, [sum, sq]) in sums.iter().enumerate() {
                    let row = start + 3 * r;
                    self.q_stats.enable(&mut region, row)?;
                    region.assign_fixed(self.fixed[0], row, Fr::from(n as u64));
                    region.assign_fixed(self.fixed[1], row, fr_from_i128(eps as i128));
                    let stats = sum.value.zip(sq.value).map(|(sum, sq)| {
                        let mut w = LayerNormStats::from_sums(
                            RowSums {
                                sum,
                                sq,
                                n: n as i128,
                            },
                            eps,
                            s,
                        );
                        tamper(r, &mut w);
                        w
                    });
                    let put = |region: &mut Region<'_, Fr>,
                               column: Column<Advice>,
                               offset: usize,
                               f: fn(&LayerNormStats) -> i128| {
                        QCell::assign(region, column, row + offset, stats.map(|w| f(&w)))
                    };
                    sum.copy_to(&mut region, a0, row);
                    sq.copy_to(&mut region, a3, row);
                    out.push([
                        put(&mut region, a1, 0, |w| w.mean),
                        put(&mut region, a2, 0, |w| w.mean_rem),
                        put(&mut region, a0, 1, |w| w.var),
                        put(&mut region, a1, 1, |w| w.var_rem),
                        put(&mut region, a2, 1, |w| w.rstd),
                        put(&mut region, a3, 1, |w| w.lo),
                        put(&mut region, a0, 2, |w| w.hi),
                    ]);
                }
                Ok(out)
            },
        )
    }

    /// The center rows; returns the products `(x − μ)·ρ`.
    fn assign_center(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        inputs: &[QCell],
        stats: &[[QCell; 7]],
        n: usize,
    ) -> Result<Vec<QCell>, Error> {
        let start = rows.take_gate(inputs.len());
        let [a0, a1, a2, a3] = self.advice;
        layouter.assign_region(
            || "layernorm center",
            |mut region| {
                let mut products = Vec::with_capacity(inputs.len());
                for (i, x) in inputs.iter().enumerate() {
                    let row = start + i;
                    let (mean, rho) = (stats[i / n][0], stats[i / n][4]);
                    self.q_center.enable(&mut region, row)?;
                    x.copy_to(&mut region, a0, row);
                    mean.copy_to(&mut region, a1, row);
                    rho.copy_to(&mut region, a2, row);
                    let p = x
                        .value
                        .zip(mean.value)
                        .zip(rho.value)
                        .map(|((x, m), r)| (x - m) * r);
                    products.push(QCell::assign(&mut region, a3, row, p));
                }
                Ok(products)
            },
        )
    }
}

#[cfg(test)]
mod tests;
