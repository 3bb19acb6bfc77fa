//! `FreivaldsChip`: a multi-token linear layer `C = A·W + b` proved by
//! checking it at a random point (Freivalds' check) instead of recomputing
//! every product.
//!
//! `A` is `[T, n]` (`T` tokens of proved activations), `W` is `[n, m]` (fixed
//! weights, scale `s`), `b` is `[m]` (fixed bias, scale `2s`, zero when
//! absent) and `C` is `[T, m]`: the claimed pre-rescale products, which the
//! rescale chip then consumes exactly as it consumes [`super::linear`]'s
//! accumulators.
//!
//! # Phases
//!
//! - **Phase 0** (first-phase advice, committed with the rest of the model):
//!   the claims `C` and copies of the activations `A`.
//! - The challenge `r` is then drawn: halo2 squeezes it from the transcript
//!   after the instances and every phase-0 commitment.
//! - **Phase 1** (second-phase advice): `ρ_j = r^j`, `v_k = Σ_j W[k][j]·ρ_j`
//!   (`v = W·(1, r, …, r^(m−1))`, once per layer), and for every token `i`
//!   the identity `Σ_j (C[i][j] − b_j)·ρ_j = Σ_k A[i][k]·v_k`.
//!
//! The circuit lays out every layer's phase-0 part in model order, calls
//! `next_phase` once all phase-0 cells are assigned, then lays out every
//! pending check ([`FreivaldsChip::check`]).
//!
//! # Layout and constraints
//!
//! Columns: phase-0 operands `o_1 … o_F` (gate columns), fixed `f_1 … f_F`,
//! phase-1 `x` and `acc_1 … acc_F`; the `F` lanes handle `F` weight rows or
//! `F` tokens side by side. `r` is the challenge.
//!
//! A **weight block** (lane `ℓ` ↔ weight row `k`) takes `m + 1` rows:
//!
//! ```text
//! row 0      : q_zero   · acc_ℓ = 0
//! row 1      : q_first  · (x − 1) = 0
//! row 1 + j  : q_power  · (x − r·x[prev]) = 0                        (j ≥ 1)
//!   (all j)    q_weight · (acc_ℓ − acc_ℓ[prev] − x·f_ℓ) = 0           f_ℓ = W[k][j]
//! ```
//!
//! so `x = r^j` on row `1 + j` and `acc_ℓ = v_k` on the last row.
//!
//! A **check block** (lane `ℓ` ↔ token `i`) takes `m + n + 1` rows:
//!
//! ```text
//! row 0          : q_zero  · acc_ℓ = 0
//! row 1 + j      : x = r^j as above, and
//!                  q_claim · (acc_ℓ − acc_ℓ[prev] − x·(o_ℓ − f_ℓ)) = 0  o_ℓ = C[i][j], f_ℓ = b_j
//! row 1 + m + k  : q_input · (acc_ℓ − acc_ℓ[prev] + x·o_ℓ) = 0          o_ℓ = A[i][k], x = v_k
//! last row       : q_zero  · acc_ℓ = 0
//! ```
//!
//! where `o_ℓ` on input rows is a copy of the activation cell and `x` a copy
//! of the weight block's `v_k` cell (equality constraints). Lanes past the
//! last weight row or token have zero fixed entries and zero operands, so
//! they stay zero; nothing reads them.
//!
//! # Soundness
//!
//! The weight blocks make `x = r^j` and `v_k = Σ_j W[k][j]·r^j`, `W` being
//! fixed cells of the verifying key. Telescoping a check block, its last-row
//! constraint reads
//!
//! ```text
//! 0 = Σ_j (C[i][j] − b_j)·r^j − Σ_k A[i][k]·v_k = P_i(r),
//! P_i(X) = Σ_j E[i][j]·X^j,   E = C − (A·W + b)
//! ```
//!
//! `C` and the copies of `A` are phase-0 advice, committed before `r` is
//! drawn, and `W`, `b` are constants, so each `P_i` is fixed before `r` is
//! known. If any claimed row is wrong, its `P_i` is a nonzero polynomial of
//! degree below `m`, which vanishes at fewer than `m` points
//! (Schwartz–Zippel): a wrong witness passes with probability at most
//! `T·m / p` over `r` (union bound over tokens), `≈ 2^−240` for `T·m ≤ 2^14`
//! with `p ≈ 2^254`. A prover who grinds `q` transcripts (Fiat–Shamir) gets
//! `q·T·m / p`. Equality constraints tie each `A` copy to the proved
//! activation, so the claims are about the real input.
//!
//! So `C[i][j] = Σ_k A[i][k]·W[k][j] + b_j` in the field. The planner bounds
//! the right side by `2^120` in magnitude for in-range activations, so the
//! field element `C[i][j]` is that integer's image: exactly what the direct
//! layout proves, and what the rescale chip's argument assumes.
//!
//! # Products of two activations
//!
//! `Q·Kᵀ` and `scores·V` multiply two proved activations: `C = A·R` with `R`
//! (`[n, m]`) advice instead of fixed weights ([`RightFactor::Activations`],
//! no bias). In phase 0 the chip also copies every `R[k][j]` into the
//! operand cell of lane `ℓ ↔ k` on row `1 + j` of the weight blocks (equality
//! constraints to the proved cells). In phase 1 those rows use the claim
//! gate with zero coefficients, `acc_ℓ − acc_ℓ[prev] − x·o_ℓ = 0`, so again
//! `v_k = Σ_j R[k][j]·r^j`. The soundness argument above holds unchanged:
//! `R`, like `A` and `C`, is phase-0 advice committed before `r` is drawn,
//! so each `P_i(X) = Σ_j (C − A·R)[i][j]·X^j` is fixed before `r` is known
//! and a wrong claim survives with probability at most `T·m / p`. The copy
//! constraints make `R` the proved activation, not a free witness. These
//! products have no direct layout: a circuit with one has Freivalds lanes.
//!
//! # Cost, and when it is chosen
//!
//! With `F` lanes: `⌈T/F⌉·(m+n+1) + ⌈n/F⌉·(m+1)` rows ([`rows_needed`]),
//! about `n·m + 2·T·(n+m)` cells, plus `F + 1` second-phase columns, six
//! selectors and one challenge in the constraint system. The direct layout
//! takes `T·⌈m/L⌉·(n+1)` rows (about `T·n·m` cells). A layer uses this chip
//! when the circuit has second-phase columns, it has at least two tokens
//! and it needs fewer rows (see [`crate::linear_layout`]): never for one
//! token, where `W·ρ` alone already costs what the direct layout does.

use halo2_proofs::circuit::{Cell, Layouter, Region, Value};
use halo2_proofs::plonk::{
    Advice, Challenge, Column, ConstraintSystem, Error, Expression, FirstPhase, Fixed, Selector,
};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use halo2curves::ff::Field;

use crate::cell::QCell;
use crate::chips::linear::LinearWeights;
use crate::field::fr_from_i128;
use crate::rows::{LinearShape, Rows};

#[derive(Clone, Debug)]
pub struct FreivaldsChip {
    operand: Vec<Column<Advice>>,
    coeff: Vec<Column<Fixed>>,
    x: Column<Advice>,
    acc: Vec<Column<Advice>>,
    r: Challenge,
    q_zero: Selector,
    q_first: Selector,
    q_power: Selector,
    q_weight: Selector,
    q_claim: Selector,
    q_input: Selector,
}

/// The phase-0 witness of one layer, row-major: `inputs` (`[T, n]`, the
/// copies of `A`) and `products` (`[T, m]`, the claims `C`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProductWitness {
    pub inputs: Vec<i128>,
    pub products: Vec<i128>,
}

impl ProductWitness {
    /// `products = inputs · W + b`.
    #[cfg(test)]
    pub fn honest(inputs: Vec<i128>, weights: &LinearWeights<'_>) -> Self {
        let weight: Vec<i128> = weights.weight.iter().map(|&w| w as i128).collect();
        Self::of_product(inputs, &weight, weights.bias, weights.out_features)
    }

    /// `products = inputs · right + bias` for a row-major `right` of `m` columns.
    fn of_product(inputs: Vec<i128>, right: &[i128], bias: Option<&[i64]>, m: usize) -> Self {
        let n = right.len() / m.max(1);
        let products = inputs
            .chunks(n.max(1))
            .flat_map(|a| {
                (0..m).map(move |j| {
                    let bias = bias.map_or(0, |b| b[j] as i128);
                    bias + (0..n).map(|k| a[k] * right[k * m + j]).sum::<i128>()
                })
            })
            .collect();
        ProductWitness { inputs, products }
    }
}

/// The right factor of a checked product `C = A·R + b`.
#[derive(Clone, Debug)]
pub enum RightFactor<'w> {
    /// A linear layer's fixed weights and bias: cells of the verifying key.
    Weights(LinearWeights<'w>),
    /// A proved activation matrix `[n, m]`, row-major (`Kᵀ` in `Q·Kᵀ`, `V`
    /// in `scores·V`); no bias. Its values are copied into phase-0 operand
    /// cells of the weight blocks, so they are committed before `r` too.
    Activations {
        in_features: usize,
        out_features: usize,
        cells: Vec<QCell>,
    },
}

impl RightFactor<'_> {
    fn dims(&self) -> (usize, usize) {
        match self {
            RightFactor::Weights(w) => (w.in_features, w.out_features),
            RightFactor::Activations {
                in_features,
                out_features,
                ..
            } => (*in_features, *out_features),
        }
    }

    fn bias(&self) -> Option<&[i64]> {
        match self {
            RightFactor::Weights(w) => w.bias,
            RightFactor::Activations { .. } => None,
        }
    }

    /// `R` as integers (unknown while generating keys).
    fn values(&self) -> Value<Vec<i128>> {
        match self {
            RightFactor::Weights(w) => Value::known(w.weight.iter().map(|&v| v as i128).collect()),
            RightFactor::Activations { cells, .. } => cells.iter().map(|c| c.value).collect(),
        }
    }

    fn is_consistent(&self) -> bool {
        let (n, m) = self.dims();
        n > 0
            && m > 0
            && match self {
                RightFactor::Weights(w) => {
                    w.weight.len() == n * m && w.bias.is_none_or(|b| b.len() == m)
                }
                RightFactor::Activations { cells, .. } => cells.len() == n * m,
            }
    }
}

/// A layer whose products are committed and whose check is still to be laid
/// out, once the challenge is known ([`FreivaldsChip::check`]).
#[derive(Clone, Debug)]
pub struct ProductClaim<'w> {
    right: RightFactor<'w>,
    tokens: usize,
    witness: Value<ProductWitness>,
    /// First row of the check blocks, then of the weight blocks.
    check_start: usize,
    weight_start: usize,
}

/// A phase-1 value the check computes (tests forge them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CheckValue {
    /// `x = r^j` of weight block `block`.
    Power { block: usize, j: usize },
    /// The running sum of weight row `k` after `j + 1` terms.
    Weight { k: usize, j: usize },
    /// The running sum of token `token` after claim `j`.
    Claim { token: usize, j: usize },
    /// The running sum of token `token` after input `k`.
    Input { token: usize, k: usize },
}

impl FreivaldsChip {
    /// `operand` (phase 0), `coeff`, `acc` (phase 1) have the same length
    /// `F >= 1`; `x` and `acc` are second-phase columns. Draws the challenge.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        operand: &[Column<Advice>],
        coeff: &[Column<Fixed>],
        x: Column<Advice>,
        acc: &[Column<Advice>],
    ) -> Self {
        assert!(
            !acc.is_empty() && operand.len() == acc.len() && coeff.len() == acc.len(),
            "one operand and one coefficient column per lane"
        );
        let r = meta.challenge_usable_after(FirstPhase);
        let [q_zero, q_first, q_power, q_weight, q_claim, q_input] =
            [(); 6].map(|_| meta.selector());

        meta.create_gate("freivalds zero", |meta| {
            let q = meta.query_selector(q_zero);
            acc.iter()
                .map(|&a| q.clone() * meta.query_advice(a, Rotation::cur()))
                .collect::<Vec<_>>()
        });
        meta.create_gate("freivalds powers", |meta| {
            let first = meta.query_selector(q_first);
            let power = meta.query_selector(q_power);
            let r = meta.query_challenge(r);
            let cur = meta.query_advice(x, Rotation::cur());
            let prev = meta.query_advice(x, Rotation::prev());
            vec![
                first * (cur.clone() - Expression::Constant(Fr::ONE)),
                power * (cur - r * prev),
            ]
        });
        // acc_ℓ − acc_ℓ[prev] − x·term_ℓ, one constraint per lane.
        let mac =
            |meta: &mut ConstraintSystem<Fr>,
             name: &'static str,
             q: Selector,
             term: &dyn Fn(Expression<Fr>, Expression<Fr>) -> Expression<Fr>| {
                meta.create_gate(name, |meta| {
                    let q = meta.query_selector(q);
                    let x = meta.query_advice(x, Rotation::cur());
                    (0..acc.len())
                        .map(|lane| {
                            let cur = meta.query_advice(acc[lane], Rotation::cur());
                            let prev = meta.query_advice(acc[lane], Rotation::prev());
                            let o = meta.query_advice(operand[lane], Rotation::cur());
                            let f = meta.query_fixed(coeff[lane], Rotation::cur());
                            q.clone() * (cur - prev - x.clone() * term(o, f))
                        })
                        .collect::<Vec<_>>()
                });
            };
        mac(meta, "freivalds weights", q_weight, &|_, f| f);
        mac(meta, "freivalds claims", q_claim, &|o, f| o - f);
        mac(meta, "freivalds inputs", q_input, &|o, _| -o);

        FreivaldsChip {
            operand: operand.to_vec(),
            coeff: coeff.to_vec(),
            x,
            acc: acc.to_vec(),
            r,
            q_zero,
            q_first,
            q_power,
            q_weight,
            q_claim,
            q_input,
        }
    }

    /// Number of lanes `F`.
    pub fn lanes(&self) -> usize {
        self.acc.len()
    }

    /// Gate-track rows one layer takes.
    pub fn rows_needed(&self, shape: LinearShape) -> usize {
        rows_needed(shape, self.lanes())
    }

    /// Phase 0: assigns the claimed products `C = x · W + b` (`[tokens, out]`,
    /// the cells to rescale) and the copies of `x` (`[tokens, in]`
    /// row-major), and returns the claim to check in phase 1.
    pub fn commit_products<'w>(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        x: &[QCell],
        weights: &LinearWeights<'w>,
    ) -> Result<(Vec<QCell>, ProductClaim<'w>), Error> {
        self.commit_with(layouter, rows, x, RightFactor::Weights(*weights), &|_| {})
    }

    /// [`Self::commit_products`] where `tamper` may rewrite the witness
    /// before it is assigned (tests forge witnesses with it).
    #[cfg(test)]
    pub(crate) fn commit_products_with<'w>(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        x: &[QCell],
        weights: &LinearWeights<'w>,
        tamper: &dyn Fn(&mut ProductWitness),
    ) -> Result<(Vec<QCell>, ProductClaim<'w>), Error> {
        self.commit_with(layouter, rows, x, RightFactor::Weights(*weights), tamper)
    }

    /// Phase 0 of a product of two activations, `C = a · b` with `a`
    /// `[tokens, n]` and `b` `[n, m]` (row-major): the claims `C` (to
    /// rescale), the copies of `a` and of `b`.
    pub fn commit_matmul(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        a: &[QCell],
        b: &[QCell],
        n: usize,
        m: usize,
    ) -> Result<(Vec<QCell>, ProductClaim<'static>), Error> {
        self.commit_matmul_with(layouter, rows, a, b, n, m, &|_| {})
    }

    /// [`Self::commit_matmul`] with a witness `tamper` may rewrite (tests).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn commit_matmul_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        a: &[QCell],
        b: &[QCell],
        n: usize,
        m: usize,
        tamper: &dyn Fn(&mut ProductWitness),
    ) -> Result<(Vec<QCell>, ProductClaim<'static>), Error> {
        let right = RightFactor::Activations {
            in_features: n,
            out_features: m,
            cells: b.to_vec(),
        };
        self.commit_with(layouter, rows, a, right, tamper)
    }

    fn commit_with<'w>(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        x: &[QCell],
        right: RightFactor<'w>,
        tamper: &dyn Fn(&mut ProductWitness),
    ) -> Result<(Vec<QCell>, ProductClaim<'w>), Error> {
        let (n, m) = right.dims();
        if !right.is_consistent() || !x.len().is_multiple_of(n) {
            return Err(Error::Synthesis);
        }
        let tokens = x.len() / n;
        let shape = LinearShape {
            tokens,
            in_features: n,
            out_features: m,
        };
        let check_start = match right {
            RightFactor::Weights(_) => rows.take_linear(shape, self.rows_needed(shape)),
            RightFactor::Activations { .. } => rows.take_matmul(shape, self.rows_needed(shape)),
        };
        let weight_start = check_start + check_rows(shape, self.lanes());
        let witness: Value<ProductWitness> = x
            .iter()
            .map(|c| c.value)
            .collect::<Value<Vec<i128>>>()
            .zip(right.values())
            .map(|(inputs, r)| {
                let mut w = ProductWitness::of_product(inputs, &r, right.bias(), m);
                tamper(&mut w);
                w
            });
        let lanes = self.lanes();
        let products = layouter.assign_region(
            || "freivalds products",
            |mut region| {
                let mut products = Vec::with_capacity(tokens * m);
                for block in 0..tokens.div_ceil(lanes) {
                    let base = check_start + block * (m + n + 1);
                    for lane in 0..lanes {
                        let token = block * lanes + lane;
                        let live = token < tokens;
                        let column = self.operand[lane];
                        for j in 0..m {
                            let value = if live {
                                witness.as_ref().map(|w| w.products[token * m + j])
                            } else {
                                Value::known(0)
                            };
                            let cell = QCell::assign(&mut region, column, base + 1 + j, value);
                            if live {
                                products.push(cell);
                            }
                        }
                        for k in 0..n {
                            let row = base + 1 + m + k;
                            if live {
                                let value = witness.as_ref().map(|w| w.inputs[token * n + k]);
                                let copy = QCell::assign(&mut region, column, row, value);
                                region.constrain_equal(copy.cell, x[token * n + k].cell);
                            } else {
                                QCell::assign(&mut region, column, row, Value::known(0));
                            }
                        }
                    }
                }
                // A right factor of activations: its copies in the weight
                // blocks' operand cells, lane ℓ ↔ row k.
                if let RightFactor::Activations { cells, .. } = &right {
                    for block in 0..n.div_ceil(lanes) {
                        let base = weight_start + block * (m + 1);
                        for (lane, &column) in self.operand.iter().enumerate() {
                            let k = block * lanes + lane;
                            for j in 0..m {
                                let row = base + 1 + j;
                                match cells.get(k * m + j).filter(|_| k < n) {
                                    Some(b) => {
                                        b.copy_to(&mut region, column, row);
                                    }
                                    None => {
                                        QCell::assign(&mut region, column, row, Value::known(0));
                                    }
                                }
                            }
                        }
                    }
                }
                // Blocks, then lanes, then outputs: token-major order.
                Ok(products)
            },
        )?;
        Ok((
            products,
            ProductClaim {
                right,
                tokens,
                witness,
                check_start,
                weight_start,
            },
        ))
    }

    /// Phase 1: lays out `claim`'s weight and check blocks. Call after
    /// `next_phase`, when the challenge is known.
    pub fn check(
        &self,
        layouter: &mut impl Layouter<Fr>,
        claim: &ProductClaim<'_>,
    ) -> Result<(), Error> {
        self.check_with(layouter, claim, &|_, _| {})
    }

    /// [`Self::check`] where `tamper(at, value)` may rewrite a phase-1 value
    /// before it is assigned; later steps continue from the rewritten value
    /// (tests forge witnesses with it).
    pub(crate) fn check_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        claim: &ProductClaim<'_>,
        tamper: &dyn Fn(CheckValue, &mut Fr),
    ) -> Result<(), Error> {
        let r = layouter.get_challenge(self.r);
        let v = self.lay_out_weights(layouter, claim, r, tamper)?;
        self.lay_out_checks(layouter, claim, r, &v, tamper)
    }

    /// The weight blocks; returns each `v_k` cell with its value. Fixed
    /// weights are coefficients of the `q_weight` gate; a right factor of
    /// activations sits in the phase-0 operand cells and goes through the
    /// `q_claim` gate with zero coefficients (`acc += x·o`).
    fn lay_out_weights(
        &self,
        layouter: &mut impl Layouter<Fr>,
        claim: &ProductClaim<'_>,
        r: Value<Fr>,
        tamper: &dyn Fn(CheckValue, &mut Fr),
    ) -> Result<Vec<(Cell, Value<Fr>)>, Error> {
        let (n, m) = claim.right.dims();
        let lanes = self.lanes();
        let right = claim.right.values();
        let fixed = matches!(claim.right, RightFactor::Weights(_));
        layouter.assign_region(
            || "freivalds weights",
            |mut region| {
                let mut v = Vec::with_capacity(n);
                for block in 0..n.div_ceil(lanes) {
                    let base = claim.weight_start + block * (m + 1);
                    self.zero_row(&mut region, base)?;
                    let mut sums = vec![Value::known(Fr::ZERO); lanes];
                    let mut x = Value::known(Fr::ZERO);
                    for j in 0..m {
                        let row = base + 1 + j;
                        x = self.power(&mut region, row, j, x, r, &|value: &mut Fr| {
                            tamper(CheckValue::Power { block, j }, value)
                        })?;
                        if fixed {
                            self.q_weight.enable(&mut region, row)?;
                        } else {
                            self.q_claim.enable(&mut region, row)?;
                        }
                        for (lane, sum) in sums.iter_mut().enumerate() {
                            let k = block * lanes + lane;
                            let weight = right.as_ref().map(|w| {
                                if k < n {
                                    fr_from_i128(w[k * m + j])
                                } else {
                                    Fr::ZERO
                                }
                            });
                            let coeff = match &claim.right {
                                RightFactor::Weights(w) if k < n => {
                                    fr_from_i128(w.weight[k * m + j] as i128)
                                }
                                _ => Fr::ZERO,
                            };
                            region.assign_fixed(self.coeff[lane], row, coeff);
                            *sum = sum.zip(x).zip(weight).map(|((s, x), weight)| {
                                let mut s = s + x * weight;
                                tamper(CheckValue::Weight { k, j }, &mut s);
                                s
                            });
                            let cell = region.assign_advice(self.acc[lane], row, *sum).cell();
                            if j + 1 == m && k < n {
                                v.push((cell, *sum));
                            }
                        }
                    }
                }
                Ok(v)
            },
        )
    }

    /// The check blocks, one per `F` tokens.
    fn lay_out_checks(
        &self,
        layouter: &mut impl Layouter<Fr>,
        claim: &ProductClaim<'_>,
        r: Value<Fr>,
        v: &[(Cell, Value<Fr>)],
        tamper: &dyn Fn(CheckValue, &mut Fr),
    ) -> Result<(), Error> {
        let (n, m) = claim.right.dims();
        let (bias, lanes) = (claim.right.bias(), self.lanes());
        if v.len() != n {
            return Err(Error::Synthesis);
        }
        let tokens = claim.tokens;
        layouter.assign_region(
            || "freivalds check",
            |mut region| {
                for block in 0..tokens.div_ceil(lanes) {
                    let base = claim.check_start + block * (m + n + 1);
                    let token = |lane: usize| Some(block * lanes + lane).filter(|&t| t < tokens);
                    self.zero_row(&mut region, base)?;
                    let mut sums = vec![Value::known(Fr::ZERO); lanes];
                    // Claims: + Σ_j (C[i][j] − b_j)·r^j.
                    let mut x = Value::known(Fr::ZERO);
                    for j in 0..m {
                        let row = base + 1 + j;
                        x = self.power(&mut region, row, j, x, r, &|_: &mut Fr| {})?;
                        self.q_claim.enable(&mut region, row)?;
                        for (lane, sum) in sums.iter_mut().enumerate() {
                            let t = token(lane);
                            let bias = t.and(bias).map_or(0, |b| b[j]);
                            let bias = fr_from_i128(bias as i128);
                            region.assign_fixed(self.coeff[lane], row, bias);
                            let c = match t {
                                Some(t) => claim.witness.as_ref().map(|w| w.products[t * m + j]),
                                None => Value::known(0),
                            };
                            *sum = sum.zip(x).zip(c).map(|((s, x), c)| {
                                let mut s = s + x * (fr_from_i128(c) - bias);
                                if let Some(token) = t {
                                    tamper(CheckValue::Claim { token, j }, &mut s);
                                }
                                s
                            });
                            region.assign_advice(self.acc[lane], row, *sum);
                        }
                    }
                    // Inputs: − Σ_k A[i][k]·v_k.
                    for (k, &(v_cell, v_k)) in v.iter().enumerate() {
                        let row = base + 1 + m + k;
                        self.q_input.enable(&mut region, row)?;
                        let copy = region.assign_advice(self.x, row, v_k).cell();
                        region.constrain_equal(copy, v_cell);
                        for (lane, sum) in sums.iter_mut().enumerate() {
                            let t = token(lane);
                            let a = match t {
                                Some(t) => claim.witness.as_ref().map(|w| w.inputs[t * n + k]),
                                None => Value::known(0),
                            };
                            *sum = sum.zip(v_k).zip(a).map(|((s, v), a)| {
                                let mut s = s - v * fr_from_i128(a);
                                if let Some(token) = t {
                                    tamper(CheckValue::Input { token, k }, &mut s);
                                }
                                s
                            });
                            region.assign_advice(self.acc[lane], row, *sum);
                        }
                    }
                    self.q_zero.enable(&mut region, base + m + n)?;
                }
                Ok(())
            },
        )
    }

    /// A block's first row: every accumulator starts at zero.
    fn zero_row(&self, region: &mut Region<'_, Fr>, row: usize) -> Result<(), Error> {
        self.q_zero.enable(region, row)?;
        for &acc in &self.acc {
            region.assign_advice(acc, row, Value::known(Fr::ZERO));
        }
        Ok(())
    }

    /// `x = r^j` on `row`, given `x` on the row before (for `j >= 1`).
    fn power(
        &self,
        region: &mut Region<'_, Fr>,
        row: usize,
        j: usize,
        prev: Value<Fr>,
        r: Value<Fr>,
        tamper: &dyn Fn(&mut Fr),
    ) -> Result<Value<Fr>, Error> {
        let x = if j == 0 {
            self.q_first.enable(region, row)?;
            Value::known(Fr::ONE)
        } else {
            self.q_power.enable(region, row)?;
            prev.zip(r).map(|(p, r)| p * r)
        }
        .map(|mut x| {
            tamper(&mut x);
            x
        });
        region.assign_advice(self.x, row, x);
        Ok(x)
    }
}

/// Rows of the check blocks: `⌈T/F⌉·(m + n + 1)`.
fn check_rows(shape: LinearShape, lanes: usize) -> usize {
    shape.tokens.div_ceil(lanes.max(1)) * (shape.out_features + shape.in_features + 1)
}

/// Gate-track rows of a layer with `lanes` lanes: the check blocks then the
/// weight blocks, `⌈T/F⌉·(m+n+1) + ⌈n/F⌉·(m+1)`.
pub fn rows_needed(shape: LinearShape, lanes: usize) -> usize {
    check_rows(shape, lanes) + shape.in_features.div_ceil(lanes.max(1)) * (shape.out_features + 1)
}

#[cfg(test)]
mod matmul_tests;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use halo2_proofs::dev::VerifyFailure;

    use super::*;
    use crate::config::ModelConfig;
    use crate::params::CircuitParams;
    use crate::testing::{
        assert_rejected, assert_values, params, verify, witness_cells, Kind, Scenario,
    };

    const TOKENS: usize = 4;
    const IN: usize = 3;
    const OUT: usize = 4;
    const WEIGHT: [i64; IN * OUT] = [1, -2, 3, 4, 0, 5, -1, 2, 7, -3, 2, -6];
    const BIAS: [i64; OUT] = [10, -20, 30, 0];
    const X: [i128; TOKENS * IN] = [3, -1, 2, -4, 0, 5, 7, 7, -7, 0, 1, -2];

    fn weights(bias: bool) -> LinearWeights<'static> {
        LinearWeights {
            in_features: IN,
            out_features: OUT,
            weight: &WEIGHT,
            bias: bias.then_some(&BIAS[..]),
        }
    }

    fn expected(bias: bool) -> Vec<i128> {
        let mut out = Vec::new();
        for t in 0..TOKENS {
            for j in 0..OUT {
                let b = if bias { BIAS[j] as i128 } else { 0 };
                out.push(
                    b + (0..IN)
                        .map(|k| X[t * IN + k] * WEIGHT[k * OUT + j] as i128)
                        .sum::<i128>(),
                );
            }
        }
        out
    }

    /// Commits `x · W + b`, rescales the claims (so their range checks
    /// run), then checks them in the second phase. `witness` rewrites the
    /// phase-0 witness, `check` forces one phase-1 value.
    #[derive(Clone)]
    struct Products {
        bias: bool,
        witness: fn(&mut ProductWitness),
        check: Option<(CheckValue, Fr)>,
    }

    fn honest(bias: bool) -> Products {
        Products {
            bias,
            witness: |_| {},
            check: None,
        }
    }

    impl Scenario for Products {
        fn run(
            &self,
            config: &ModelConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
        ) -> Result<(), Error> {
            let chip = config.freivalds.as_ref().ok_or(Error::Synthesis)?;
            let x = witness_cells(config, layouter, rows, &X)?;
            let before = rows.gate_rows();
            let weights = weights(self.bias);
            let (products, claim) =
                chip.commit_products_with(layouter, rows, &x, &weights, &self.witness)?;
            let shape = LinearShape {
                tokens: TOKENS,
                in_features: IN,
                out_features: OUT,
            };
            assert_eq!(rows.gate_rows() - before, chip.rows_needed(shape));
            config
                .rescale
                .rescale(layouter, rows, &config.range, &products)?;
            layouter.next_phase();
            let forced = self.check;
            chip.check_with(layouter, &claim, &move |at, value| {
                if let Some((pos, v)) = forced {
                    if at == pos {
                        *value = v;
                    }
                }
            })?;
            Ok(())
        }
    }

    /// `Products` whose commitments are the honest ones, checked by value.
    #[derive(Clone)]
    struct HonestValues {
        bias: bool,
    }

    impl Scenario for HonestValues {
        fn run(
            &self,
            config: &ModelConfig,
            layouter: &mut impl Layouter<Fr>,
            rows: &mut Rows,
        ) -> Result<(), Error> {
            let chip = config.freivalds.as_ref().ok_or(Error::Synthesis)?;
            let x = witness_cells(config, layouter, rows, &X)?;
            let (products, claim) =
                chip.commit_products(layouter, rows, &x, &weights(self.bias))?;
            assert_values(&products, &expected(self.bias));
            layouter.next_phase();
            chip.check(layouter, &claim)
        }
    }

    fn with_lanes(lanes: usize) -> CircuitParams {
        CircuitParams {
            freivalds_lanes: lanes,
            ..params(4, 6)
        }
    }

    /// The names of the gates that fail (and asserts nothing else does).
    fn failing_gates(result: Result<(), Vec<VerifyFailure>>) -> BTreeSet<String> {
        let failures = result.expect_err("a forged witness must not verify");
        failures
            .iter()
            .map(|f| match f {
                VerifyFailure::ConstraintNotSatisfied { constraint, .. } => {
                    let text = constraint.to_string();
                    text.split('\'').nth(1).unwrap_or(&text).to_string()
                }
                other => panic!("only gates should fail: {other}"),
            })
            .collect()
    }

    fn gates(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn honest_products_pass_for_any_number_of_lanes() {
        // 1..5 lanes: idle token lanes (3 tokens of 4 in the second block
        // with 3 lanes) and idle weight lanes (2 and 4 lanes for 3 rows).
        for lanes in 1..=5 {
            for bias in [true, false] {
                assert_eq!(
                    verify(honest(bias), with_lanes(lanes)),
                    Ok(()),
                    "{lanes} {bias}"
                );
                assert_eq!(
                    verify(HonestValues { bias }, with_lanes(lanes)),
                    Ok(()),
                    "{lanes} {bias}"
                );
            }
        }
    }

    #[test]
    fn product_off_by_one_fails_only_the_freivalds_equation() {
        // The rescale of the forged claim is honest, so its range checks
        // pass: the check's last row is what catches it.
        let forged = Products {
            witness: |w| w.products[2 * OUT + 1] += 1,
            ..honest(true)
        };
        for lanes in [1, 3, 4] {
            assert_eq!(
                failing_gates(verify(forged.clone(), with_lanes(lanes))),
                gates(&["freivalds zero"])
            );
        }
    }

    #[test]
    fn wrong_bias_fails() {
        // Every token's claim made with bias[3] = 1 instead of 0.
        let forged = Products {
            witness: |w| (0..TOKENS).for_each(|t| w.products[t * OUT + 3] += 1),
            ..honest(true)
        };
        assert_eq!(
            failing_gates(verify(forged, with_lanes(3))),
            gates(&["freivalds zero"])
        );
    }

    #[test]
    fn a_copy_of_the_activation_that_differs_fails_the_copy_constraint() {
        // Claims consistent with the forged copy: only the equality
        // constraint to the real activation cell can catch it.
        let forged = Products {
            witness: |w| {
                w.inputs[IN + 2] += 1;
                *w = ProductWitness::honest(w.inputs.clone(), &weights(true));
            },
            ..honest(true)
        };
        assert_rejected(verify(forged, with_lanes(3)), &[Kind::Copy]);
    }

    #[test]
    fn a_running_sum_forced_to_zero_fails_its_step() {
        let forged = Products {
            witness: |w| w.products[OUT] += 1,
            check: Some((
                CheckValue::Input {
                    token: 1,
                    k: IN - 1,
                },
                Fr::ZERO,
            )),
            ..honest(true)
        };
        assert_eq!(
            failing_gates(verify(forged, with_lanes(3))),
            gates(&["freivalds inputs"])
        );
    }

    #[test]
    fn forged_weight_combination_fails() {
        // v_1 off by one: its own step fails, and the checks that use it.
        let forged = Products {
            check: Some((CheckValue::Weight { k: 1, j: OUT - 1 }, Fr::from(12345u64))),
            ..honest(true)
        };
        assert_eq!(
            failing_gates(verify(forged, with_lanes(2))),
            gates(&["freivalds weights", "freivalds zero"])
        );
    }

    #[test]
    fn powers_must_be_powers_of_the_challenge() {
        for (j, value) in [(0, Fr::from(2u64)), (2, Fr::from(7u64))] {
            let forged = Products {
                check: Some((CheckValue::Power { block: 0, j }, value)),
                ..honest(true)
            };
            let failing = failing_gates(verify(forged, with_lanes(3)));
            assert!(failing.contains("freivalds powers"), "{failing:?}");
        }
    }

    #[test]
    fn second_phase_columns_and_the_challenge_exist_only_when_asked_for() {
        let cs = |params: &CircuitParams| {
            let mut cs = ConstraintSystem::<Fr>::default();
            let config = ModelConfig::configure(&mut cs, params);
            (cs, config)
        };
        let (without, config) = cs(&params(4, 6));
        assert!(config.freivalds.is_none());
        assert_eq!(without.num_challenges(), 0);
        assert_eq!(without.num_advice_columns(), 6);
        assert!(without.advice_column_phase().iter().all(|&p| p == 0));

        let (with, config) = cs(&with_lanes(3));
        assert_eq!(config.freivalds_lanes(), 3);
        assert_eq!(with.num_challenges(), 1);
        assert_eq!(with.num_advice_columns(), 6 + 4);
        assert_eq!(
            with.advice_column_phase()
                .iter()
                .filter(|&&p| p == 1)
                .count(),
            4
        );
        // The first-phase part is unchanged, and the degree too.
        assert_eq!(with.degree(), without.degree());
        assert_eq!(with.num_fixed_columns(), without.num_fixed_columns());
    }

    #[test]
    fn rows_needed_matches_the_formula() {
        let shape = LinearShape {
            tokens: TOKENS,
            in_features: IN,
            out_features: OUT,
        };
        // ⌈4/3⌉·(4+3+1) + ⌈3/3⌉·(4+1).
        assert_eq!(rows_needed(shape, 3), 2 * 8 + 5);
        assert_eq!(rows_needed(shape, 1), 4 * 8 + 3 * 5);
    }
}
