//! `SoftmaxChip`: softmax over the rows of a matrix, with an optional causal
//! mask, exactly as [`zkinfer_quantizer::nonlinear::softmax_row`].
//!
//! A row `x` of length `T` keeps its first `valid` entries (`valid = T`, or
//! `valid = row % T + 1` under a causal mask) and proves
//!
//! ```text
//! m = max_{j < valid} x_j,   d_j = x_j − m,   e_j = exp_table(d_j),
//! S = Σ_{j < valid} e_j,     e_j·2^s = y_j·S + r_j,  0 ≤ r_j < S,
//! y_j = 0 for j ≥ valid.
//! ```
//!
//! # Layout and constraints
//!
//! Four gate columns `(a0, a1, a2, a3)` and two fixed columns `(f0, f1)` of
//! the shared pool; three selectors.
//!
//! **Max rows** (`q_max`), one per unmasked entry, `cont = f0` (0 on a row's
//! first entry, else 1), `last = f1` (1 on its last):
//!
//! ```text
//! a0 = x_j,  a1 = m (a copy of the row's first m),  a2 = d_j,  a3 = P_j
//! d − x + m = 0
//! P + d·(1 − cont + cont·P[prev]) = 0        P_j = (m − x_j)·P_{j−1},  P_{−1} = 1
//! last·P = 0                                 Π_{j<valid} (m − x_j) = 0
//! ```
//!
//! and `d_j + 2^B − 1 ∈ [0, 2^B)` through [`RangeChip`]. The `d_j` cells go
//! through [`PointwiseChip`] with the exp table (inputs of `B + 1` bits), which
//! returns the `e_j` cells.
//!
//! **Normalize rows** (`q_norm` on the first of two rows per unmasked entry,
//! `cont = f0`):
//!
//! ```text
//! row 0: a0 = e_j (copy),  a1 = S_j,  a2 = y_j,  a3 = r_j
//! row 1: a0 = c_j,         a1 = Ŝ (a copy of the row's last S_j)
//! S − cont·S[−2] − e = 0                     running sum: S_{valid−1} = S
//! e·2^s − y·Ŝ[+1] − r = 0
//! c[+1] − Ŝ[+1] + 1 + r = 0                  c_j = S − 1 − r_j
//! ```
//!
//! with `r_j, c_j ∈ [0, 2^K)` and `y_j ∈ [0, 2^(s+1))` through the range chip,
//! `2^K > T·E` for `E` the largest value of the exp table.
//!
//! **Masked rows** (`q_zero`): four masked outputs per row, each constrained
//! to 0 (`q_zero·a_k = 0`).
//!
//! # Soundness
//!
//! The inputs are proved signed `B`-bit activations.
//!
//! - *The max.* `Π (m − x_j) = 0` in the field, which has no zero divisors,
//!   so `m = x_j` for some unmasked `j`: `m` is one of the entries (so it is
//!   a bounded activation too). The range check makes each `d_j = x_j − m`
//!   an integer in `[1 − 2^B, 0]`: `m ≥ x_j` for every unmasked `j`. So `m`
//!   is the maximum, and the `d_j` are signed `(B + 1)`-bit values, the
//!   input bound the pointwise chip's argument needs. A running product
//!   costs one cell per entry and no flags; a one-hot selection of the max
//!   would cost a flag per entry and a gate tying the flags to the entries.
//! - *The exponentials.* `e_j = exp_table(d_j)`, proved by the pointwise chip.
//!   The table's outputs are validated to be non-negative constants, so
//!   `S = Σ e_j` is an integer in `[0, T·E]`; and `exp_table(0) ≥ 1` for the
//!   max's own entry, so `S ≥ 1`.
//! - *The division.* `r_j, c_j ∈ [0, 2^K)` are integers with
//!   `r_j + c_j = S − 1`, so `0 ≤ r_j < S`. `y_j < 2^(s+1)`, so
//!   `y_j·S + r_j < 2^(s+1+K) + 2^K ≪ p` and the gate is the integer equation
//!   `e_j·2^s = y_j·S + r_j`: `y_j = floor(e_j·2^s / S)`, as `softmax_row`
//!   computes it (with `e_j ≥ 0`, its truncating `/` is the floor). Bounding
//!   `y_j` is necessary: for any other `r` in `[0, S)` the field quotient
//!   `(e·2^s − r)/S` exists, as a huge element.
//! - *The mask* is structural: the fixed selectors decide which entries
//!   have max and normalize rows, so masked inputs take no part, and masked
//!   outputs are zero cells.
//!
//! Every output is in `[0, 2^s]` (`e_j ≤ S`), a signed `B`-bit activation
//! since the chip requires `B ≥ s + 2`.

use halo2_proofs::circuit::{Layouter, Region, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use halo2curves::ff::Field;
use zkinfer_quantizer::nonlinear::Saturation;

use crate::cell::QCell;
use crate::chips::nonlinear::{bits_for, NonlinearError};
use crate::chips::pointwise::{LoadedTable, LookupTable, PointwiseChip};
use crate::chips::range::RangeChip;
use crate::field::{fr_from_i128, pow2};
use crate::rows::Rows;

#[derive(Clone, Debug)]
pub struct SoftmaxChip {
    advice: [Column<Advice>; 4],
    fixed: [Column<Fixed>; 2],
    pointwise: PointwiseChip,
    q_max: Selector,
    q_norm: Selector,
    q_zero: Selector,
    scale_bits: u32,
    activation_bits: u32,
}

/// Which entries of each row take part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// Every entry.
    None,
    /// Rows of `[.., T, T]` score matrices: row `i` keeps its first
    /// `i % T + 1` entries.
    Causal,
}

impl Mask {
    /// Unmasked entries of row `row` (counted over the whole tensor) of length `row_len`.
    pub fn valid(self, row: usize, row_len: usize) -> usize {
        match self {
            Mask::None => row_len,
            Mask::Causal => row % row_len + 1,
        }
    }
}

/// The division witness of one unmasked entry: `e·2^s = y·S + rem`,
/// `slack = S − 1 − rem`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DivisionWitness {
    pub y: i128,
    pub rem: i128,
    pub slack: i128,
}

impl DivisionWitness {
    pub fn honest(e: i128, sum: i128, scale_bits: u32) -> Self {
        let num = e << scale_bits;
        // `sum ≥ 1` for every honest row; a forged one gets a witness that fails.
        let (y, rem) = if sum > 0 {
            (num / sum, num % sum)
        } else {
            (0, num)
        };
        DivisionWitness {
            y,
            rem,
            slack: sum - 1 - rem,
        }
    }
}

/// Where tests forge witnesses; every method defaults to the honest value.
pub(crate) trait SoftmaxForgery {
    /// The max `m` of row `row`.
    fn max(&self, _row: usize, _max: &mut i128) {}
    /// The division of entry `entry` of row `row`, whose sum is `sum`.
    fn division(&self, _row: usize, _entry: usize, _sum: i128, _w: &mut DivisionWitness) {}
    /// The masked output `entry` of row `row`.
    fn masked(&self, _row: usize, _entry: usize, _y: &mut i128) {}
}

struct Honest;
impl SoftmaxForgery for Honest {}

impl SoftmaxChip {
    /// `advice`: four gate columns; `fixed`: two coefficient columns of the
    /// pool; `pointwise`: the chip whose tables hold the exp table.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: [Column<Advice>; 4],
        fixed: [Column<Fixed>; 2],
        pointwise: PointwiseChip,
        scale_bits: u32,
        activation_bits: u32,
    ) -> Self {
        let (q_max, q_norm, q_zero) = (meta.selector(), meta.selector(), meta.selector());
        let [a0, a1, a2, a3] = advice;
        let one = Expression::Constant(Fr::ONE);
        meta.create_gate("softmax max", |meta| {
            let q = meta.query_selector(q_max);
            let x = meta.query_advice(a0, Rotation::cur());
            let m = meta.query_advice(a1, Rotation::cur());
            let d = meta.query_advice(a2, Rotation::cur());
            let p = meta.query_advice(a3, Rotation::cur());
            let p_prev = meta.query_advice(a3, Rotation::prev());
            let cont = meta.query_fixed(fixed[0], Rotation::cur());
            let last = meta.query_fixed(fixed[1], Rotation::cur());
            vec![
                q.clone() * (d.clone() - x + m),
                q.clone() * (p.clone() + d * (one.clone() - cont.clone() + cont * p_prev)),
                q * last * p,
            ]
        });
        let unit = Expression::Constant(pow2(scale_bits));
        meta.create_gate("softmax normalize", |meta| {
            let q = meta.query_selector(q_norm);
            let e = meta.query_advice(a0, Rotation::cur());
            let s = meta.query_advice(a1, Rotation::cur());
            let s_prev = meta.query_advice(a1, Rotation(-2));
            let y = meta.query_advice(a2, Rotation::cur());
            let r = meta.query_advice(a3, Rotation::cur());
            let c = meta.query_advice(a0, Rotation::next());
            let total = meta.query_advice(a1, Rotation::next());
            let cont = meta.query_fixed(fixed[0], Rotation::cur());
            vec![
                q.clone() * (s - cont * s_prev - e.clone()),
                q.clone() * (e * unit - y * total.clone() - r.clone()),
                q * (c - total + one + r),
            ]
        });
        meta.create_gate("softmax masked", |meta| {
            let q = meta.query_selector(q_zero);
            advice
                .map(|a| q.clone() * meta.query_advice(a, Rotation::cur()))
                .to_vec()
        });
        SoftmaxChip {
            advice,
            fixed,
            pointwise,
            q_max,
            q_norm,
            q_zero,
            scale_bits,
            activation_bits,
        }
    }

    /// Checks the exp table and widths, and returns the width `K` of the
    /// division remainders (`2^K > row_len·E`, `E` the table's largest output).
    pub fn validate(
        exp: &LookupTable,
        row_len: usize,
        scale_bits: u32,
        activation_bits: u32,
    ) -> Result<u32, NonlinearError> {
        if row_len == 0 {
            return Err(NonlinearError::Shape { len: 0, row_len });
        }
        if scale_bits == 0 || activation_bits < scale_bits + 2 || activation_bits > 63 {
            return Err(NonlinearError::BadWidths(format!(
                "softmax outputs reach 2^s = 2^{scale_bits}, so it needs activations of \
                 s + 2 to 63 bits, not {activation_bits}"
            )));
        }
        PointwiseChip::validate(exp, activation_bits + 1, activation_bits)?;
        let mut outputs = exp.values.clone();
        for side in [exp.below, exp.above] {
            match side {
                Saturation::Const(c) => outputs.push(c),
                Saturation::Identity => {
                    return Err(NonlinearError::BadExpTable(
                        "it saturates to its input, which is never a valid exponential".into(),
                    ))
                }
            }
        }
        if let Some(v) = outputs.iter().find(|&&v| v < 0) {
            return Err(NonlinearError::BadExpTable(format!(
                "it has the negative output {v}"
            )));
        }
        if exp.eval(0) < 1 {
            return Err(NonlinearError::BadExpTable(
                "exp(0) is below 1, so a row's sum can vanish".into(),
            ));
        }
        let largest = outputs.into_iter().max().unwrap_or(0) as u128;
        Ok(bits_for(row_len as u128 * largest))
    }

    /// Softmax of each row of `row_len` consecutive inputs, every input a
    /// proved signed `activation_bits`-bit value; `exp` is the op's exp table.
    #[allow(clippy::too_many_arguments)]
    pub fn softmax(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        exp: &LoadedTable,
        inputs: &[QCell],
        row_len: usize,
        mask: Mask,
    ) -> Result<Vec<QCell>, Error> {
        self.softmax_with(layouter, rows, range, exp, inputs, row_len, mask, &Honest)
    }

    /// [`Self::softmax`] with forged witnesses where `forge` says so (tests).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn softmax_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        exp: &LoadedTable,
        inputs: &[QCell],
        row_len: usize,
        mask: Mask,
        forge: &dyn SoftmaxForgery,
    ) -> Result<Vec<QCell>, Error> {
        let (s, b) = (self.scale_bits, self.activation_bits);
        let sum_bits = Self::validate(exp.table(), row_len, s, b).map_err(|_| Error::Synthesis)?;
        if !inputs.len().is_multiple_of(row_len) {
            return Err(Error::Synthesis);
        }
        let matrix: Vec<(&[QCell], usize)> = inputs
            .chunks(row_len)
            .enumerate()
            .map(|(r, xs)| (xs, mask.valid(r, row_len)))
            .collect();
        let diffs = self.assign_max(layouter, rows, &matrix, forge)?;
        let exps = self
            .pointwise
            .apply(layouter, rows, range, exp, &diffs, b + 1)?;
        let (valid_outputs, rems, slacks) =
            self.assign_normalize(layouter, rows, &matrix, &exps, forge)?;
        let masked = self.assign_masked(layouter, rows, &matrix, forge)?;

        range.check(layouter, rows, &diffs, b, (1i128 << b) - 1)?;
        range.check(layouter, rows, &rems, sum_bits, 0)?;
        range.check(layouter, rows, &slacks, sum_bits, 0)?;
        range.check(layouter, rows, &valid_outputs, s + 1, 0)?;

        let (mut valid_outputs, mut masked) = (valid_outputs.into_iter(), masked.into_iter());
        let mut out = Vec::with_capacity(inputs.len());
        for &(_, valid) in &matrix {
            out.extend(valid_outputs.by_ref().take(valid));
            out.extend(masked.by_ref().take(row_len - valid));
        }
        Ok(out)
    }

    /// The max rows; returns the `d_j` cells of every row's unmasked entries.
    fn assign_max(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        matrix: &[(&[QCell], usize)],
        forge: &dyn SoftmaxForgery,
    ) -> Result<Vec<QCell>, Error> {
        let total: usize = matrix.iter().map(|&(_, valid)| valid).sum();
        let start = rows.take_gate(total);
        let [a0, a1, a2, a3] = self.advice;
        layouter.assign_region(
            || "softmax max",
            |mut region| {
                let mut diffs = Vec::with_capacity(total);
                let mut row = start;
                for (r, &(xs, valid)) in matrix.iter().enumerate() {
                    let xs = &xs[..valid];
                    let values: Value<Vec<i128>> = xs.iter().map(|x| x.value).collect();
                    let m = values.map(|v| {
                        let mut m = v.iter().copied().max().unwrap_or(0);
                        forge.max(r, &mut m);
                        m
                    });
                    let mut first_m: Option<QCell> = None;
                    let mut product = Value::known(Fr::ONE);
                    for (j, x) in xs.iter().enumerate() {
                        self.q_max.enable(&mut region, row)?;
                        self.set_flags(&mut region, row, j > 0, j + 1 == valid);
                        x.copy_to(&mut region, a0, row);
                        let m_cell = match &first_m {
                            Some(first) => first.copy_to(&mut region, a1, row),
                            None => QCell::assign(&mut region, a1, row, m),
                        };
                        first_m.get_or_insert(m_cell);
                        let d = x.value.zip(m).map(|(x, m)| x - m);
                        diffs.push(QCell::assign(&mut region, a2, row, d));
                        product = product.zip(d).map(|(p, d)| -p * fr_from_i128(d));
                        region.assign_advice(a3, row, product);
                        row += 1;
                    }
                }
                Ok(diffs)
            },
        )
    }

    /// The normalize rows; returns the outputs, remainders and slacks of
    /// every unmasked entry.
    #[allow(clippy::type_complexity)]
    fn assign_normalize(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        matrix: &[(&[QCell], usize)],
        exps: &[QCell],
        forge: &dyn SoftmaxForgery,
    ) -> Result<(Vec<QCell>, Vec<QCell>, Vec<QCell>), Error> {
        let start = rows.take_gate(2 * exps.len());
        let [a0, a1, a2, a3] = self.advice;
        let s = self.scale_bits;
        layouter.assign_region(
            || "softmax normalize",
            |mut region| {
                let (mut ys, mut rems, mut slacks) = (Vec::new(), Vec::new(), Vec::new());
                let mut k = 0;
                for (r, &(_, valid)) in matrix.iter().enumerate() {
                    let es = &exps[k..k + valid];
                    let sum = es.iter().fold(Value::known(0i128), |acc, e| acc + e.value);
                    let mut partial = Value::known(0i128);
                    let mut sums = Vec::with_capacity(valid);
                    for (j, e) in es.iter().enumerate() {
                        let row = start + 2 * (k + j);
                        self.q_norm.enable(&mut region, row)?;
                        self.set_flags(&mut region, row, j > 0, false);
                        e.copy_to(&mut region, a0, row);
                        partial = partial + e.value;
                        sums.push(QCell::assign(&mut region, a1, row, partial));
                        let w = e.value.zip(sum).map(|(e, sum)| {
                            let mut w = DivisionWitness::honest(e, sum, s);
                            forge.division(r, j, sum, &mut w);
                            w
                        });
                        ys.push(QCell::assign(&mut region, a2, row, w.map(|w| w.y)));
                        rems.push(QCell::assign(&mut region, a3, row, w.map(|w| w.rem)));
                        slacks.push(QCell::assign(&mut region, a0, row + 1, w.map(|w| w.slack)));
                    }
                    let total = sums.last().ok_or(Error::Synthesis)?;
                    for j in 0..valid {
                        total.copy_to(&mut region, a1, start + 2 * (k + j) + 1);
                    }
                    k += valid;
                }
                Ok((ys, rems, slacks))
            },
        )
    }

    /// The masked outputs, four zero cells per row, in row order.
    fn assign_masked(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        matrix: &[(&[QCell], usize)],
        forge: &dyn SoftmaxForgery,
    ) -> Result<Vec<QCell>, Error> {
        let masked: Vec<(usize, usize)> = matrix
            .iter()
            .enumerate()
            .flat_map(|(r, &(xs, valid))| (valid..xs.len()).map(move |j| (r, j)))
            .collect();
        if masked.is_empty() {
            return Ok(Vec::new());
        }
        let width = self.advice.len();
        let height = masked.len().div_ceil(width);
        let start = rows.take_gate(height);
        layouter.assign_region(
            || "softmax masked",
            |mut region| {
                for row in start..start + height {
                    self.q_zero.enable(&mut region, row)?;
                }
                let mut out = Vec::with_capacity(masked.len());
                for slot in 0..height * width {
                    let (row, column) = (start + slot / width, self.advice[slot % width]);
                    let mut y = 0;
                    if let Some(&(r, j)) = masked.get(slot) {
                        forge.masked(r, j, &mut y);
                    }
                    let cell = QCell::assign(&mut region, column, row, Value::known(y));
                    if slot < masked.len() {
                        out.push(cell);
                    }
                }
                Ok(out)
            },
        )
    }

    /// `cont` and `last` in the fixed columns of `row`.
    fn set_flags(&self, region: &mut Region<'_, Fr>, row: usize, cont: bool, last: bool) {
        region.assign_fixed(self.fixed[0], row, Fr::from(u64::from(cont)));
        region.assign_fixed(self.fixed[1], row, Fr::from(u64::from(last)));
    }
}

#[cfg(test)]
mod tests;
