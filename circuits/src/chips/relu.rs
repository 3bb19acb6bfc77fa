//! `ReluChip`: `y = max(x, 0)` for a bounded `x`.
//!
//! # Constraints
//!
//! One row per value over four gate columns `(x, b, y, t)`, selector `q`:
//!
//! ```text
//! q · b·(b − 1)      = 0      b is a bit
//! q · (y − b·x)      = 0      y = b·x
//! q · (t − 2y + x)   = 0      t = (2b − 1)·x
//! ```
//!
//! and `t ∈ [0, 2^B)` through [`RangeChip`] (`B = activation_bits`). `x` is a
//! copy of the input cell.
//!
//! # Soundness
//!
//! `x` is a proved signed `B`-bit value: an integer in `[−2^(B−1), 2^(B−1))`.
//! If `b = 1` then `t = x`, and `t ∈ [0, 2^B)` rules out every negative `x`
//! (whose field element `p − |x|` is far above `2^B`): `x ≥ 0` and
//! `y = x = max(x, 0)`. If `b = 0` then `t = −x`, which forces `x ≤ 0` and
//! `y = 0 = max(x, 0)`. For `x = 0` both choices give `y = 0`. So `y` is
//! unique, and it is bounded like `x` without a check of its own.

use halo2_proofs::circuit::Layouter;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use halo2curves::ff::Field;

use crate::cell::QCell;
use crate::chips::range::RangeChip;
use crate::rows::Rows;

#[derive(Clone, Debug)]
pub struct ReluChip {
    x: Column<Advice>,
    b: Column<Advice>,
    y: Column<Advice>,
    t: Column<Advice>,
    q: Selector,
    activation_bits: u32,
}

/// The witness of one ReLU: sign bit `b`, output `y = b·x`, `t = (2b−1)·x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReluWitness {
    pub b: i128,
    pub y: i128,
    pub t: i128,
}

impl ReluWitness {
    pub fn honest(x: i128) -> Self {
        let b = i128::from(x > 0);
        ReluWitness {
            b,
            y: b * x,
            t: (2 * b - 1) * x,
        }
    }
}

impl ReluChip {
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        columns: [Column<Advice>; 4],
        activation_bits: u32,
    ) -> Self {
        let [x, b, y, t] = columns;
        let q = meta.selector();
        meta.create_gate("relu", |meta| {
            let q = meta.query_selector(q);
            let x = meta.query_advice(x, Rotation::cur());
            let b = meta.query_advice(b, Rotation::cur());
            let y = meta.query_advice(y, Rotation::cur());
            let t = meta.query_advice(t, Rotation::cur());
            let one = Expression::Constant(Fr::ONE);
            let two = Expression::Constant(Fr::from(2u64));
            vec![
                q.clone() * b.clone() * (b.clone() - one),
                q.clone() * (y.clone() - b * x.clone()),
                q * (t - two * y + x),
            ]
        });
        ReluChip {
            x,
            b,
            y,
            t,
            q,
            activation_bits,
        }
    }

    pub fn relu(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        inputs: &[QCell],
    ) -> Result<Vec<QCell>, Error> {
        self.relu_with(layouter, rows, range, inputs, &|_, _| {})
    }

    /// [`Self::relu`] where `tamper(i, w)` may rewrite the `i`-th witness
    /// before it is assigned (tests forge witnesses with it).
    pub(crate) fn relu_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        range: &RangeChip,
        inputs: &[QCell],
        tamper: &dyn Fn(usize, &mut ReluWitness),
    ) -> Result<Vec<QCell>, Error> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let start = rows.take_gate(inputs.len());
        let (ys, ts) = layouter.assign_region(
            || "relu",
            |mut region| {
                let mut ys = Vec::with_capacity(inputs.len());
                let mut ts = Vec::with_capacity(inputs.len());
                for (i, x) in inputs.iter().enumerate() {
                    let row = start + i;
                    self.q.enable(&mut region, row)?;
                    x.copy_to(&mut region, self.x, row);
                    let w = x.value.map(|x| {
                        let mut w = ReluWitness::honest(x);
                        tamper(i, &mut w);
                        w
                    });
                    QCell::assign(&mut region, self.b, row, w.map(|w| w.b));
                    ys.push(QCell::assign(&mut region, self.y, row, w.map(|w| w.y)));
                    ts.push(QCell::assign(&mut region, self.t, row, w.map(|w| w.t)));
                }
                Ok((ys, ts))
            },
        )?;
        range.check(layouter, rows, &ts, self.activation_bits, 0)?;
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
    struct Relu {
        inputs: Vec<i128>,
        forge: Option<(usize, ReluWitness)>,
    }

    impl Scenario for Relu {
        fn run(
            &self,
            config: &ModelConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
        ) -> Result<(), Error> {
            let x = witness_cells(config, layouter, rows, &self.inputs)?;
            let forge = self.forge;
            let tamper = move |i: usize, w: &mut ReluWitness| {
                if let Some((at, forged)) = forge {
                    if i == at {
                        *w = forged;
                    }
                }
            };
            let y = config
                .relu
                .relu_with(layouter, rows, &config.range, &x, &tamper)?;
            if forge.is_none() {
                let expected: Vec<i128> = self.inputs.iter().map(|&x| x.max(0)).collect();
                assert_values(&y, &expected);
            }
            Ok(())
        }
    }

    const INPUTS: [i128; 5] = [-512, -3, 0, 5, 511];

    fn forged(index: usize, b: i128) -> Relu {
        let x = INPUTS[index];
        Relu {
            inputs: INPUTS.to_vec(),
            forge: Some((
                index,
                ReluWitness {
                    b,
                    y: b * x,
                    t: (2 * b - 1) * x,
                },
            )),
        }
    }

    #[test]
    fn honest_relu_passes() {
        assert_eq!(
            verify(
                Relu {
                    inputs: INPUTS.to_vec(),
                    forge: None
                },
                params(4, 5)
            ),
            Ok(())
        );
    }

    #[test]
    fn wrong_sign_bit_is_rejected_by_the_range_check() {
        // b = 1 on a negative input: y = x < 0, t = x wraps the field.
        assert_rejected(verify(forged(1, 1), params(4, 5)), &[Kind::Lookup]);
        assert_rejected(verify(forged(0, 1), params(4, 5)), &[Kind::Lookup]);
        // b = 0 on a positive input: y = 0, t = −x.
        assert_rejected(verify(forged(3, 0), params(4, 5)), &[Kind::Lookup]);
    }

    #[test]
    fn either_sign_bit_is_fine_at_zero() {
        // Both give y = 0: the output is still unique.
        assert_eq!(verify(forged(2, 1), params(4, 5)), Ok(()));
    }

    #[test]
    fn non_boolean_sign_bit_is_rejected() {
        let forge = Some((3, ReluWitness { b: 2, y: 10, t: 15 }));
        assert_rejected(
            verify(
                Relu {
                    inputs: INPUTS.to_vec(),
                    forge,
                },
                params(4, 5),
            ),
            &[Kind::Gate],
        );
    }

    #[test]
    fn output_off_by_one_is_rejected() {
        let forge = Some((3, ReluWitness { b: 1, y: 6, t: 5 }));
        assert_rejected(
            verify(
                Relu {
                    inputs: INPUTS.to_vec(),
                    forge,
                },
                params(4, 5),
            ),
            &[Kind::Gate],
        );
    }
}
