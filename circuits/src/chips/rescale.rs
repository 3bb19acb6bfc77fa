//! `RescaleChip`: division by `2^s` rounding half up, after every product.
//!
//! # Constraint
//!
//! One row per value over three gate columns `(a, y, r)`, with selector `q`:
//!
//! ```text
//! q · (a + 2^(s−1) − y·2^s − r) = 0
//! ```
//!
//! and two range checks through [`RangeChip`]: `r ∈ [0, 2^s)` and `y` signed
//! `B`-bit (`y + 2^(B−1) ∈ [0, 2^B)`, `B = activation_bits`). `a` is a copy of
//! the pre-rescale cell, `y` is the output.
//!
//! # Soundness
//!
//! `a` is an integer with `|a| < 2^121` (the planner bounds every accumulator
//! and product, see [`mod@crate::plan`]). The checks make `y·2^s + r` an integer
//! with `|y·2^s + r| < 2^(B+s) ≤ 2^64`, so both sides of the gate are integers
//! far below `p/2` in magnitude: the field equation is the integer equation
//! `a + 2^(s−1) = y·2^s + r` with `0 ≤ r < 2^s`. Euclidean division makes that
//! pair unique: `y = floor((a + 2^(s−1)) / 2^s)`, exactly
//! [`zkinfer_quantizer::fixed::rescale`]. The range check on `y` also bounds
//! the output as an activation; if the true quotient does not fit in `B` bits
//! no witness exists (integer inference reports it as out of range first).

use halo2_proofs::circuit::Layouter;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use zkinfer_quantizer::fixed::rescale;

use crate::cell::QCell;
use crate::chips::range::RangeChip;
use crate::field::pow2;
use crate::rows::Rows;

#[derive(Clone, Debug)]
pub struct RescaleChip {
    a: Column<Advice>,
    y: Column<Advice>,
    r: Column<Advice>,
    q: Selector,
    scale_bits: u32,
    activation_bits: u32,
}

/// The witness of one rescale: `a + 2^(s−1) = y·2^s + r`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RescaleWitness {
    pub y: i128,
    pub r: i128,
}

impl RescaleChip {
    /// `scale_bits >= 1`; `columns` are three gate columns.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        columns: [Column<Advice>; 3],
        scale_bits: u32,
        activation_bits: u32,
    ) -> Self {
        let [a, y, r] = columns;
        let q = meta.selector();
        let half = Expression::Constant(pow2(scale_bits - 1));
        let unit = Expression::Constant(pow2(scale_bits));
        meta.create_gate("rescale", |meta| {
            let q = meta.query_selector(q);
            let a = meta.query_advice(a, Rotation::cur());
            let y = meta.query_advice(y, Rotation::cur());
            let r = meta.query_advice(r, Rotation::cur());
            vec![q * (a + half - y * unit - r)]
        });
        RescaleChip {
            a,
            y,
            r,
            q,
            scale_bits,
            activation_bits,
        }
    }

    /// Rescales each pre-rescale cell; the outputs are proved signed
    /// `activation_bits`-bit values.
    pub fn rescale(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        inputs: &[QCell],
    ) -> Result<Vec<QCell>, Error> {
        self.rescale_with(layouter, rows, range, inputs, &|_, _| {})
    }

    /// [`Self::rescale`] where `tamper(i, w)` may rewrite the `i`-th witness
    /// before it is assigned (tests forge witnesses with it).
    pub(crate) fn rescale_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        inputs: &[QCell],
        tamper: &dyn Fn(usize, &mut RescaleWitness),
    ) -> Result<Vec<QCell>, Error> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let s = self.scale_bits;
        let start = rows.take_gate(inputs.len());
        let (ys, rs) = layouter.assign_region(
            || "rescale",
            |mut region| {
                let mut ys = Vec::with_capacity(inputs.len());
                let mut rs = Vec::with_capacity(inputs.len());
                for (i, a) in inputs.iter().enumerate() {
                    let row = start + i;
                    self.q.enable(&mut region, row)?;
                    a.copy_to(&mut region, self.a, row);
                    let w = a.value.map(|a| {
                        let (y, r) = rescale(a, s);
                        let mut w = RescaleWitness { y, r };
                        tamper(i, &mut w);
                        w
                    });
                    ys.push(QCell::assign(&mut region, self.y, row, w.map(|w| w.y)));
                    rs.push(QCell::assign(&mut region, self.r, row, w.map(|w| w.r)));
                }
                Ok((ys, rs))
            },
        )?;
        range.check(layouter, rows, &rs, s, 0)?;
        range.check_signed(layouter, rows, &ys, self.activation_bits)?;
        Ok(ys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::testing::{
        assert_rejected, assert_values, params, verify, witness_cells, Kind, Scenario,
    };

    #[derive(Clone)]
    struct Rescale {
        inputs: Vec<i128>,
        forge: Option<(usize, RescaleWitness)>,
    }

    impl Scenario for Rescale {
        fn run(
            &self,
            config: &ModelConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
        ) -> Result<(), Error> {
            let a = witness_cells(config, layouter, rows, &self.inputs)?;
            let forge = self.forge;
            let tamper = move |i: usize, w: &mut RescaleWitness| {
                if let Some((at, forged)) = forge {
                    if i == at {
                        *w = forged;
                    }
                }
            };
            let y = config
                .rescale
                .rescale_with(layouter, rows, &config.range, &a, &tamper)?;
            if forge.is_none() {
                let expected: Vec<i128> = self.inputs.iter().map(|&a| rescale(a, 4).0).collect();
                assert_values(&y, &expected);
            }
            Ok(())
        }
    }

    // Scale 4 bits, activations 10 bits: y ∈ [−512, 512) needs a ∈ [−8200, 8184).
    const INPUTS: [i128; 8] = [0, 7, 8, -8, -9, 1000, 8183, -8200];

    fn forged(index: usize, y: i128, r: i128) -> Rescale {
        Rescale {
            inputs: INPUTS.to_vec(),
            forge: Some((index, RescaleWitness { y, r })),
        }
    }

    #[test]
    fn honest_rescale_rounds_half_up() {
        for lookup_bits in [3, 4, 5] {
            assert_eq!(
                verify(
                    Rescale {
                        inputs: INPUTS.to_vec(),
                        forge: None
                    },
                    params(lookup_bits, 5)
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn output_off_by_one_fails_the_gate() {
        // 1000 + 8 = 63·16 + 0.
        assert_rejected(verify(forged(5, 64, 0), params(4, 5)), &[Kind::Gate]);
    }

    #[test]
    fn output_off_by_one_with_compensating_remainder_fails_the_range_check() {
        // 1000 + 8 = 64·16 − 16: the gate holds, r = −16 is not in [0, 16).
        assert_rejected(verify(forged(5, 64, -16), params(4, 5)), &[Kind::Lookup]);
        // ... and 62·16 + 16: r = 16 is one past the range.
        assert_rejected(verify(forged(5, 62, 16), params(4, 5)), &[Kind::Lookup]);
    }

    #[test]
    fn remainder_equal_to_p_minus_one_is_rejected() {
        // 7 + 8 = 0·16 + 15 = 1·16 + (p − 1).
        assert_rejected(verify(forged(1, 1, -1), params(4, 5)), &[Kind::Lookup]);
    }

    #[test]
    fn output_outside_the_activation_range_is_rejected() {
        // 8183 + 8 = 511·16 + 15 = 512·16 − 1: y = 512 is one past the 10-bit range.
        assert_rejected(verify(forged(6, 512, -1), params(4, 5)), &[Kind::Lookup]);
    }
}
