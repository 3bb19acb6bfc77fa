//! `PrivateGatherChip`: the embedding lookup `y[t, j] = E[id_t, j]` when
//! `E` is a private weight ([`crate::params::WeightVisibility::Private`]).
//!
//! With fixed weights `E` is a lookup table in fixed columns
//! ([`super::gather`]), so it is part of the verifying key. Here the table
//! is *advice*: its values are copies of the committed weight cells, and a
//! fixed key column says which entry each row is.
//!
//! # Construction
//!
//! Columns: fixed `key`, `tag`; advice `v` (the table's values on table
//! rows, the looked-up index on query rows) and `y`; complex selector `q`.
//! One lookup argument:
//!
//! ```text
//! (q·(tag + x + 1), q·y)  ∈  {(key, v)} over all rows
//! ```
//!
//! - A **table** of `E` (`vocab·dim` values) takes `1 + vocab·dim` rows:
//!   a first row with `key = 0, v = 0` (the entry every row without a query
//!   looks up), then row `1 + i` with `key = T + i + 1` and `v` a copy of
//!   the committed `E_flat[i]`, `T = tag·2^40` the table's own tag.
//! - A **query** row: `q = 1`, fixed `tag = T`, `x` a copy of the proved
//!   index `dim·id + j` ([`super::gather`] proves `0 ≤ id < vocab`), `y` the
//!   value. Every gathered value is then range-checked to the activation
//!   width, like every activation.
//!
//! # Soundness
//!
//! `x ∈ [0, vocab·dim)`, so a query's key `T + x + 1` lies in `[T + 1,
//! T + vocab·dim]`, never 0. Rows other than table rows have `key = 0` (a
//! fixed column the layout leaves zero there), so whatever the prover puts
//! in `v` on them, they only add entries with key 0. Each key `T + i + 1`
//! appears on exactly one row, the table row of `E_flat[i]`, whose `v` is
//! copy-constrained to the committed weight. Tags are multiples of
//! `2^40 > vocab·dim`, so keys of different tables never meet. Hence
//! `y = E_flat[x] = E[id, j]`, the committed value.
//!
//! # Cost
//!
//! `1 + vocab·dim` gate rows per table, one row per gathered value, one
//! lookup argument and two fixed columns in the constraint system.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use halo2curves::ff::Field;

use crate::cell::QCell;
use crate::rows::Rows;

/// Tables are told apart by multiples of this (above any `vocab·dim`).
const TAG_SHIFT: u32 = 40;

#[derive(Clone, Debug)]
pub struct PrivateGatherChip {
    key: Column<Fixed>,
    tag: Column<Fixed>,
    v: Column<Advice>,
    y: Column<Advice>,
    q: Selector,
}

/// A loaded private embedding table.
#[derive(Clone, Copy, Debug)]
pub struct PrivateTable {
    tag: Fr,
    len: usize,
}

impl PrivateGatherChip {
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        key: Column<Fixed>,
        tag: Column<Fixed>,
        v: Column<Advice>,
        y: Column<Advice>,
    ) -> Self {
        let q = meta.complex_selector();
        meta.lookup_any("private embedding", |meta| {
            let q = meta.query_selector(q);
            let cur = Rotation::cur();
            let tag = meta.query_fixed(tag, cur);
            let x = meta.query_advice(v, cur);
            let y_q = meta.query_advice(y, cur);
            let one = halo2_proofs::plonk::Expression::Constant(Fr::ONE);
            vec![
                (q.clone() * (tag + x + one), meta.query_fixed(key, cur)),
                (q * y_q, meta.query_advice(v, cur)),
            ]
        });
        PrivateGatherChip { key, tag, v, y, q }
    }

    /// Gate rows of one table of `len` values.
    pub fn table_rows(len: usize) -> usize {
        1 + len
    }

    /// Lays out the table of `values` (the committed cells of `E_flat`) as
    /// table number `index` of the circuit.
    pub fn load_table(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        index: usize,
        values: &[QCell],
    ) -> Result<PrivateTable, Error> {
        let tag = Fr::from(index as u64 + 1) * Fr::from(2).pow([u64::from(TAG_SHIFT)]);
        let start = rows.take_gate(Self::table_rows(values.len()));
        layouter.assign_region(
            || "private embedding table",
            |mut region| {
                region.assign_advice(self.v, start, Value::known(Fr::ZERO));
                for (i, cell) in values.iter().enumerate() {
                    let row = start + 1 + i;
                    region.assign_fixed(self.key, row, tag + Fr::from(i as u64 + 1));
                    cell.copy_to(&mut region, self.v, row);
                }
                Ok(())
            },
        )?;
        Ok(PrivateTable {
            tag,
            len: values.len(),
        })
    }

    /// `table[x]` for each proved index `x ∈ [0, table.len)`; the caller
    /// range-checks the results.
    pub fn lookup(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        table: &PrivateTable,
        table_values: &[QCell],
        index: &[QCell],
    ) -> Result<Vec<QCell>, Error> {
        if table_values.len() != table.len {
            return Err(Error::Synthesis);
        }
        let start = rows.take_gate(index.len());
        layouter.assign_region(
            || "private embedding lookup",
            |mut region| {
                index
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        let row = start + i;
                        self.q.enable(&mut region, row)?;
                        region.assign_fixed(self.tag, row, table.tag);
                        let x = x.copy_to(&mut region, self.v, row);
                        let y = x.value.and_then(|x| {
                            usize::try_from(x)
                                .ok()
                                .and_then(|x| table_values.get(x))
                                .map_or(Value::unknown(), |c| c.value)
                        });
                        Ok(QCell::assign(&mut region, self.y, row, y))
                    })
                    .collect()
            },
        )
    }
}
