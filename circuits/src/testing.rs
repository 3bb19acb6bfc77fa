//! Test harness: a circuit with the full [`ModelConfig`] that runs one
//! scenario, so each chip is tested in the same shared-column configuration
//! the compiler uses.

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::dev::{MockProver, VerifyFailure};
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};
use halo2curves::bn256::Fr;

use crate::cell::QCell;
use crate::config::ModelConfig;
use crate::params::CircuitParams;
use crate::rows::Rows;

/// What a test circuit lays out after the range table is loaded.
pub(crate) trait Scenario: Clone {
    fn run(
        &self,
        config: &ModelConfig,
        layouter: &mut impl Layouter<Fr>,
        rows: &mut Rows,
    ) -> Result<(), Error>;
}

#[derive(Clone)]
pub(crate) struct Harness<S> {
    scenario: S,
    params: CircuitParams,
}

impl<S: Scenario> Circuit<Fr> for Harness<S> {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitParams;

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn params(&self) -> CircuitParams {
        self.params.clone()
    }

    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        params: CircuitParams,
    ) -> ModelConfig {
        ModelConfig::configure(meta, &params)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> ModelConfig {
        ModelConfig::configure(meta, &CircuitParams::default())
    }

    fn synthesize(
        &self,
        config: ModelConfig,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        config.range.load_table(&mut layouter)?;
        let mut rows = Rows::default();
        self.scenario.run(&config, &mut layouter, &mut rows)
    }
}

/// Small parameters: `2^10` rows, scale 4 bits, activations 10 bits.
pub(crate) fn params(lookup_bits: u32, advice_columns: usize) -> CircuitParams {
    CircuitParams {
        k: 10,
        lookup_bits,
        advice_columns,
        scale_bits: 4,
        activation_bits: 10,
        freivalds_lanes: 0,
        nonlinear: false,
        range_lanes: 1,
        packed_public: false,
        ..CircuitParams::default()
    }
}

/// Runs `scenario` in MockProver with an empty instance column.
pub(crate) fn verify<S: Scenario>(
    scenario: S,
    params: CircuitParams,
) -> Result<(), Vec<VerifyFailure>> {
    verify_with_instances(scenario, params, vec![])
}

/// Runs `scenario` in MockProver with `instances` in the instance column.
pub(crate) fn verify_with_instances<S: Scenario>(
    scenario: S,
    params: CircuitParams,
    instances: Vec<Fr>,
) -> Result<(), Vec<VerifyFailure>> {
    let k = params.k;
    MockProver::run(k, &Harness { scenario, params }, vec![instances])
        .expect("the test circuit synthesizes")
        .verify()
}

/// Unconstrained advice cells holding `values`: the inputs a chip under test
/// receives (as if produced by earlier chips).
pub(crate) fn witness_cells(
    config: &ModelConfig,
    layouter: &mut impl Layouter<Fr>,
    rows: &mut Rows,
    values: &[i128],
) -> Result<Vec<QCell>, Error> {
    let column = config.columns.gate()[0];
    let start = rows.take_gate(values.len());
    layouter.assign_region(
        || "test inputs",
        |mut region| {
            Ok(values
                .iter()
                .enumerate()
                .map(|(i, &v)| QCell::assign(&mut region, column, start + i, Value::known(v)))
                .collect())
        },
    )
}

/// Asserts every cell's value equals `expected` (when known).
pub(crate) fn assert_values(cells: &[QCell], expected: &[i128]) {
    assert_eq!(cells.len(), expected.len());
    for (cell, &want) in cells.iter().zip(expected) {
        cell.value.assert_if_known(|&v| v == want);
    }
}

/// The kind of constraint a failure violates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Gate,
    Lookup,
    Copy,
    Other,
}

/// Asserts the circuit was rejected, and only by constraints of `kinds`.
pub(crate) fn assert_rejected(result: Result<(), Vec<VerifyFailure>>, kinds: &[Kind]) {
    let failures = result.expect_err("a forged witness must not verify");
    let mut seen: Vec<Kind> = failures
        .iter()
        .map(|f| match f {
            VerifyFailure::ConstraintNotSatisfied { .. } => Kind::Gate,
            VerifyFailure::Lookup { .. } => Kind::Lookup,
            VerifyFailure::Permutation { .. } => Kind::Copy,
            _ => Kind::Other,
        })
        .collect();
    seen.sort();
    seen.dedup();
    let mut want = kinds.to_vec();
    want.sort();
    assert_eq!(seen, want, "failures: {failures:#?}");
}

/// A small model with every op: `x [2, 4]`, `y [6]` →
/// Linear(4→6) → Relu → Linear(6→3, no bias) → Reshape [6] → AddConst →
/// ConstSub → Mul (by the reshaped tensor) → MulConst → Add `y` → Sub the
/// reshaped tensor. Outputs: the last tensor and the second Linear's output.
/// Scale 4 bits, activations 12 bits; weights in `[−8, 8]` (±0.5).
pub(crate) fn test_model() -> zkinfer_quantizer::QuantizedModel {
    use rand::{Rng, SeedableRng};
    use zkinfer_quantizer::{Node, Op, QuantizedModel, TensorInfo};

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut ints = |n: usize, bound: i64| -> Vec<i64> {
        (0..n).map(|_| rng.gen_range(-bound..=bound)).collect()
    };
    let tensor = |name: &str, shape: &[usize]| TensorInfo {
        name: name.to_string(),
        shape: shape.to_vec(),
        calibrated_max_abs: 1.0,
    };
    let node = |name: &str, op: Op, inputs: Vec<usize>, output: usize| Node {
        name: name.to_string(),
        onnx_op: op.kind().to_string(),
        op,
        inputs,
        output,
    };
    QuantizedModel {
        name: "every-op".into(),
        scale_bits: 4,
        activation_bits: 12,
        tensors: vec![
            tensor("x", &[2, 4]),
            tensor("y", &[6]),
            tensor("h1", &[2, 6]),
            tensor("h2", &[2, 6]),
            tensor("h3", &[2, 3]),
            tensor("h4", &[6]),
            tensor("h5", &[6]),
            tensor("h6", &[6]),
            tensor("h7", &[6]),
            tensor("h8", &[6]),
            tensor("h9", &[6]),
            tensor("h10", &[6]),
        ],
        inputs: vec![0, 1],
        outputs: vec![11, 4],
        nodes: vec![
            node(
                "fc1",
                Op::Linear {
                    in_features: 4,
                    out_features: 6,
                    weight: ints(24, 8),
                    bias: Some(ints(6, 64)),
                },
                vec![0],
                2,
            ),
            node("relu", Op::Relu, vec![2], 3),
            node(
                "fc2",
                Op::Linear {
                    in_features: 6,
                    out_features: 3,
                    weight: ints(18, 8),
                    bias: None,
                },
                vec![3],
                4,
            ),
            node("flatten", Op::Reshape, vec![4], 5),
            node(
                "shift",
                Op::AddConst {
                    constant: ints(6, 32),
                },
                vec![5],
                6,
            ),
            node(
                "flip",
                Op::ConstSub {
                    constant: ints(6, 32),
                },
                vec![6],
                7,
            ),
            node("square", Op::Mul, vec![7, 5], 8),
            node(
                "scale",
                Op::MulConst {
                    constant: ints(6, 16),
                },
                vec![8],
                9,
            ),
            node("skip", Op::Add, vec![9, 1], 10),
            node("diff", Op::Sub, vec![10, 5], 11),
        ],
    }
}

/// Inputs for [`test_model`]: values in `[−16, 16]` (±1.0).
pub(crate) fn test_inputs(seed: u64) -> Vec<Vec<i64>> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    vec![
        (0..8).map(|_| rng.gen_range(-16..=16)).collect(),
        (0..6).map(|_| rng.gen_range(-16..=16)).collect(),
    ]
}

/// `x [1, d_in]` → Linear → Relu → Linear → `[1, d_out]`, scale 8 bits,
/// activations 20 bits, weights in `[−32, 32]` (±0.125), inputs from `seed`.
pub(crate) fn mlp(
    d_in: usize,
    d_hidden: usize,
    d_out: usize,
    seed: u64,
) -> (zkinfer_quantizer::QuantizedModel, Vec<Vec<i64>>) {
    use rand::{Rng, SeedableRng};
    use zkinfer_quantizer::{Node, Op, QuantizedModel, TensorInfo};

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut ints = |n: usize, bound: i64| -> Vec<i64> {
        (0..n).map(|_| rng.gen_range(-bound..=bound)).collect()
    };
    let tensor = |name: &str, shape: Vec<usize>| TensorInfo {
        name: name.into(),
        shape,
        calibrated_max_abs: 1.0,
    };
    let node = |name: &str, op: Op, input: usize, output: usize| Node {
        name: name.into(),
        onnx_op: op.kind().into(),
        op,
        inputs: vec![input],
        output,
    };
    let model = QuantizedModel {
        name: "mlp".into(),
        scale_bits: 8,
        activation_bits: 20,
        tensors: vec![
            tensor("x", vec![1, d_in]),
            tensor("h", vec![1, d_hidden]),
            tensor("r", vec![1, d_hidden]),
            tensor("y", vec![1, d_out]),
        ],
        inputs: vec![0],
        outputs: vec![3],
        nodes: vec![
            node(
                "fc1",
                Op::Linear {
                    in_features: d_in,
                    out_features: d_hidden,
                    weight: ints(d_in * d_hidden, 32),
                    bias: Some(ints(d_hidden, 1 << 12)),
                },
                0,
                1,
            ),
            node("relu", Op::Relu, 1, 2),
            node(
                "fc2",
                Op::Linear {
                    in_features: d_hidden,
                    out_features: d_out,
                    weight: ints(d_hidden * d_out, 32),
                    bias: None,
                },
                2,
                3,
            ),
        ],
    };
    let inputs = vec![ints(d_in, 256)];
    (model, inputs)
}
