//! `PointwiseChip`: `y = f(x)` for a nonlinearity given as a
//! [`PointwiseTable`] (GELU in both forms, tanh, erf, sigmoid, exp), with the
//! table's saturation outside its index range: exactly
//! [`LookupTable::eval`] ([`PointwiseTable::eval`] for a nonlinearity).
//!
//! # Tables
//!
//! One lookup argument serves every table of a circuit. Three table columns
//! `(id, index, value)` hold the row `(0, 0, 0)` and, for the table loaded
//! under id `k ≥ 1`, the rows `(k, i, values[i − lo])` for `i ∈ [lo, hi]`
//! (all tables stacked, [`PointwiseChip::load_tables`]). A tag column rather
//! than one lookup per table: every lookup argument adds commitments,
//! evaluations and verifier code (the EVM verifier stops fitting in a contract
//! after a handful), while the tag costs one table column.
//!
//! # Layout and constraints
//!
//! Three rows per input over four gate columns and four fixed columns; `q` is
//! a complex selector on the first row:
//!
//! ```text
//!        advice                       fixed
//! row 0: x     i     r     y          id    2^t   has_r  lo
//! row 1: b_lo  b_in  b_hi  gap        hi    c_lo  c_hi   k_lo
//! row 2: t     u     v     ·          k_hi  ·     ·      ·
//! ```
//!
//! A saturation is `y = k·x + c`: `Const(c)` is `(k, c) = (0, c)`,
//! `Identity` is `(1, 0)`. `has_r` is 1 when `t > 0`. The constraints:
//!
//! ```text
//! x − i·2^t − r = 0                                  index and remainder
//! (1 − has_r)·r = 0                                  t = 0: no remainder
//! b·(1 − b) = 0  for b ∈ {b_lo, b_in, b_hi},   b_lo + b_in + b_hi = 1
//! gap − b_lo·(lo − 1 − i) − b_hi·(i − hi − 1) = 0     the comparison
//! b_lo·(y − k_lo·x − c_lo) = 0,   b_hi·(y − k_hi·x − c_hi) = 0
//! t − b_in·id = 0,   u − b_in·i = 0,   v − b_in·y = 0
//! lookup: (q·t, q·u, q·v) ∈ table
//! ```
//!
//! and, through [`RangeChip`], `r ∈ [0, 2^t)` (when `t > 0`) and
//! `gap ∈ [0, 2^W)`. `x` is a copy of the input cell, `y` the output. Every
//! gate has degree at most 4 and the lookup inputs degree 2, so the chip does
//! not raise the circuit's degree (5, set by the range lookup).
//!
//! # Soundness
//!
//! The flags are bits summing to one: exactly one branch is taken.
//!
//! - `b_in = 1`: the lookup holds `(id, i, y)` with `id ≥ 1` (a fixed cell,
//!   so the verifying key names the table of every row). Only table `id`'s
//!   rows carry that tag, so `i ∈ [lo, hi]` and `y = values[i − lo]`.
//! - `b_lo = 1`: `t = u = v = 0` and the lookup is the inert `(0, 0, 0)`;
//!   `gap = lo − 1 − i ∈ [0, 2^W)`, so `i = lo − 1 − gap` is an integer
//!   `≤ lo − 1`, and `y = k_lo·x + c_lo` is the saturation. `b_hi = 1` is the
//!   mirror image: `i = hi + 1 + gap ≥ hi + 1`.
//!
//! The comparisons cannot wrap around the field: `gap` is proved to be an
//! integer below `2^W ≤ 2^128` and `lo`, `hi` are `i64`, so in every branch
//! `i` is an integer of magnitude below `2^129 ≪ p`. `r` is an integer in
//! `[0, 2^t)`, and `x` is a proved signed `B`-bit activation (the caller's
//! contract: `B = input_bits`), so `x = i·2^t + r` is an integer equation and
//! `i = floor(x / 2^t)`: the index [`LookupTable::index`] computes. Hence
//! the branch is the one `eval` takes and `y = eval(x)`.
//!
//! The input bound fixes the comparison width: `i ∈ [i_min, i_max]` with
//! `i_min = floor(−2^(B−1) / 2^t)`, `i_max = floor((2^(B−1) − 1) / 2^t)`, so
//! an honest `gap` is at most `max(lo − 1 − i_min, i_max − hi − 1)` and `W`
//! is its bit length. It matters for completeness only: soundness needs `gap`
//! range-checked, whatever its width.
//!
//! The in-range branch needs no comparison: the lookup itself proves
//! `lo ≤ i ≤ hi`. So one range check decides the branch, not two.
//!
//! `y` is a table value or saturation constant (validated to fit in a signed
//! `activation_bits`-bit value when the chip lays a table out) or `x`
//! itself: it is a bounded activation without a check of its own.
//!
//! [`PointwiseTable`]: zkinfer_quantizer::nonlinear::PointwiseTable
//! [`PointwiseTable::eval`]: zkinfer_quantizer::nonlinear::PointwiseTable::eval

use halo2_proofs::circuit::{Layouter, Region, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector, TableColumn,
};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use halo2curves::ff::Field;
use zkinfer_quantizer::nonlinear::Saturation;

use crate::cell::QCell;
use crate::chips::nonlinear::{bits_for, fits_signed, NonlinearError};
use crate::chips::range::RangeChip;
use crate::field::fr_from_i128;
use crate::rows::Rows;

mod lookup_table;
pub use lookup_table::LookupTable;

/// Gate rows per input.
pub const ROWS_PER_VALUE: usize = 3;

#[derive(Clone, Debug)]
pub struct PointwiseChip {
    advice: [Column<Advice>; 4],
    fixed: [Column<Fixed>; 4],
    /// `(id, index, value)`.
    table: [TableColumn; 3],
    q: Selector,
    activation_bits: u32,
}

/// A table loaded into the chip's lookup columns under `id ≥ 1`; the only way
/// to lay a table out, so the constants of every row match the loaded rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedTable {
    id: u64,
    table: LookupTable,
}

impl LoadedTable {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn table(&self) -> &LookupTable {
        &self.table
    }

    /// The honest witness of one input.
    pub fn witness(&self, x: i128) -> PointwiseWitness {
        let t = &self.table;
        let unit = 1i128 << t.in_shift;
        let (index, rem) = (x.div_euclid(unit), x.rem_euclid(unit));
        let (lo, hi) = (t.lo as i128, t.hi as i128);
        let saturate = |s: Saturation| match s {
            Saturation::Const(c) => c as i128,
            Saturation::Identity => x,
        };
        let (flags, gap, y) = if index < lo {
            ([1, 0, 0], lo - 1 - index, saturate(t.below))
        } else if index > hi {
            ([0, 0, 1], index - hi - 1, saturate(t.above))
        } else {
            ([0, 1, 0], 0, t.values[(index - lo) as usize] as i128)
        };
        PointwiseWitness {
            index,
            rem,
            y,
            flags,
            gap,
            lookup: [0; 3],
        }
        .with_lookup(self.id)
    }
}

/// The witness of one input: index `i`, remainder `r`, output `y`, flags
/// `(b_lo, b_in, b_hi)`, comparison `gap` and lookup cells `(t, u, v)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PointwiseWitness {
    pub index: i128,
    pub rem: i128,
    pub y: i128,
    pub flags: [i128; 3],
    pub gap: i128,
    pub lookup: [i128; 3],
}

impl PointwiseWitness {
    /// Sets the lookup cells `b_in·(id, i, y)` from the other fields.
    pub fn with_lookup(mut self, id: u64) -> Self {
        let b_in = self.flags[1];
        self.lookup = [b_in * id as i128, b_in * self.index, b_in * self.y];
        self
    }
}

/// `(k, c)` with `y = k·x + c` on a saturated side.
fn slope_and_constant(s: Saturation) -> (i128, i128) {
    match s {
        Saturation::Const(c) => (0, c as i128),
        Saturation::Identity => (1, 0),
    }
}

impl PointwiseChip {
    /// `advice` and `fixed` are four gate and four coefficient columns of the
    /// shared pool; the table columns and the selector are the chip's own.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: [Column<Advice>; 4],
        fixed: [Column<Fixed>; 4],
        activation_bits: u32,
    ) -> Self {
        let q = meta.complex_selector();
        let table = [
            meta.lookup_table_column(),
            meta.lookup_table_column(),
            meta.lookup_table_column(),
        ];
        let [a0, a1, a2, a3] = advice;
        let [f0, f1, f2, f3] = fixed;
        meta.create_gate("pointwise", |meta| {
            let q = meta.query_selector(q);
            let (cur, next, third) = (Rotation::cur(), Rotation::next(), Rotation(2));
            let x = meta.query_advice(a0, cur);
            let i = meta.query_advice(a1, cur);
            let r = meta.query_advice(a2, cur);
            let y = meta.query_advice(a3, cur);
            let b_lo = meta.query_advice(a0, next);
            let b_in = meta.query_advice(a1, next);
            let b_hi = meta.query_advice(a2, next);
            let gap = meta.query_advice(a3, next);
            let t = meta.query_advice(a0, third);
            let u = meta.query_advice(a1, third);
            let v = meta.query_advice(a2, third);
            let id = meta.query_fixed(f0, cur);
            let unit = meta.query_fixed(f1, cur);
            let has_r = meta.query_fixed(f2, cur);
            let lo = meta.query_fixed(f3, cur);
            let hi = meta.query_fixed(f0, next);
            let c_lo = meta.query_fixed(f1, next);
            let c_hi = meta.query_fixed(f2, next);
            let k_lo = meta.query_fixed(f3, next);
            let k_hi = meta.query_fixed(f0, third);
            let one = Expression::Constant(Fr::ONE);
            let bit = |b: &Expression<Fr>| b.clone() * (one.clone() - b.clone());
            let constraints = [
                x.clone() - i.clone() * unit - r.clone(),
                (one.clone() - has_r) * r,
                bit(&b_lo),
                bit(&b_in),
                bit(&b_hi),
                b_lo.clone() + b_in.clone() + b_hi.clone() - one.clone(),
                gap - b_lo.clone() * (lo - one.clone() - i.clone())
                    - b_hi.clone() * (i.clone() - hi - one),
                b_lo * (y.clone() - k_lo * x.clone() - c_lo),
                b_hi * (y.clone() - k_hi * x - c_hi),
                t - b_in.clone() * id,
                u - b_in.clone() * i,
                v - b_in * y,
            ];
            constraints.map(|c| q.clone() * c).to_vec()
        });
        meta.lookup("pointwise table", |meta| {
            let q = meta.query_selector(q);
            let t = meta.query_advice(a0, Rotation(2));
            let u = meta.query_advice(a1, Rotation(2));
            let v = meta.query_advice(a2, Rotation(2));
            vec![
                (q.clone() * t, table[0]),
                (q.clone() * u, table[1]),
                (q * v, table[2]),
            ]
        });
        PointwiseChip {
            advice,
            fixed,
            table,
            q,
            activation_bits,
        }
    }

    /// Checks that `table` can be proved for inputs that are proved signed
    /// `input_bits`-bit values, and returns the width `W` of its comparison.
    pub fn validate(
        table: &LookupTable,
        input_bits: u32,
        activation_bits: u32,
    ) -> Result<u32, NonlinearError> {
        let func = table.name.clone();
        let bad = |reason: String| NonlinearError::BadTable {
            func: func.clone(),
            reason,
        };
        if !table.is_consistent() {
            return Err(bad(format!(
                "indices [{}, {}], {} values, input shift {}",
                table.lo,
                table.hi,
                table.values.len(),
                table.in_shift
            )));
        }
        if !(1..=64).contains(&input_bits) || !(1..=64).contains(&activation_bits) {
            return Err(NonlinearError::BadWidths(format!(
                "inputs of {input_bits} bits and activations of {activation_bits} bits: both \
                 must be in 1..=64"
            )));
        }
        let constants = [table.below, table.above]
            .into_iter()
            .filter_map(|s| match s {
                Saturation::Const(c) => Some(c),
                Saturation::Identity => None,
            });
        if let Some(value) = table
            .values
            .iter()
            .copied()
            .chain(constants)
            .find(|&v| !fits_signed(v as i128, activation_bits))
        {
            return Err(NonlinearError::TableOutputOutOfRange {
                func,
                value,
                bits: activation_bits,
            });
        }
        let identity = [table.below, table.above].contains(&Saturation::Identity);
        if identity && input_bits > activation_bits {
            return Err(bad(format!(
                "it saturates to its input, which has {input_bits} bits, more than an \
                 activation's {activation_bits}"
            )));
        }
        Ok(comparison_bits(table, input_bits))
    }

    /// Fills the table columns with `(0, 0, 0)` and every table's rows, the
    /// `k`-th (from 0) under id `k + 1`. Call it exactly once per circuit,
    /// even with no tables: the table columns can be assigned only once.
    pub fn load_tables(
        &self,
        layouter: &mut impl Layouter<Fr>,
        tables: &[LookupTable],
    ) -> Result<Vec<LoadedTable>, Error> {
        let loaded: Vec<LoadedTable> = tables
            .iter()
            .enumerate()
            .map(|(k, table)| LoadedTable {
                id: k as u64 + 1,
                table: table.clone(),
            })
            .collect();
        for t in &loaded {
            if !t.table.is_consistent() {
                return Err(Error::Synthesis);
            }
        }
        layouter.assign_table(
            || "pointwise tables",
            |mut assign| {
                let mut put = |row: usize, entry: [i128; 3]| -> Result<(), Error> {
                    for (column, v) in self.table.iter().zip(entry) {
                        assign.assign_cell(
                            || "pointwise table",
                            *column,
                            row,
                            || Value::known(fr_from_i128(v)),
                        )?;
                    }
                    Ok(())
                };
                put(0, [0, 0, 0])?;
                let mut row = 1;
                for t in &loaded {
                    for (j, &v) in t.table.values.iter().enumerate() {
                        put(
                            row,
                            [t.id as i128, t.table.lo as i128 + j as i128, v as i128],
                        )?;
                        row += 1;
                    }
                }
                Ok(())
            },
        )?;
        Ok(loaded)
    }

    /// Rows of the table columns [`Self::load_tables`] fills.
    pub fn table_rows(tables: &[LookupTable]) -> usize {
        1 + tables.iter().map(LookupTable::len).sum::<usize>()
    }

    /// `y = table(x)` for each input, every input a proved signed
    /// `input_bits`-bit value.
    pub fn apply(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        table: &LoadedTable,
        inputs: &[QCell],
        input_bits: u32,
    ) -> Result<Vec<QCell>, Error> {
        self.apply_with(layouter, rows, range, table, inputs, input_bits, &|_, _| {})
    }

    /// [`Self::apply`] where `tamper(i, w)` may rewrite the `i`-th witness
    /// before it is assigned (tests forge witnesses with it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn apply_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        table: &LoadedTable,
        inputs: &[QCell],
        input_bits: u32,
        tamper: &dyn Fn(usize, &mut PointwiseWitness),
    ) -> Result<Vec<QCell>, Error> {
        let gap_bits = Self::validate(&table.table, input_bits, self.activation_bits)
            .map_err(|_| Error::Synthesis)?;
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let t = &table.table;
        let (k_lo, c_lo) = slope_and_constant(t.below);
        let (k_hi, c_hi) = slope_and_constant(t.above);
        let fixed_rows = [
            [
                table.id as i128,
                1i128 << t.in_shift,
                i128::from(t.in_shift > 0),
                t.lo as i128,
            ],
            [t.hi as i128, c_lo, c_hi, k_lo],
            [k_hi, 0, 0, 0],
        ];
        let start = rows.take_gate(ROWS_PER_VALUE * inputs.len());
        let (ys, rems, gaps) = layouter.assign_region(
            || "pointwise",
            |mut region| {
                let mut ys = Vec::with_capacity(inputs.len());
                let mut rems = Vec::with_capacity(inputs.len());
                let mut gaps = Vec::with_capacity(inputs.len());
                for (n, x) in inputs.iter().enumerate() {
                    let row = start + ROWS_PER_VALUE * n;
                    self.q.enable(&mut region, row)?;
                    for (offset, values) in fixed_rows.iter().enumerate() {
                        for (column, &v) in self.fixed.iter().zip(values) {
                            region.assign_fixed(*column, row + offset, fr_from_i128(v));
                        }
                    }
                    let w = x.value.map(|x| {
                        let mut w = table.witness(x);
                        tamper(n, &mut w);
                        w
                    });
                    let [a0, a1, a2, a3] = self.advice;
                    let put = |region: &mut Region<'_, Fr>,
                               column: Column<Advice>,
                               offset: usize,
                               f: fn(&PointwiseWitness) -> i128| {
                        QCell::assign(region, column, row + offset, w.map(|w| f(&w)))
                    };
                    x.copy_to(&mut region, a0, row);
                    put(&mut region, a1, 0, |w| w.index);
                    rems.push(put(&mut region, a2, 0, |w| w.rem));
                    ys.push(put(&mut region, a3, 0, |w| w.y));
                    put(&mut region, a0, 1, |w| w.flags[0]);
                    put(&mut region, a1, 1, |w| w.flags[1]);
                    put(&mut region, a2, 1, |w| w.flags[2]);
                    gaps.push(put(&mut region, a3, 1, |w| w.gap));
                    put(&mut region, a0, 2, |w| w.lookup[0]);
                    put(&mut region, a1, 2, |w| w.lookup[1]);
                    put(&mut region, a2, 2, |w| w.lookup[2]);
                }
                Ok((ys, rems, gaps))
            },
        )?;
        if t.in_shift > 0 {
            range.check(layouter, rows, &rems, t.in_shift, 0)?;
        }
        range.check(layouter, rows, &gaps, gap_bits, 0)?;
        Ok(ys)
    }
}

/// Bit width of the largest honest `gap` for inputs in the signed
/// `input_bits`-bit range (see the module doc).
fn comparison_bits(table: &LookupTable, input_bits: u32) -> u32 {
    let unit = 1i128 << table.in_shift;
    let half = 1i128 << (input_bits - 1);
    let (i_min, i_max) = ((-half).div_euclid(unit), (half - 1).div_euclid(unit));
    let below = table.lo as i128 - 1 - i_min;
    let above = i_max - table.hi as i128 - 1;
    bits_for(below.max(above).max(0) as u128)
}

#[cfg(test)]
mod tests;
