//! `RangeChip`: proves `x + offset ∈ [0, 2^bits)` with one lookup table
//! `[0, 2^L)` (`L = lookup_bits`) shared by every chip.
//!
//! # Layout and constraints
//!
//! One advice column `z` (a lane of the range track, see [`crate::rows`])
//! and three fixed columns `coeff`, `offset`, `shift` per lane, dedicated to
//! this chip; every lane has the same lookup into the one table column.
//! Lanes let the range track be shorter than the number of checks, at the
//! cost of a column, three fixed columns and a lookup argument each (the
//! planner decides). The lookup, active on every row, requires
//!
//! ```text
//! coeff·z[cur] + offset − shift·z[next] ∈ [0, 2^L)
//! ```
//!
//! Rows the chip does not use have `coeff = offset = shift = 0`, so their input
//! is 0, which is in the table: the lookup is inert there.
//!
//! A check of `x` with `n = ceil(bits / L)` limbs and top-limb width
//! `b' = bits − (n−1)·L ∈ [1, L]` takes `n` rows holding the running sum
//! `z_0 = x` (copied from `x`'s cell), `z_1, …, z_{n−1}`:
//!
//! ```text
//! row 0      : z_0 + offset − 2^L·z_1 = l_0        (shift = 0 when n = 1)
//! row i      : z_i − 2^L·z_{i+1}      = l_i
//! row n−1    : z_{n−1}                = l_{n−1}
//! row n (*)  : 2^(L−b')·z_n           (z_n a copy of z_{n−1}; when n = 1 the
//!                                      offset is added: 2^(L−b')·(z_0 + offset))
//! ```
//!
//! (*) only when `b' < L`. Each `l_i` is looked up, so `l_i ∈ [0, 2^L)`.
//!
//! # Soundness
//!
//! Telescoping the rows gives `x + offset = Σ l_i·2^(iL)` in the field. The
//! top limb `l_{n−1}` is itself looked up (`< 2^L`), so `2^(L−b')·l_{n−1}` is
//! an integer below `2^(2L) ≪ p` and its lookup proves `l_{n−1} < 2^b'`.
//! Hence the sum is an integer in `[0, 2^bits)` and, as `bits ≤ 128 ≪ 254`,
//! no wrap-around is possible: `x + offset` *is* that integer.
//!
//! Looking up only the scaled top limb would not be enough: for any small `t`
//! the field element `l = t·2^−(L−b')` passes the scaled lookup although `l`
//! is huge. The unscaled lookup of the same cell rules that out.

use halo2_proofs::circuit::{Cell, Layouter, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Fixed, TableColumn};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use halo2curves::ff::Field;

use crate::cell::QCell;
use crate::field::{fr_from_i128, low_bits, pow2};
use crate::rows::Rows;

/// Largest lookup table: `2^16` rows.
pub const MAX_LOOKUP_BITS: u32 = 16;
/// Largest width a check may prove; `2^128 ≪ p` keeps the argument above valid.
pub const MAX_RANGE_BITS: u32 = 128;

#[derive(Clone, Debug)]
pub struct RangeChip {
    lanes: Vec<Lane>,
    table: TableColumn,
    lookup_bits: u32,
}

/// One lookup column of the range track and its fixed columns.
#[derive(Clone, Copy, Debug)]
struct Lane {
    z: Column<Advice>,
    coeff: Column<Fixed>,
    offset: Column<Fixed>,
    shift: Column<Fixed>,
}

impl RangeChip {
    /// `lookup_bits` must be in `1..=MAX_LOOKUP_BITS` (the caller validates it).
    pub fn configure(meta: &mut ConstraintSystem<Fr>, z: Column<Advice>, lookup_bits: u32) -> Self {
        let lane = Self::lane(meta, z, None);
        let table = lane.1;
        RangeChip {
            lanes: vec![lane.0],
            table,
            lookup_bits,
        }
    }

    /// Adds lanes over `z` (configure them after the rest of the circuit,
    /// so a one-lane circuit keeps its constraint system).
    pub fn add_lanes(&mut self, meta: &mut ConstraintSystem<Fr>, z: &[Column<Advice>]) {
        for &z in z {
            let (lane, _) = Self::lane(meta, z, Some(self.table));
            self.lanes.push(lane);
        }
    }

    fn lane(
        meta: &mut ConstraintSystem<Fr>,
        z: Column<Advice>,
        table: Option<TableColumn>,
    ) -> (Lane, TableColumn) {
        let coeff = meta.fixed_column();
        let offset = meta.fixed_column();
        let shift = meta.fixed_column();
        let table = table.unwrap_or_else(|| meta.lookup_table_column());
        meta.lookup("range limb", |meta| {
            let z_cur = meta.query_advice(z, Rotation::cur());
            let z_next = meta.query_advice(z, Rotation::next());
            let c = meta.query_fixed(coeff, Rotation::cur());
            let o = meta.query_fixed(offset, Rotation::cur());
            let s = meta.query_fixed(shift, Rotation::cur());
            vec![(c * z_cur + o - s * z_next, table)]
        });
        (
            Lane {
                z,
                coeff,
                offset,
                shift,
            },
            table,
        )
    }

    /// Number of lookup columns of the range track.
    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    pub fn lookup_bits(&self) -> u32 {
        self.lookup_bits
    }

    /// Fills the table column with `0, 1, …, 2^L − 1`.
    pub fn load_table(&self, layouter: &mut impl Layouter<Fr>) -> Result<(), Error> {
        layouter.assign_table(
            || "range table",
            |mut table| {
                for i in 0..(1u64 << self.lookup_bits) {
                    table.assign_cell(
                        || "range table",
                        self.table,
                        i as usize,
                        || Value::known(Fr::from(i)),
                    )?;
                }
                Ok(())
            },
        )
    }

    /// Rows of the range track one check of `bits` bits takes.
    pub fn rows_per_check(&self, bits: u32) -> usize {
        rows_per_check(bits, self.lookup_bits)
    }

    /// Proves each cell holds a signed `bits`-bit value: `x + 2^(bits−1) ∈ [0, 2^bits)`.
    pub fn check_signed(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        cells: &[QCell],
        bits: u32,
    ) -> Result<(), Error> {
        if bits == 0 {
            return Err(Error::Synthesis);
        }
        self.check(layouter, rows, cells, bits, 1i128 << (bits - 1))
    }

    /// Proves `x + offset ∈ [0, 2^bits)` for each cell.
    pub fn check(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        cells: &[QCell],
        bits: u32,
        offset: i128,
    ) -> Result<(), Error> {
        let fields: Vec<_> = cells.iter().map(|c| (c.cell, c.fr())).collect();
        self.check_fields_with(
            layouter,
            rows,
            &fields,
            bits,
            fr_from_i128(offset),
            &|_, _| {},
        )
    }

    /// Proves `x + offset ∈ [0, 2^bits)` for each `(cell, value)`; `value` is
    /// the field element in the cell, which need not be a small integer (a
    /// dishonest one makes the proof fail).
    pub fn check_fields(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        cells: &[(Cell, Value<Fr>)],
        bits: u32,
        offset: Fr,
    ) -> Result<(), Error> {
        self.check_fields_with(layouter, rows, cells, bits, offset, &|_, _| {})
    }

    /// [`Self::check_fields`] where `tamper(i, z)` may rewrite the running sum
    /// `z` of the `i`-th check before it is assigned (tests forge witnesses
    /// with it).
    pub(crate) fn check_fields_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        cells: &[(Cell, Value<Fr>)],
        bits: u32,
        offset: Fr,
        tamper: &dyn Fn(usize, &mut [Fr]),
    ) -> Result<(), Error> {
        if bits == 0 || bits > MAX_RANGE_BITS {
            return Err(Error::Synthesis);
        }
        if cells.is_empty() {
            return Ok(());
        }
        let l = self.lookup_bits;
        let (limbs, top_bits) = split(bits, l);
        let per_check = self.rows_per_check(bits);
        let chunks = rows.take_range_checks(bits, cells.len(), per_check);
        let radix = pow2(l);
        let top_scale = pow2(l - top_bits);
        // Check `i` of the batch: its lane and first row.
        let mut placed = Vec::with_capacity(cells.len());
        for &(lane, start, n) in &chunks {
            let lane = *self.lanes.get(lane).ok_or(Error::Synthesis)?;
            placed.extend((0..n).map(|k| (lane, start + k * per_check)));
        }
        layouter.assign_region(
            || format!("range check {bits} bits"),
            |mut region| {
                for (i, (cell, value)) in cells.iter().enumerate() {
                    let (lane, row0) = placed[i];
                    let Lane {
                        z: z_col,
                        coeff,
                        offset: offset_col,
                        shift,
                    } = lane;
                    let z = value.map(|v| {
                        let mut z = running_sum(v, offset, l, limbs);
                        tamper(i, &mut z);
                        z
                    });
                    let mut last = None;
                    for j in 0..limbs {
                        let row = row0 + j;
                        let assigned = region.assign_advice(z_col, row, z.as_ref().map(|z| z[j]));
                        if j == 0 {
                            region.constrain_equal(assigned.cell(), *cell);
                        }
                        region.assign_fixed(coeff, row, Fr::ONE);
                        region.assign_fixed(
                            offset_col,
                            row,
                            if j == 0 { offset } else { Fr::ZERO },
                        );
                        region.assign_fixed(
                            shift,
                            row,
                            if j + 1 < limbs { radix } else { Fr::ZERO },
                        );
                        last = Some(assigned.cell());
                    }
                    if top_bits < l {
                        let row = row0 + limbs;
                        let top =
                            region.assign_advice(z_col, row, z.as_ref().map(|z| z[limbs - 1]));
                        if let Some(last) = last {
                            region.constrain_equal(top.cell(), last);
                        }
                        let top_offset = if limbs == 1 {
                            offset * top_scale
                        } else {
                            Fr::ZERO
                        };
                        region.assign_fixed(coeff, row, top_scale);
                        region.assign_fixed(offset_col, row, top_offset);
                        region.assign_fixed(shift, row, Fr::ZERO);
                    }
                }
                Ok(())
            },
        )
    }
}

/// Rows one check of `bits` bits takes with `lookup_bits`-bit limbs: one per
/// limb, plus one for the scaled top limb when the limbs overshoot `bits`.
pub fn rows_per_check(bits: u32, lookup_bits: u32) -> usize {
    let (limbs, top_bits) = split(bits, lookup_bits);
    limbs + usize::from(top_bits < lookup_bits)
}

/// `(number of limbs, bits of the top limb)` for a `bits`-bit check.
fn split(bits: u32, lookup_bits: u32) -> (usize, u32) {
    let limbs = bits.div_ceil(lookup_bits).max(1);
    (limbs as usize, bits - (limbs - 1) * lookup_bits)
}

/// The honest running sum `z_0 = x`, `z_{i+1} = (z_i + o_i − l_i) / 2^L` with
/// `l_i` the low `L` bits of `z_i + o_i` (`o_0 = offset`, else 0). For an
/// `x + offset` outside `[0, 2^bits)` the last entry is not a small limb and
/// the lookup rejects it.
fn running_sum(x: Fr, offset: Fr, lookup_bits: u32, limbs: usize) -> Vec<Fr> {
    let inv_radix = pow2(lookup_bits).invert().expect("2^L is not zero");
    let mut z = vec![x];
    let mut acc = x + offset;
    for _ in 1..limbs {
        let limb = Fr::from(low_bits(&acc, lookup_bits));
        acc = (acc - limb) * inv_radix;
        z.push(acc);
    }
    z
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::Layouter;

    use super::*;
    use crate::config::ModelConfig;
    use crate::testing::{assert_rejected, params, verify, witness_cells, Kind, Scenario};

    /// Range-checks `values` (and optionally one raw field element), with an
    /// optional forged running-sum entry `(check, index, delta)`.
    #[derive(Clone, Default)]
    struct Check {
        values: Vec<i128>,
        raw: Option<Fr>,
        bits: u32,
        offset: i128,
        forge: Option<(usize, usize, i128)>,
    }

    impl Scenario for Check {
        fn run(
            &self,
            config: &ModelConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
        ) -> Result<(), Error> {
            let cells = witness_cells(config, layouter, rows, &self.values)?;
            let mut fields: Vec<(Cell, Value<Fr>)> =
                cells.iter().map(|c| (c.cell, c.fr())).collect();
            if let Some(raw) = self.raw {
                let row = rows.take_gate(1);
                let column = config.columns.gate()[0];
                let cell = layouter.assign_region(
                    || "raw",
                    |mut region| Ok(region.assign_advice(column, row, Value::known(raw)).cell()),
                )?;
                fields.push((cell, Value::known(raw)));
            }
            let forge = self.forge;
            let tamper = move |i: usize, z: &mut [Fr]| {
                if let Some((check, index, delta)) = forge {
                    if i == check {
                        z[index] += fr_from_i128(delta);
                    }
                }
            };
            config.range.check_fields_with(
                layouter,
                rows,
                &fields,
                self.bits,
                fr_from_i128(self.offset),
                &tamper,
            )
        }
    }

    fn signed(values: &[i128], bits: u32) -> Check {
        Check {
            values: values.to_vec(),
            bits,
            offset: 1 << (bits - 1),
            ..Check::default()
        }
    }

    #[test]
    fn accepts_values_at_both_ends_of_the_range() {
        // 10 bits with 4-bit limbs: 3 limbs and a scaled top limb of 2 bits.
        assert_eq!(
            verify(signed(&[-512, -1, 0, 1, 511], 10), params(4, 5)),
            Ok(())
        );
        // 8 bits with 4-bit limbs: the top limb is a whole limb, no scaled row.
        assert_eq!(verify(signed(&[-128, 0, 127], 8), params(4, 5)), Ok(()));
        // 3 bits with 4-bit limbs: a single limb, scaled.
        let unsigned = Check {
            values: vec![0, 5, 7],
            bits: 3,
            ..Check::default()
        };
        assert_eq!(verify(unsigned, params(4, 5)), Ok(()));
    }

    #[test]
    fn rejects_one_past_either_end() {
        for (value, bits) in [(512, 10), (-513, 10), (128, 8), (-129, 8)] {
            assert_rejected(
                verify(signed(&[value], bits), params(4, 5)),
                &[Kind::Lookup],
            );
        }
        let unsigned = Check {
            values: vec![8],
            bits: 3,
            ..Check::default()
        };
        assert_rejected(verify(unsigned, params(4, 5)), &[Kind::Lookup]);
    }

    #[test]
    fn rejects_a_value_that_wraps_the_field() {
        // p − 2^10: "−1024", which an unsigned 10-bit check must reject.
        let wrapped = Check {
            values: vec![-1024],
            bits: 10,
            ..Check::default()
        };
        assert_rejected(verify(wrapped, params(4, 5)), &[Kind::Lookup]);
        // p − 1 as a 4-bit remainder.
        let minus_one = Check {
            values: vec![-1],
            bits: 4,
            ..Check::default()
        };
        assert_rejected(verify(minus_one, params(4, 5)), &[Kind::Lookup]);
    }

    #[test]
    fn rejects_a_huge_element_whose_scaled_top_limb_is_small() {
        // x = 1/2: 2·x = 1 passes the scaled lookup of a 3-bit check with
        // 4-bit limbs, but x itself is not a limb.
        let half = Fr::from(2u64).invert().unwrap();
        let attack = Check {
            raw: Some(half),
            bits: 3,
            ..Check::default()
        };
        assert_rejected(verify(attack, params(4, 5)), &[Kind::Lookup]);
    }

    #[test]
    fn rejects_forged_limbs() {
        // z_1 + 1 makes limb 0 negative.
        let forged = Check {
            forge: Some((0, 1, 1)),
            ..signed(&[100], 10)
        };
        assert_rejected(verify(forged, params(4, 5)), &[Kind::Lookup]);
    }

    #[test]
    fn rejects_checking_a_different_value_than_the_cell() {
        // z_0 + 1 (612 → 613): the limbs still pass, the copy constraint does not.
        let forged = Check {
            forge: Some((0, 0, 1)),
            ..signed(&[100], 10)
        };
        assert_rejected(verify(forged, params(4, 5)), &[Kind::Copy]);
    }

    #[test]
    fn rows_per_check_counts_limbs_and_the_scaled_row() {
        let mut cs = ConstraintSystem::<Fr>::default();
        let config = ModelConfig::configure(&mut cs, &params(4, 5));
        assert_eq!(config.range.rows_per_check(8), 2);
        assert_eq!(config.range.rows_per_check(10), 4);
        assert_eq!(config.range.rows_per_check(3), 2);
        assert_eq!(config.range.rows_per_check(4), 1);
    }
}
