//! `LinearChip`: activations × fixed weights, before rescaling.
//!
//! Computes `acc[r, j] = bias[j] + Σ_k x[r, k]·W[k, j]` (weights at scale `s`,
//! bias at scale `2s`); the compiler then sends each accumulator to the
//! rescale chip.
//!
//! # Layout and constraints
//!
//! Gate columns `x, acc_1 … acc_C` and fixed columns `w_1 … w_C`, where
//! `C` = number of accumulator columns. For each token `r` and each block of
//! `C` outputs `j0 … j0+C−1`, a block of `in + 1` rows:
//!
//! ```text
//! row 0    : q_bias · (acc_j − w_j) = 0                       w_j = bias[j0+j]
//! row 1+k  : q_mac  · (acc_j[cur] − acc_j[prev] − x·w_j) = 0  w_j = W[k, j0+j], x = x[r, k]
//! ```
//!
//! so `acc_j` in the block's last row is `bias[j] + Σ_k x[r, k]·W[k, j]`. Each
//! `x` cell is a copy of the input cell. Lanes past the last output (when `C`
//! does not divide `out`) have zero weights and are not used.
//!
//! # Soundness
//!
//! The weights and biases are fixed cells, so they are part of the verifying
//! key: a prover cannot change them. Every `x` is a proved activation, so each
//! accumulator is determined by the gates; the planner checks
//! `Σ_k |W[k, j]|·2^(B−1) + |bias[j]| < 2^120`, so the field value is the
//! integer value.
//!
//! # Cost, and when Freivalds is used instead
//!
//! `tokens · ceil(out / C) · (in + 1)` rows of `C + 1` advice cells: about
//! `tokens · in · out / C` rows, one fixed cell per weight and token. With one
//! token this uses each weight once and is the cheapest layout. With several
//! tokens the weights are laid out once per token, and the planner
//! ([`crate::linear_layout`]) switches to [`crate::chips::freivalds`], which
//! checks `C·r = A·(W·r)` with a verifier challenge `r` and costs about
//! `in · out + tokens · (in + out)` cells, whenever that needs fewer rows.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;

use crate::cell::QCell;
use crate::field::fr_from_i128;
use crate::rows::{LinearShape, Rows};

#[derive(Clone, Debug)]
pub struct LinearChip {
    x: Column<Advice>,
    acc: Vec<Column<Advice>>,
    w: Vec<Column<Fixed>>,
    q_bias: Selector,
    q_mac: Selector,
}

/// The constants of a linear layer: `weight` row-major `[in, out]` at scale
/// `s`, `bias` `[out]` at scale `2s`.
#[derive(Clone, Copy, Debug)]
pub struct LinearWeights<'a> {
    pub in_features: usize,
    pub out_features: usize,
    pub weight: &'a [i64],
    pub bias: Option<&'a [i64]>,
}

/// Where an accumulator cell sits: token `token`, output `out`, after
/// `step` products (`step = 0` is the bias row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccPos {
    pub token: usize,
    pub out: usize,
    pub step: usize,
}

impl LinearChip {
    /// `acc` and `w` have the same length `C >= 1`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        x: Column<Advice>,
        acc: &[Column<Advice>],
        w: &[Column<Fixed>],
    ) -> Self {
        assert_eq!(
            acc.len(),
            w.len(),
            "one weight column per accumulator column"
        );
        let q_bias = meta.selector();
        let q_mac = meta.selector();
        meta.create_gate("linear bias", |meta| {
            let q = meta.query_selector(q_bias);
            acc.iter()
                .zip(w)
                .map(|(&acc, &w)| {
                    q.clone()
                        * (meta.query_advice(acc, Rotation::cur())
                            - meta.query_fixed(w, Rotation::cur()))
                })
                .collect::<Vec<_>>()
        });
        meta.create_gate("linear mac", |meta| {
            let q = meta.query_selector(q_mac);
            let x = meta.query_advice(x, Rotation::cur());
            acc.iter()
                .zip(w)
                .map(|(&acc, &w)| {
                    let cur = meta.query_advice(acc, Rotation::cur());
                    let prev = meta.query_advice(acc, Rotation::prev());
                    let w = meta.query_fixed(w, Rotation::cur());
                    q.clone() * (cur - prev - x.clone() * w)
                })
                .collect::<Vec<_>>()
        });
        LinearChip {
            x,
            acc: acc.to_vec(),
            w: w.to_vec(),
            q_bias,
            q_mac,
        }
    }

    /// Number of accumulator columns `C`.
    pub fn lanes(&self) -> usize {
        self.acc.len()
    }

    /// Gate rows one layer takes.
    pub fn rows_needed(&self, shape: LinearShape) -> usize {
        rows_needed(shape, self.lanes())
    }

    /// The pre-rescale accumulators `[tokens, out]` of `x · W + bias`, where
    /// `x` is `[tokens, in]` row-major.
    pub fn linear(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        x: &[QCell],
        weights: &LinearWeights<'_>,
    ) -> Result<Vec<QCell>, Error> {
        self.linear_with(layouter, rows, x, weights, &|_, _| {})
    }

    /// [`Self::linear`] where `tamper(pos, acc)` may rewrite an accumulator
    /// before it is assigned; later steps continue from the rewritten value
    /// (tests forge witnesses with it).
    pub(crate) fn linear_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        x: &[QCell],
        weights: &LinearWeights<'_>,
        tamper: &dyn Fn(AccPos, &mut i128),
    ) -> Result<Vec<QCell>, Error> {
        let (n, m) = (weights.in_features, weights.out_features);
        if n == 0
            || !x.len().is_multiple_of(n)
            || weights.weight.len() != n * m
            || weights.bias.is_some_and(|b| b.len() != m)
        {
            return Err(Error::Synthesis);
        }
        let tokens = x.len() / n;
        let lanes = self.lanes();
        let blocks = m.div_ceil(lanes);
        let shape = LinearShape {
            tokens,
            in_features: n,
            out_features: m,
        };
        let start = rows.take_linear(shape, self.rows_needed(shape));
        layouter.assign_region(
            || "linear",
            |mut region| {
                let mut out = vec![None; tokens * m];
                let mut row = start;
                for token in 0..tokens {
                    for block in 0..blocks {
                        let j0 = block * lanes;
                        let outputs = lanes.min(m - j0);
                        // Bias row.
                        self.q_bias.enable(&mut region, row)?;
                        let mut accs: Vec<Value<i128>> = Vec::with_capacity(lanes);
                        for lane in 0..lanes {
                            let bias = if lane < outputs {
                                weights.bias.map_or(0, |b| b[j0 + lane])
                            } else {
                                0
                            };
                            region.assign_fixed(self.w[lane], row, fr_from_i128(bias as i128));
                            let pos = AccPos {
                                token,
                                out: j0 + lane,
                                step: 0,
                            };
                            let acc = Value::known(bias as i128).map(|mut a| {
                                tamper(pos, &mut a);
                                a
                            });
                            QCell::assign(&mut region, self.acc[lane], row, acc);
                            accs.push(acc);
                        }
                        row += 1;
                        // One row per input feature.
                        for k in 0..n {
                            self.q_mac.enable(&mut region, row)?;
                            let xk = x[token * n + k].copy_to(&mut region, self.x, row);
                            for lane in 0..lanes {
                                let w = if lane < outputs {
                                    weights.weight[k * m + j0 + lane]
                                } else {
                                    0
                                };
                                region.assign_fixed(self.w[lane], row, fr_from_i128(w as i128));
                                let pos = AccPos {
                                    token,
                                    out: j0 + lane,
                                    step: k + 1,
                                };
                                let acc = accs[lane].zip(xk.value).map(|(a, x)| {
                                    let mut a = a + x * w as i128;
                                    tamper(pos, &mut a);
                                    a
                                });
                                let cell = QCell::assign(&mut region, self.acc[lane], row, acc);
                                accs[lane] = acc;
                                if k + 1 == n && lane < outputs {
                                    out[token * m + j0 + lane] = Some(cell);
                                }
                            }
                            row += 1;
                        }
                    }
                }
                out.into_iter().map(|c| c.ok_or(Error::Synthesis)).collect()
            },
        )
    }
}

/// Gate rows of a linear layer with `lanes` accumulator columns: a bias row
/// and one row per input, for each token and each block of `lanes` outputs.
pub fn rows_needed(shape: LinearShape, lanes: usize) -> usize {
    shape.tokens * shape.out_features.div_ceil(lanes.max(1)) * (shape.in_features + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::testing::{
        assert_rejected, assert_values, params, verify, witness_cells, Kind, Scenario,
    };

    const IN: usize = 3;
    const OUT: usize = 4;
    const WEIGHT: [i64; IN * OUT] = [1, -2, 3, 4, 0, 5, -1, 2, 7, -3, 2, -6];
    const BIAS: [i64; OUT] = [10, -20, 30, 0];
    const X: [i128; 2 * IN] = [3, -1, 2, -4, 0, 5];

    #[derive(Clone)]
    struct Linear {
        bias: bool,
        forge: Option<(AccPos, i128)>,
    }

    fn expected(bias: bool) -> Vec<i128> {
        let mut out = Vec::new();
        for r in 0..2 {
            for j in 0..OUT {
                let b = if bias { BIAS[j] as i128 } else { 0 };
                out.push(
                    b + (0..IN)
                        .map(|k| X[r * IN + k] * WEIGHT[k * OUT + j] as i128)
                        .sum::<i128>(),
                );
            }
        }
        out
    }

    impl Scenario for Linear {
        fn run(
            &self,
            config: &ModelConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
        ) -> Result<(), Error> {
            let x = witness_cells(config, layouter, rows, &X)?;
            let weights = LinearWeights {
                in_features: IN,
                out_features: OUT,
                weight: &WEIGHT,
                bias: self.bias.then_some(&BIAS[..]),
            };
            let forge = self.forge;
            let tamper = move |pos: AccPos, acc: &mut i128| {
                if let Some((at, delta)) = forge {
                    if pos == at {
                        *acc += delta;
                    }
                }
            };
            let acc = config
                .linear
                .linear_with(layouter, rows, &x, &weights, &tamper)?;
            if forge.is_none() {
                assert_values(&acc, &expected(self.bias));
            }
            Ok(())
        }
    }

    fn forged(token: usize, out: usize, step: usize) -> Linear {
        Linear {
            bias: true,
            forge: Some((AccPos { token, out, step }, 1)),
        }
    }

    #[test]
    fn honest_accumulators_pass_for_any_number_of_lanes() {
        // 3 lanes (two blocks, the second with two idle lanes), 4 and 6 lanes.
        for advice in [5, 6, 8] {
            for bias in [true, false] {
                assert_eq!(
                    verify(Linear { bias, forge: None }, params(4, advice)),
                    Ok(()),
                    "{advice} {bias}"
                );
            }
        }
    }

    #[test]
    fn accumulator_off_by_one_is_rejected() {
        for (token, out, step) in [(1, 2, 2), (0, 3, IN), (1, 0, 1)] {
            assert_rejected(
                verify(forged(token, out, step), params(4, 5)),
                &[Kind::Gate],
            );
        }
    }

    #[test]
    fn bias_off_by_one_is_rejected() {
        assert_rejected(verify(forged(0, 0, 0), params(4, 5)), &[Kind::Gate]);
    }

    #[test]
    fn idle_lane_must_stay_zero() {
        // Output 5 does not exist: lane 2 of the second block is idle.
        assert_rejected(verify(forged(0, 5, 2), params(4, 5)), &[Kind::Gate]);
    }

    #[test]
    fn rows_needed_matches_the_layout() {
        let mut cs = ConstraintSystem::<Fr>::default();
        let config = ModelConfig::configure(&mut cs, &params(4, 5));
        assert_eq!(config.linear.lanes(), 3);
        let shape = LinearShape {
            tokens: 2,
            in_features: IN,
            out_features: OUT,
        };
        assert_eq!(config.linear.rows_needed(shape), 2 * 2 * (IN + 1));
    }
}
