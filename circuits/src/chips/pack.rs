//! `PackChip`: many public values per instance (the packed format of
//! [`crate::public`]).
//!
//! # Constraint
//!
//! A word is built by Horner's rule, `m` lanes a row, over the gate columns
//! `(acc, x_0, …, x_{m−1})` with selector `q`, `B` the lane width and
//! `h = 2^(B−1)`:
//!
//! ```text
//! q · (acc_next − acc·2^(B·m) − Σ_i (x_i + h)·2^(B·(m−1−i))) = 0
//! ```
//!
//! A word takes `r = ⌈L / m⌉` such rows, the first with `acc` a copy of a
//! proved zero, and its value lands in `acc` of the row after the last, which
//! is copied to the instance column. Lane positions past the group's values
//! (and past `L`, when `r·m > L`) hold a copy of a proved `−h`, whose lane is
//! zero.
//!
//! # Soundness
//!
//! The caller range-checks every value to `B` signed bits, so every lane
//! `x + h` lies in `[0, 2^B)` and the word, an integer below `2^(B·L) ≤
//! 2^253 < p`, has exactly one decomposition into lanes. An instance
//! therefore fixes every packed value: a different value in any lane is a
//! different word, which the instance copy rejects. The zero and `−h` cells
//! are outputs of the elementwise gate with constant coefficients, so the
//! prover cannot choose them.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use crate::cell::{FieldCell, QCell};
use crate::chips::elementwise::{Coeffs, ElementwiseChip, Term};
use crate::field::{fr_from_i128, pow2};
use crate::public::lanes_per_word;
use crate::rows::Rows;

#[derive(Clone, Debug)]
pub struct PackChip {
    acc: Column<Advice>,
    lanes: Vec<Column<Advice>>,
    q: Selector,
    bits: u32,
}

/// Lanes per row `m` and rows per word `r` for `gate_columns` gate columns.
fn shape(bits: u32, gate_columns: usize) -> (usize, usize) {
    let per_word = lanes_per_word(bits);
    let m = (gate_columns - 1).min(per_word).max(1);
    (m, per_word.div_ceil(m))
}

/// Gate rows [`PackChip::pack`] takes for one group of `values` values,
/// with `gate_columns` gate columns: the planner's prediction.
pub fn rows_needed(values: usize, bits: u32, gate_columns: usize) -> usize {
    if values == 0 {
        return 0;
    }
    let (_, r) = shape(bits, gate_columns);
    let words = values.div_ceil(lanes_per_word(bits));
    // Two elementwise rows for the zero and -h cells, r + 1 rows a word.
    2 + words * (r + 1)
}

impl PackChip {
    /// `gate` are the gate columns: `gate[0]` accumulates, the next
    /// `m` hold lanes.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, gate: &[Column<Advice>], bits: u32) -> Self {
        let (m, _) = shape(bits, gate.len());
        let acc = gate[0];
        let lanes = gate[1..=m].to_vec();
        let q = meta.selector();
        meta.create_gate("pack", |meta| {
            let q = meta.query_selector(q);
            let acc_cur = meta.query_advice(acc, Rotation::cur());
            let acc_next = meta.query_advice(acc, Rotation::next());
            let half = Expression::Constant(pow2(bits - 1));
            let mut sum = acc_cur * Expression::Constant(pow2(bits * m as u32));
            for (i, &col) in lanes.iter().enumerate() {
                let x = meta.query_advice(col, Rotation::cur());
                let weight = Expression::Constant(pow2(bits * (m - 1 - i) as u32));
                sum = sum + (x + half.clone()) * weight;
            }
            vec![q * (acc_next - sum)]
        });
        PackChip {
            acc,
            lanes,
            q,
            bits,
        }
    }

    pub fn lane_bits(&self) -> u32 {
        self.bits
    }

    /// The words of `values` (each already range-checked to `B` signed
    /// bits), in the order of [`crate::public::PublicLayout::pack`].
    pub fn pack(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        elementwise: &ElementwiseChip,
        values: &[QCell],
    ) -> Result<Vec<FieldCell>, Error> {
        let Some(first) = values.first() else {
            return Ok(Vec::new());
        };
        let (words, _) = self.lay_out(layouter, rows, elementwise, first, Lanes::Copies(values))?;
        Ok(words)
    }

    /// [`Self::pack`] of values that have no cells yet: the lane cells are
    /// the values' cells, returned in value order with the words. The
    /// caller must range-check them (they are fresh advice). `anchor` is any
    /// cell, the operand the constant cells' elementwise rows ignore.
    pub fn pack_fresh(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        elementwise: &ElementwiseChip,
        anchor: &QCell,
        values: &[Value<i128>],
    ) -> Result<(Vec<FieldCell>, Vec<QCell>), Error> {
        if values.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        self.lay_out(layouter, rows, elementwise, anchor, Lanes::Fresh(values))
    }

    fn lay_out(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        elementwise: &ElementwiseChip,
        anchor: &QCell,
        values: Lanes<'_>,
    ) -> Result<(Vec<FieldCell>, Vec<QCell>), Error> {
        let count = values.len();
        let half = 1i128 << (self.bits - 1);
        let constant = |c: i128| Term {
            a: anchor,
            b: None,
            coeffs: Coeffs {
                constant: c,
                ..Coeffs::default()
            },
        };
        // Reserved first so that the group's rows are one allocation the
        // planner can predict (`rows`).
        let total = rows_needed(count, self.bits, self.lanes.len() + 1);
        let at = rows.take_pack(count, self.bits, total);
        let mut own = Rows::default();
        own.take_gate(at);
        let fixed = elementwise.apply(layouter, &mut own, &[constant(0), constant(-half)])?;
        let (zero, pad) = (fixed[0], fixed[1]);

        let per_word = lanes_per_word(self.bits);
        let m = self.lanes.len();
        let r = per_word.div_ceil(m);
        let num_words = count.div_ceil(per_word);
        let start = own.take_gate(num_words * (r + 1));
        let shift_row = pow2(self.bits * m as u32);
        layouter.assign_region(
            || "pack",
            |mut region| {
                let mut out = Vec::with_capacity(num_words);
                let mut lanes = vec![None; count];
                for w in 0..num_words {
                    let base = start + w * (r + 1);
                    let mut acc = zero.copy_to(&mut region, self.acc, base).fr();
                    for t in 0..r {
                        let row = base + t;
                        self.q.enable(&mut region, row)?;
                        let mut next = acc.map(|a| a * shift_row);
                        for (i, &col) in self.lanes.iter().enumerate() {
                            // Position in the word, most significant first.
                            let p = r * m - 1 - (t * m + i);
                            let j = w * per_word + p;
                            let x = match values {
                                _ if p >= per_word || j >= count => {
                                    pad.copy_to(&mut region, col, row)
                                }
                                Lanes::Copies(cells) => cells[j].copy_to(&mut region, col, row),
                                Lanes::Fresh(v) => {
                                    let cell = QCell::assign(&mut region, col, row, v[j]);
                                    lanes[j] = Some(cell);
                                    cell
                                }
                            };
                            let weight = pow2(self.bits * (m - 1 - i) as u32);
                            next = next
                                .zip(x.value)
                                .map(|(n, x)| n + fr_from_i128(x + half) * weight);
                        }
                        let assigned = region.assign_advice(self.acc, row + 1, next);
                        acc = next;
                        if t + 1 == r {
                            out.push(FieldCell {
                                cell: assigned.cell(),
                                value: next,
                            });
                        }
                    }
                }
                Ok((out, lanes.into_iter().flatten().collect()))
            },
        )
    }
}

/// Where [`PackChip`]'s lanes come from.
#[derive(Clone, Copy)]
enum Lanes<'a> {
    /// Copies of proved cells.
    Copies(&'a [QCell]),
    /// Fresh cells holding these values.
    Fresh(&'a [Value<i128>]),
}

impl Lanes<'_> {
    fn len(&self) -> usize {
        match self {
            Lanes::Copies(c) => c.len(),
            Lanes::Fresh(v) => v.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::Layouter;
    use halo2_proofs::plonk::{ConstraintSystem, Error};
    use halo2curves::bn256::Fr;

    use super::*;
    use crate::config::ModelConfig;
    use crate::params::CircuitParams;
    use crate::public::PublicLayout;
    use crate::testing::{assert_rejected, verify_with_instances, witness_cells, Kind, Scenario};

    const BITS: u32 = 16;

    fn params(advice_columns: usize) -> CircuitParams {
        CircuitParams {
            k: 9,
            lookup_bits: 8,
            advice_columns,
            scale_bits: 4,
            activation_bits: BITS,
            packed_public: true,
            ..CircuitParams::default()
        }
    }

    /// Packs `values` into the instance column, range-checked first unless
    /// `unchecked`.
    #[derive(Clone)]
    struct Pack {
        values: Vec<i128>,
        unchecked: bool,
    }

    impl Scenario for Pack {
        fn run(
            &self,
            config: &ModelConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
        ) -> Result<(), Error> {
            let cells = witness_cells(config, layouter, rows, &self.values)?;
            if !self.unchecked {
                config.range.check_signed(layouter, rows, &cells, BITS)?;
            }
            let pack = config.pack.as_ref().expect("packed params");
            let words = pack.pack(layouter, rows, &config.elementwise, &cells)?;
            for (i, word) in words.into_iter().enumerate() {
                layouter.constrain_instance(word.cell, config.columns.instance, i);
            }
            Ok(())
        }
    }

    fn instances(values: &[i128]) -> Vec<Fr> {
        let values: Vec<i64> = values.iter().map(|&v| v as i64).collect();
        let layout = PublicLayout::values(BITS, values.len(), 0);
        layout.pack(None, &values, &[]).unwrap()
    }

    fn checked(values: Vec<i128>) -> Pack {
        Pack {
            values,
            unchecked: false,
        }
    }

    /// `n` values with both extremes of a 16-bit lane among them.
    fn values(n: usize) -> Vec<i128> {
        (0..n)
            .map(|i| [-(1 << 15), (1 << 15) - 1, 0, -1, 1234][i % 5])
            .collect()
    }

    #[test]
    fn words_equal_the_off_circuit_packing_for_any_column_count() {
        // 15 lanes a word: 5 rows of 3, 2 of 8, 1 of 15 (m capped at L).
        for advice in [5, 10, 17] {
            for n in [1, 14, 15, 16, 31] {
                let v = values(n);
                let inst = instances(&v);
                let result = verify_with_instances(checked(v), params(advice), inst);
                assert_eq!(result, Ok(()), "{advice} columns, {n} values");
            }
        }
    }

    #[test]
    fn the_planner_predicts_the_rows() {
        for advice in [5, 10, 17] {
            let mut cs = ConstraintSystem::<Fr>::default();
            let config = ModelConfig::configure(&mut cs, &params(advice));
            let gate_columns = config.columns.gate().len();
            let (m, r) = shape(BITS, gate_columns);
            assert!(m * r >= 15 && m * (r - 1) < 15);
            // 31 values: three words.
            assert_eq!(rows_needed(31, BITS, gate_columns), 2 + 3 * (r + 1));
        }
    }

    #[test]
    fn a_changed_word_is_rejected() {
        let v = values(20);
        let mut inst = instances(&v);
        inst[1] += Fr::from(1u64);
        assert_rejected(
            verify_with_instances(checked(v), params(5), inst),
            &[Kind::Copy],
        );
    }

    #[test]
    fn a_lane_carried_into_its_neighbour_is_rejected() {
        // Value 0 + 2^16 and value 1 − 1 give the same word as the honest
        // values; only the range check on the lanes tells them apart.
        let inst = instances(&[5, 7, -3]);
        let forged = vec![5 + (1 << 16), 6, -3];
        assert_rejected(
            verify_with_instances(checked(forged.clone()), params(5), inst.clone()),
            &[Kind::Lookup],
        );
        // Without the range check the forgery would pass: the check is what
        // makes the packing sound.
        let unchecked = Pack {
            values: forged,
            unchecked: true,
        };
        assert_eq!(verify_with_instances(unchecked, params(5), inst), Ok(()));
    }
}
