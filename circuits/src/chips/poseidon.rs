//! `PoseidonChip`: the sponge hash of [`crate::poseidon`] in the circuit
//! (width 3, `x^5`, 8 full and 57 partial rounds over BN254; the parameters
//! and their source are in [`crate::poseidon`]).
//!
//! # Constraints
//!
//! Over three state columns `x`, three aux columns `s` and three fixed
//! columns `c`, with `x'` the state on the next row, `M` the MDS matrix and
//! `t_i = x_i + c_i`:
//!
//! ```text
//! init:        q · (x_0 − c_0) = 0,  q · x_1 = 0,  q · x_2 = 0
//! absorb:      q · (x'_0 − x_0) = 0
//!              q · (x'_1 − x_1 − c_1·s_0) = 0,  q · (x'_2 − x_2 − c_2·s_1) = 0
//! full:        q · (s_i − t_i²) = 0                       i = 0, 1, 2
//!              q · (x'_i − Σ_j M_ij·s_j²·t_j) = 0
//! partial:     q · (s_0 − t_0²) = 0
//!              q · (x'_i − M_i0·s_0²·t_0 − M_i1·x_1 − M_i2·x_2) = 0
//! two partial: q · (s_0 − t_0²) = 0,         u = s_0²·t_0
//!              y = M·(u, x_1, x_2)                        (not stored)
//!              q · (s_1 − y_0 − c_1) = 0
//!              q · (s_2 − s_1²) = 0,         v = s_2²·s_1
//!              q · (x'_i − M_i0·v − M_i1·y_1 − M_i2·y_2) = 0
//! ```
//!
//! `s_j²·t_j = t_j^5` is the S-box, split so that no gate has degree above
//! 4, selector included (init 2, absorb 3, every square 3, every mix and
//! `s_1` of two partial rounds 4): the circuit keeps the extended domain of
//! the other chips.
//!
//! Two partial rounds fit one row because their round constants can be moved
//! to element 0 alone: a constant `(0, c_1, c_2)` added before a partial
//! round's S-box passes through it (the S-box only touches element 0) and
//! becomes `M·(0, c_1, c_2)` added after the mix, that is, to the next
//! round's constants. Carried forward through the 57 partial rounds, each
//! keeps one constant (`c_0` of a partial row, `c_0` and `c_1` of a
//! two-partial row) and the carry lands in the first full round after them.
//! The schedule is the same permutation; a test checks it against
//! [`crate::poseidon::permute`].
//!
//! # Layout
//!
//! One region of [`rows_needed`] gate rows, `P` = [`permutations`] blocks of
//! an absorb row and [`ROUND_ROWS`] round rows, then the output row:
//!
//! ```text
//! row 0          init + absorb   x = (iv, 0, 0), c = (iv, f_1, f_2), s = inputs
//! rows 1..=37    4 full, 1 partial, 28 two-partial, 4 full
//! row 38         absorb          x = output of permutation 1, s = next inputs
//! …
//! row 38·P       output          x_1 is the digest
//! ```
//!
//! On an absorb row `f_1`, `f_2` are 1 where an input is absorbed and 0 on
//! the padding of an odd last chunk (and on both for no input), and `s_0`,
//! `s_1` are copies of the input cells.
//!
//! # Soundness
//!
//! Every fixed cell (the IV, the flags, the round constants) and every
//! selector is in the verifying key. The init gate fixes row 0's state to
//! `(iv, 0, 0)`; each absorb gate determines the next state from the current
//! one and the inputs (each `s` cell with flag 1 is a copy of its source
//! cell, one with flag 0 drops out of the gate); each round gate determines its aux cells
//! from the state (`s_1` of two partial rounds from `s_0`, `s_2` from `s_1`)
//! and the next state from both. So by induction every state cell, the
//! digest among them, is the value [`crate::poseidon::hash`] computes from
//! the IV and the inputs: no other witness satisfies the gates. The aux cells
//! no gate names (`s_1`, `s_2` of a partial row, `s_2` of an absorb row) are
//! read by nothing. The gates only reach the next row, and the last row with
//! a selector is the one before the output row, so they never read a row
//! outside the region.
//!
//! # Cost
//!
//! [`ROWS_PER_PERMUTATION`] = 38 rows of 6 advice and 3 fixed cells per
//! permutation (37 round rows and an absorb row, against 65 with one round a
//! row), plus one output row: `38·⌈n/2⌉ + 1` rows for `n ≥ 1` inputs, 39
//! for none.

use std::sync::OnceLock;

use halo2_proofs::circuit::{Cell, Layouter, Region, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector, VirtualCells,
};
use halo2_proofs::poly::Rotation;
use halo2curves::bn256::Fr;
use halo2curves::ff::Field;

use crate::cell::FieldCell;
use crate::poseidon::{
    is_full_round, params, permutations, FULL_ROUNDS, PARTIAL_ROUNDS, RATE, WIDTH,
};
use crate::rows::Rows;

/// Round rows per permutation: the full rounds, one partial round alone and
/// the other 56 two to a row.
pub const ROUND_ROWS: usize = FULL_ROUNDS + 1 + (PARTIAL_ROUNDS - 1) / 2;

/// Rows per permutation: its round rows and its absorb row.
pub const ROWS_PER_PERMUTATION: usize = ROUND_ROWS + 1;

/// Gate rows [`PoseidonChip::hash`] takes for `inputs` inputs.
pub fn rows_needed(inputs: usize) -> usize {
    permutations(inputs) * ROWS_PER_PERMUTATION + 1
}

/// One round row and its constants.
#[derive(Clone, Copy, Debug)]
enum Step {
    Full([Fr; WIDTH]),
    Partial(Fr),
    TwoPartial(Fr, Fr),
}

/// The round rows of one permutation, with the partial rounds' constants
/// moved to element 0 (see the module doc).
fn schedule() -> &'static [Step] {
    static SCHEDULE: OnceLock<Vec<Step>> = OnceLock::new();
    SCHEDULE.get_or_init(|| {
        let p = params();
        let mut carry = [Fr::ZERO; WIDTH];
        let mut full = Vec::new();
        let mut partial = Vec::new();
        for (r, c) in p.round_constants.iter().enumerate() {
            let c: [Fr; WIDTH] = std::array::from_fn(|i| c[i] + carry[i]);
            if is_full_round(r) {
                full.push(Step::Full(c));
                carry = [Fr::ZERO; WIDTH];
            } else {
                partial.push(c[0]);
                carry = p.mix(&[Fr::ZERO, c[1], c[2]]);
            }
        }
        let (first, rest) = partial.split_first().expect("partial rounds");
        let mut steps = full[..FULL_ROUNDS / 2].to_vec();
        steps.push(Step::Partial(*first));
        steps.extend(rest.chunks(2).map(|k| Step::TwoPartial(k[0], k[1])));
        steps.extend_from_slice(&full[FULL_ROUNDS / 2..]);
        debug_assert_eq!(steps.len(), ROUND_ROWS);
        steps
    })
}

/// `M · y` over expressions.
fn mix_expr(y: &[Expression<Fr>; WIDTH]) -> [Expression<Fr>; WIDTH] {
    params().mds.map(|row| {
        row.iter()
            .zip(y)
            .map(|(m, y)| Expression::Constant(*m) * y.clone())
            .reduce(|a, b| a + b)
            .expect("width > 0")
    })
}

#[derive(Clone, Debug)]
pub struct PoseidonChip {
    state: [Column<Advice>; WIDTH],
    aux: [Column<Advice>; WIDTH],
    rc: [Column<Fixed>; WIDTH],
    init: Selector,
    absorb: Selector,
    full: Selector,
    partial: Selector,
    two_partial: Selector,
}

impl PoseidonChip {
    /// Gates over shared columns, each behind its own selector. The caller
    /// enables equality on `state` and `aux` (inputs are copied into `aux`,
    /// the digest out of `state`).
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        state: [Column<Advice>; WIDTH],
        aux: [Column<Advice>; WIDTH],
        rc: [Column<Fixed>; WIDTH],
    ) -> Self {
        let chip = PoseidonChip {
            state,
            aux,
            rc,
            init: meta.selector(),
            absorb: meta.selector(),
            full: meta.selector(),
            partial: meta.selector(),
            two_partial: meta.selector(),
        };
        let cells = |meta: &mut VirtualCells<'_, Fr>| {
            let x = state.map(|c| meta.query_advice(c, Rotation::cur()));
            let next = state.map(|c| meta.query_advice(c, Rotation::next()));
            let s = aux.map(|c| meta.query_advice(c, Rotation::cur()));
            let c = rc.map(|c| meta.query_fixed(c, Rotation::cur()));
            (x, next, s, c)
        };

        meta.create_gate("poseidon init", |meta| {
            let q = meta.query_selector(chip.init);
            let (x, _, _, c) = cells(meta);
            let [x0, x1, x2] = x;
            vec![q.clone() * (x0 - c[0].clone()), q.clone() * x1, q * x2]
        });

        meta.create_gate("poseidon absorb", |meta| {
            let q = meta.query_selector(chip.absorb);
            let (x, next, s, c) = cells(meta);
            vec![
                q.clone() * (next[0].clone() - x[0].clone()),
                q.clone() * (next[1].clone() - x[1].clone() - c[1].clone() * s[0].clone()),
                q * (next[2].clone() - x[2].clone() - c[2].clone() * s[1].clone()),
            ]
        });

        meta.create_gate("poseidon full round", |meta| {
            let q = meta.query_selector(chip.full);
            let (x, next, s, c) = cells(meta);
            let t: [_; WIDTH] = std::array::from_fn(|i| x[i].clone() + c[i].clone());
            let y = std::array::from_fn(|i| s[i].clone() * s[i].clone() * t[i].clone());
            let squares = (0..WIDTH).map(|i| s[i].clone() - t[i].clone() * t[i].clone());
            let mixes = mix_expr(&y).into_iter().zip(next).map(|(m, n)| n - m);
            squares
                .chain(mixes)
                .map(|e| q.clone() * e)
                .collect::<Vec<_>>()
        });

        meta.create_gate("poseidon partial round", |meta| {
            let q = meta.query_selector(chip.partial);
            let (x, next, s, c) = cells(meta);
            let t = x[0].clone() + c[0].clone();
            let u = s[0].clone() * s[0].clone() * t.clone();
            let square = s[0].clone() - t.clone() * t;
            let [_, x1, x2] = x;
            let mixes = mix_expr(&[u, x1, x2])
                .into_iter()
                .zip(next)
                .map(|(m, n)| n - m);
            std::iter::once(square)
                .chain(mixes)
                .map(|e| q.clone() * e)
                .collect::<Vec<_>>()
        });

        meta.create_gate("poseidon two partial rounds", |meta| {
            let q = meta.query_selector(chip.two_partial);
            let (x, next, s, c) = cells(meta);
            let [s0, s1, s2] = s;
            let t = x[0].clone() + c[0].clone();
            let u = s0.clone() * s0.clone() * t.clone();
            let [_, x1, x2] = x;
            let [y0, y1, y2] = mix_expr(&[u, x1, x2]);
            let v = s2.clone() * s2.clone() * s1.clone();
            let mut constraints = vec![
                s0 - t.clone() * t,
                s1.clone() - y0 - c[1].clone(),
                s2 - s1.clone() * s1,
            ];
            constraints.extend(
                mix_expr(&[v, y1, y2])
                    .into_iter()
                    .zip(next)
                    .map(|(m, n)| n - m),
            );
            constraints
                .into_iter()
                .map(|e| q.clone() * e)
                .collect::<Vec<_>>()
        });

        chip
    }

    /// The sponge hash of `inputs` from `iv`, as [`crate::poseidon::hash`]:
    /// the cell holding the digest.
    pub fn hash(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        iv: Fr,
        inputs: &[FieldCell],
    ) -> Result<FieldCell, Error> {
        self.hash_with(layouter, rows, iv, inputs, &|_, _, _| {})
    }

    /// [`Self::hash`] where `tamper(row, column, value)` may rewrite an
    /// advice cell before it is assigned, `row` counted from the region's
    /// first row, `column` 0..3 for the state and 3..6 for the aux columns
    /// (tests forge witnesses with it). Later cells are computed from the
    /// rewritten value, so only the constraints that read it can fail.
    pub(crate) fn hash_with(
        &self,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
        iv: Fr,
        inputs: &[FieldCell],
        tamper: &dyn Fn(usize, usize, &mut Fr),
    ) -> Result<FieldCell, Error> {
        let start = rows.take_gate(rows_needed(inputs.len()));
        layouter.assign_region(
            || "poseidon",
            |mut region| {
                let mut layout = Assign {
                    chip: self,
                    region: &mut region,
                    start,
                    tamper,
                };
                layout.enable(self.init, 0)?;
                let zero = Value::known(Fr::ZERO);
                let mut x = layout.state(0, [Value::known(iv), zero, zero]);
                let mut chunks = inputs.chunks(RATE);
                for p in 0..permutations(inputs.len()) {
                    let at = p * ROWS_PER_PERMUTATION;
                    let rc0 = if p == 0 { iv } else { Fr::ZERO };
                    let chunk = chunks.next().unwrap_or(&[]);
                    x = layout.absorb(at, rc0, x, chunk)?;
                    for (i, step) in schedule().iter().enumerate() {
                        x = layout.round(at + 1 + i, x, step)?;
                    }
                }
                Ok(FieldCell {
                    cell: x[1].1,
                    value: x[1].0,
                })
            },
        )
    }
}

/// An assigned advice cell: its value and where it is.
type AdviceCell = (Value<Fr>, Cell);

/// `M · y` over witness values.
fn mix_values(y: [Value<Fr>; WIDTH]) -> [Value<Fr>; WIDTH] {
    let mixed = y[0]
        .zip(y[1])
        .zip(y[2])
        .map(|((a, b), c)| params().mix(&[a, b, c]));
    std::array::from_fn(|i| mixed.map(|m| m[i]))
}

/// `a² · b`: the second half of the S-box, `a` being the square of `b`.
fn square_times(a: Value<Fr>, b: Value<Fr>) -> Value<Fr> {
    a * a * b
}

/// The assignment of one hash's region, rows counted from its first.
struct Assign<'a, 'r> {
    chip: &'a PoseidonChip,
    region: &'a mut Region<'r, Fr>,
    start: usize,
    tamper: &'a dyn Fn(usize, usize, &mut Fr),
}

impl Assign<'_, '_> {
    fn enable(&mut self, selector: Selector, row: usize) -> Result<(), Error> {
        selector.enable(self.region, self.start + row)
    }

    fn fixed(&mut self, row: usize, values: [Fr; WIDTH]) {
        for (&col, v) in self.chip.rc.iter().zip(values) {
            self.region.assign_fixed(col, self.start + row, v);
        }
    }

    /// Assigns advice `column` (0..3 the state, 3..6 the aux columns) at
    /// `row`, through the tamper hook.
    fn advice(&mut self, row: usize, column: usize, value: Value<Fr>) -> AdviceCell {
        let col = if column < WIDTH {
            self.chip.state[column]
        } else {
            self.chip.aux[column - WIDTH]
        };
        let value = value.map(|mut v| {
            (self.tamper)(row, column, &mut v);
            v
        });
        let cell = self
            .region
            .assign_advice(col, self.start + row, value)
            .cell();
        (value, cell)
    }

    fn aux(&mut self, row: usize, i: usize, value: Value<Fr>) -> Value<Fr> {
        self.advice(row, WIDTH + i, value).0
    }

    fn state(&mut self, row: usize, x: [Value<Fr>; WIDTH]) -> [AdviceCell; WIDTH] {
        std::array::from_fn(|i| self.advice(row, i, x[i]))
    }

    /// The absorb row `row` (state `x`, already assigned) and the next
    /// row's state.
    fn absorb(
        &mut self,
        row: usize,
        rc0: Fr,
        x: [AdviceCell; WIDTH],
        chunk: &[FieldCell],
    ) -> Result<[AdviceCell; WIDTH], Error> {
        self.enable(self.chip.absorb, row)?;
        let flag = |k: usize| Fr::from(u64::from(k < chunk.len()));
        self.fixed(row, [rc0, flag(0), flag(1)]);
        let mut next = x.map(|(v, _)| v);
        for k in 0..RATE {
            match chunk.get(k) {
                Some(input) => {
                    let (m, cell) = self.advice(row, WIDTH + k, input.value);
                    self.region.constrain_equal(cell, input.cell);
                    next[k + 1] = next[k + 1] + m;
                }
                // Padding: the flag is 0 and the gate ignores the cell.
                None => {
                    self.advice(row, WIDTH + k, Value::known(Fr::ZERO));
                }
            }
        }
        Ok(self.state(row + 1, next))
    }

    /// The round row `row` (state `x`, already assigned) and the next row's
    /// state.
    fn round(
        &mut self,
        row: usize,
        x: [AdviceCell; WIDTH],
        step: &Step,
    ) -> Result<[AdviceCell; WIDTH], Error> {
        let x = x.map(|(v, _)| v);
        let next = match *step {
            Step::Full(c) => {
                self.enable(self.chip.full, row)?;
                self.fixed(row, c);
                let y = std::array::from_fn(|i| {
                    let t = x[i].map(|x| x + c[i]);
                    let s = self.aux(row, i, t * t);
                    square_times(s, t)
                });
                mix_values(y)
            }
            Step::Partial(a) => {
                self.enable(self.chip.partial, row)?;
                self.fixed(row, [a, Fr::ZERO, Fr::ZERO]);
                let t = x[0].map(|x| x + a);
                let s0 = self.aux(row, 0, t * t);
                mix_values([square_times(s0, t), x[1], x[2]])
            }
            Step::TwoPartial(a, b) => {
                self.enable(self.chip.two_partial, row)?;
                self.fixed(row, [a, b, Fr::ZERO]);
                let t = x[0].map(|x| x + a);
                let s0 = self.aux(row, 0, t * t);
                let y = mix_values([square_times(s0, t), x[1], x[2]]);
                let s1 = self.aux(row, 1, y[0].map(|y| y + b));
                let s2 = self.aux(row, 2, s1 * s1);
                mix_values([square_times(s2, s1), y[1], y[2]])
            }
        };
        Ok(self.state(row + 1, next))
    }
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::SimpleFloorPlanner;
    use halo2_proofs::dev::{MockProver, VerifyFailure};
    use halo2_proofs::plonk::{Circuit, Instance};
    use rand::SeedableRng;

    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::poseidon::{hash, permute};
    use crate::testing::{assert_rejected, Kind};

    const K: u32 = 8;

    /// A circuit with the chip alone: the inputs are unconstrained cells
    /// of their own column (as if produced by other chips), the digest is
    /// copied to instance row 0.
    #[derive(Clone)]
    struct HashCircuit {
        iv: Fr,
        inputs: Vec<Fr>,
        /// `(row, column, delta)`: add `delta` to those cells of the region.
        forge: Vec<(usize, usize, Fr)>,
        /// The digest the synthesis computed.
        digest: Arc<Mutex<Option<Fr>>>,
    }

    #[derive(Clone, Debug)]
    struct TestConfig {
        chip: PoseidonChip,
        input: Column<Advice>,
        instance: Column<Instance>,
    }

    impl Circuit<Fr> for HashCircuit {
        type Config = TestConfig;
        type FloorPlanner = SimpleFloorPlanner;
        type Params = ();

        fn without_witnesses(&self) -> Self {
            self.clone()
        }

        fn configure(meta: &mut ConstraintSystem<Fr>) -> TestConfig {
            let mut advice = || {
                let column = meta.advice_column();
                meta.enable_equality(column);
                column
            };
            let state = [advice(), advice(), advice()];
            let aux = [advice(), advice(), advice()];
            let input = advice();
            let rc = [
                meta.fixed_column(),
                meta.fixed_column(),
                meta.fixed_column(),
            ];
            let instance = meta.instance_column();
            meta.enable_equality(instance);
            TestConfig {
                chip: PoseidonChip::configure(meta, state, aux, rc),
                input,
                instance,
            }
        }

        fn synthesize(
            &self,
            config: TestConfig,
            mut layouter: impl Layouter<Fr>,
        ) -> Result<(), Error> {
            let mut rows = Rows::default();
            let at = rows.take_gate(self.inputs.len());
            let cells = layouter.assign_region(
                || "inputs",
                |mut region| {
                    Ok(self
                        .inputs
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| FieldCell {
                            cell: region
                                .assign_advice(config.input, at + i, Value::known(v))
                                .cell(),
                            value: Value::known(v),
                        })
                        .collect::<Vec<_>>())
                },
            )?;
            let tamper = |row: usize, column: usize, v: &mut Fr| {
                for &(r, c, delta) in &self.forge {
                    if (r, c) == (row, column) {
                        *v += delta;
                    }
                }
            };
            let before = rows.gate_rows();
            let digest =
                config
                    .chip
                    .hash_with(&mut layouter, &mut rows, self.iv, &cells, &tamper)?;
            assert_eq!(rows.gate_rows() - before, rows_needed(self.inputs.len()));
            digest.value.map(|d| *self.digest.lock().unwrap() = Some(d));
            if self.forge.is_empty() {
                digest
                    .value
                    .assert_if_known(|&d| d == hash(self.iv, &self.inputs));
            }
            layouter.constrain_instance(digest.cell, config.instance, 0);
            Ok(())
        }
    }

    fn inputs(n: usize) -> Vec<Fr> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(n as u64);
        (0..n).map(|_| Fr::random(&mut rng)).collect()
    }

    fn iv(n: usize) -> Fr {
        Fr::from((3u64 << 32) + n as u64)
    }

    fn honest(n: usize) -> HashCircuit {
        HashCircuit {
            iv: iv(n),
            inputs: inputs(n),
            forge: Vec::new(),
            digest: Arc::default(),
        }
    }

    fn run(circuit: &HashCircuit, instance: Fr) -> Result<(), Vec<VerifyFailure>> {
        MockProver::run(K, circuit, vec![vec![instance]])
            .expect("the test circuit synthesizes")
            .verify()
    }

    /// `circuit` checked against the native digest of its honest inputs.
    fn run_honest_instance(circuit: &HashCircuit) -> Result<(), Vec<VerifyFailure>> {
        run(circuit, hash(circuit.iv, &circuit.inputs))
    }

    /// `circuit` checked against the digest its own (forged) witness
    /// computes, as a cheating prover would claim it: the instance copy
    /// holds, so only the constraint the forgery breaks can fail.
    fn run_claiming_own_digest(circuit: &HashCircuit) -> Result<(), Vec<VerifyFailure>> {
        let _ = run(circuit, Fr::ZERO);
        let claimed = circuit.digest.lock().unwrap().expect("synthesized");
        run(circuit, claimed)
    }

    fn forged(n: usize, row: usize, column: usize) -> HashCircuit {
        HashCircuit {
            forge: vec![(row, column, Fr::ONE)],
            ..honest(n)
        }
    }

    #[test]
    fn the_schedule_is_the_permutation() {
        // The moved constants against the reference round structure,
        // natively and without the circuit.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for _ in 0..4 {
            let start: [Fr; WIDTH] = std::array::from_fn(|_| Fr::random(&mut rng));
            let mut want = start;
            permute(&mut want);
            let x = start.map(Value::known);
            let mut got = x;
            for step in schedule() {
                got = native_round(got, step);
            }
            for (g, w) in got.iter().zip(want) {
                g.assert_if_known(|&g| g == w);
            }
        }
    }

    /// One round row off-circuit, with the same formulas as the witness.
    fn native_round(x: [Value<Fr>; WIDTH], step: &Step) -> [Value<Fr>; WIDTH] {
        match *step {
            Step::Full(c) => mix_values(std::array::from_fn(|i| {
                let t = x[i].map(|x| x + c[i]);
                square_times(t * t, t)
            })),
            Step::Partial(a) => {
                let t = x[0].map(|x| x + a);
                mix_values([square_times(t * t, t), x[1], x[2]])
            }
            Step::TwoPartial(a, b) => {
                let t = x[0].map(|x| x + a);
                let y = mix_values([square_times(t * t, t), x[1], x[2]]);
                let s1 = y[0].map(|y| y + b);
                mix_values([square_times(s1 * s1, s1), y[1], y[2]])
            }
        }
    }

    #[test]
    fn the_digest_is_the_native_hash() {
        for n in [0, 1, 2, 3, 4, 7] {
            assert_eq!(run_honest_instance(&honest(n)), Ok(()), "{n} inputs");
        }
    }

    #[test]
    fn the_layout_takes_exactly_rows_needed() {
        // synthesize asserts the rows taken; here the formula itself.
        assert_eq!(ROUND_ROWS, 37);
        assert_eq!(rows_needed(0), 39);
        assert_eq!(rows_needed(1), 39);
        assert_eq!(rows_needed(2), 39);
        assert_eq!(rows_needed(3), 77);
        assert_eq!(rows_needed(7), 153);
        for n in [0, 5] {
            assert_eq!(run_honest_instance(&honest(n)), Ok(()), "{n} inputs");
        }
    }

    #[test]
    fn every_gate_has_degree_at_most_four() {
        let mut cs = ConstraintSystem::<Fr>::default();
        HashCircuit::configure(&mut cs);
        let mut max = 0;
        for gate in cs.gates() {
            for poly in gate.polynomials() {
                assert!(
                    poly.degree() <= 4,
                    "{}: degree {}",
                    gate.name(),
                    poly.degree()
                );
                max = max.max(poly.degree());
            }
        }
        assert_eq!(max, 4);
    }

    #[test]
    fn a_wrong_digest_is_rejected() {
        let circuit = honest(3);
        let digest = hash(circuit.iv, &circuit.inputs);
        assert_rejected(run(&circuit, digest + Fr::ONE), &[Kind::Copy]);
    }

    #[test]
    fn the_digest_depends_on_the_iv_and_every_input() {
        let circuit = honest(3);
        let digest = hash(circuit.iv, &circuit.inputs);
        let other_iv = HashCircuit {
            iv: circuit.iv + Fr::ONE,
            ..circuit.clone()
        };
        assert_rejected(run(&other_iv, digest), &[Kind::Copy]);
        for i in 0..3 {
            let mut changed = circuit.clone();
            changed.inputs[i] += Fr::ONE;
            assert_rejected(run(&changed, digest), &[Kind::Copy]);
        }
    }

    #[test]
    fn a_forged_state_cell_is_rejected() {
        // Row 0 (the IV), the state after absorbing, inside each kind of
        // round row (full: rows 1..=4, partial: 5, two partial: 6..=33),
        // and the digest itself (row 38·2 for three inputs).
        for (row, column) in [
            (0, 0),
            (0, 1),
            (1, 2),
            (3, 0),
            (6, 1),
            (20, 2),
            (36, 0),
            (39, 1),
            (76, 1),
        ] {
            let circuit = forged(3, row, column);
            assert_rejected(run_claiming_own_digest(&circuit), &[Kind::Gate]);
        }
    }

    #[test]
    fn a_forged_digest_matching_the_instance_is_rejected() {
        let circuit = forged(3, rows_needed(3) - 1, 1);
        let digest = hash(circuit.iv, &circuit.inputs) + Fr::ONE;
        assert_rejected(run(&circuit, digest), &[Kind::Gate]);
    }

    #[test]
    fn a_forged_aux_cell_is_rejected() {
        // s_0..s_2 of a full row, s_0 of the partial row, s_0..s_2 of a
        // two-partial row, in the first and the second permutation.
        for (row, column) in [
            (1, 3),
            (2, 5),
            (5, 3),
            (6, 3),
            (6, 4),
            (6, 5),
            (40, 4),
            (70, 5),
        ] {
            let circuit = forged(3, row, column);
            assert_rejected(run_claiming_own_digest(&circuit), &[Kind::Gate]);
        }
    }

    #[test]
    fn a_forged_input_copy_is_rejected() {
        // The copies of inputs 0, 1 and 2 on the two absorb rows.
        for (row, column) in [(0, 3), (0, 4), (ROWS_PER_PERMUTATION, 3)] {
            let circuit = forged(3, row, column);
            assert_rejected(run_claiming_own_digest(&circuit), &[Kind::Copy]);
        }
    }

    #[test]
    fn padding_is_not_an_input() {
        // A prover who puts a value in the padding cell of an odd last
        // chunk (or of the empty message) and adds it to the state as if
        // it were absorbed: the zero flag leaves it out of the gate.
        let delta = Fr::from(5u64);
        for (n, row) in [(0, 0), (1, 0), (3, ROWS_PER_PERMUTATION)] {
            let mut circuit = honest(n);
            let slot = if n == 0 { 0 } else { 1 };
            circuit.forge = vec![(row, WIDTH + slot, delta), (row + 1, 1 + slot, delta)];
            assert_rejected(run_claiming_own_digest(&circuit), &[Kind::Gate]);
        }
    }
}
