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
        self.lookup_with(layouter, rows, table, table_values, index, &|_, _| {})
    }

    /// [`Self::lookup`] where `tamper(i, y)` may rewrite the `i`-th value
    /// before it is assigned (tests forge witnesses with it).
    pub(crate) fn lookup_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        table: &PrivateTable,
        table_values: &[QCell],
        index: &[QCell],
        tamper: &dyn Fn(usize, &mut i128),
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
                                // No entry: no witness satisfies the lookup.
                                .map_or(Value::known(0), |c| c.value)
                        });
                        let y = y.map(|mut y| {
                            tamper(i, &mut y);
                            y
                        });
                        Ok(QCell::assign(&mut region, self.y, row, y))
                    })
                    .collect()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::Layouter;
    use halo2_proofs::plonk::Error;
    use halo2curves::bn256::Fr;

    use crate::config::ModelConfig;
    use crate::params::{CircuitParams, WeightVisibility};
    use crate::rows::Rows;
    use crate::testing::{self, assert_rejected, assert_values, witness_cells, Kind, Scenario};

    const TABLE: [i128; 6] = [7, -3, 12, 0, -9, 5];

    #[derive(Clone)]
    struct Lookup {
        index: Vec<i128>,
        forge: Option<(usize, i128)>,
    }

    impl Scenario for Lookup {
        fn run(
            &self,
            config: &ModelConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
        ) -> Result<(), Error> {
            let chip = config.private.as_ref().unwrap().gather.as_ref().unwrap();
            let values = witness_cells(config, layouter, rows, &TABLE)?;
            // A second table first, so tags are exercised.
            chip.load_table(layouter, rows, 0, &values[..2])?;
            let table = chip.load_table(layouter, rows, 1, &values)?;
            let index = witness_cells(config, layouter, rows, &self.index)?;
            let forge = self.forge;
            let y = chip.lookup_with(layouter, rows, &table, &values, &index, &|i, y| {
                if let Some((at, v)) = forge {
                    if i == at {
                        *y = v;
                    }
                }
            })?;
            if forge.is_none() {
                let want: Vec<i128> = self.index.iter().map(|&x| TABLE[x as usize]).collect();
                assert_values(&y, &want);
            }
            Ok(())
        }
    }

    fn params() -> CircuitParams {
        CircuitParams {
            weights: WeightVisibility::Private,
            weight_bits: 8,
            nonlinear: true,
            ..testing::params(6, 7)
        }
    }

    fn run(
        index: &[i128],
        forge: Option<(usize, i128)>,
    ) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
        let scenario = Lookup {
            index: index.to_vec(),
            forge,
        };
        testing::verify(scenario, params())
    }

    #[test]
    fn honest_indices_read_their_entries() {
        assert_eq!(run(&[0, 5, 2, 2, 3], None), Ok(()));
    }

    #[test]
    fn a_value_of_another_entry_fails_the_lookup() {
        assert_rejected(run(&[0, 5, 2], Some((1, TABLE[4]))), &[Kind::Lookup]);
        assert_rejected(run(&[0, 5, 2], Some((2, 13))), &[Kind::Lookup]);
    }

    #[test]
    fn an_index_past_the_table_fails_the_lookup() {
        // Index 6 is no entry of table 1 (and 1 of table 0 is not reachable
        // with table 1's tag).
        assert_rejected(run(&[6], Some((0, 0))), &[Kind::Lookup]);
    }
}
