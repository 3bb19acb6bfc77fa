//! Whole-model tests of multi-token linear layers: the Freivalds layout
//! through the graph compiler, the planner's choice of it, and a real
//! proof, so the challenge path runs through halo2-axiom's prover (which
//! commits the first phase mid-synthesis) and not only MockProver.

use std::sync::Arc;

use halo2_proofs::dev::{MockProver, VerifyFailure};
use halo2_proofs::plonk::Circuit;
use halo2curves::bn256::Fr;
use halo2curves::ff::Field;
use rand::{Rng, SeedableRng};
use zkinfer_quantizer::{Node, Op, QuantizedModel, TensorInfo};

use crate::compiler::ModelCircuit;
use crate::linear_layout::{self, LinearLayout};
use crate::measure::measure;
use crate::params::CircuitParams;
use crate::params::Visibility;
use crate::plan::{plan_with, Layouts};
use crate::rows::LinearShape;
use crate::testing::{assert_rejected, Kind};

/// `x [tokens, d_in]` → Linear(d_in→d_hidden, bias) → Relu →
/// Linear(d_hidden→d_out, no bias) → `[tokens, d_out]`. Scale 4 bits,
/// activations 12 bits, weights in `[−8, 8]`, inputs in `[−16, 16]`.
fn mlp(
    tokens: usize,
    d_in: usize,
    d_hidden: usize,
    d_out: usize,
) -> (QuantizedModel, Vec<Vec<i64>>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut ints = |n: usize, bound: i64| -> Vec<i64> {
        (0..n).map(|_| rng.gen_range(-bound..=bound)).collect()
    };
    let tensor = |name: &str, width: usize| TensorInfo {
        name: name.into(),
        shape: vec![tokens, width],
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
        name: "multi-token mlp".into(),
        scale_bits: 4,
        activation_bits: 12,
        tensors: vec![
            tensor("x", d_in),
            tensor("h", d_hidden),
            tensor("r", d_hidden),
            tensor("y", d_out),
        ],
        inputs: vec![0],
        outputs: vec![3],
        nodes: vec![
            node(
                "fc1",
                Op::Linear {
                    in_features: d_in,
                    out_features: d_hidden,
                    weight: ints(d_in * d_hidden, 8),
                    bias: Some(ints(d_hidden, 64)),
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
                    weight: ints(d_hidden * d_out, 8),
                    bias: None,
                },
                2,
                3,
            ),
        ],
    };
    let inputs = vec![ints(tokens * d_in, 16)];
    (model, inputs)
}

fn mock<C: Circuit<Fr>>(k: u32, circuit: &C, instances: Vec<Fr>) -> Result<(), Vec<VerifyFailure>> {
    MockProver::run(k, circuit, vec![instances])
        .expect("synthesis succeeds")
        .verify()
}

/// 5 advice columns (3 accumulators), `lanes` Freivalds lanes, 6-bit table.
fn small_params(lanes: usize) -> CircuitParams {
    CircuitParams {
        k: 9,
        lookup_bits: 6,
        advice_columns: 5,
        scale_bits: 4,
        activation_bits: 12,
        freivalds_lanes: lanes,
        nonlinear: false,
        range_lanes: 1,
        packed_public: false,
        ..CircuitParams::default()
    }
}

fn layouts(model: &QuantizedModel, params: &CircuitParams) -> Vec<LinearLayout> {
    model
        .nodes
        .iter()
        .filter_map(|node| match &node.op {
            Op::Linear {
                in_features,
                out_features,
                ..
            } => {
                let shape = LinearShape {
                    tokens: model.tensors[node.inputs[0]].len() / in_features,
                    in_features: *in_features,
                    out_features: *out_features,
                };
                Some(linear_layout::choose(
                    shape,
                    params.accumulators(),
                    params.freivalds_lanes,
                ))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn four_token_model_verifies_with_freivalds_layers() {
    use LinearLayout::{Direct, Freivalds};
    let (model, inputs) = mlp(4, 8, 6, 3);
    // 3 lanes: fc1 (4·2·9 = 72 rows direct, 2·15 + 3·7 = 51 Freivalds) is
    // checked, fc2 (28 rows either way) is direct; 4 lanes: both checked.
    for (lanes, expected) in [
        (0, [Direct, Direct]),
        (3, [Freivalds, Direct]),
        (4, [Freivalds, Freivalds]),
    ] {
        let params = small_params(lanes);
        assert_eq!(layouts(&model, &params), expected, "{lanes} lanes");
        let circuit = ModelCircuit::with_params(&model, inputs.clone(), params.clone()).unwrap();
        let instances = circuit.instances();
        assert_eq!(
            mock(9, &circuit, instances.clone()),
            Ok(()),
            "{lanes} lanes"
        );

        let mut wrong = instances;
        *wrong.last_mut().unwrap() += Fr::ONE;
        assert_rejected(mock(9, &circuit, wrong), &[Kind::Copy]);

        // The planner's row formula is what the layout takes.
        let (heights, demand) = measure(&model, &params).unwrap();
        let linear: usize = demand
            .linear
            .iter()
            .map(|&s| linear_layout::rows(s, params.accumulators(), lanes))
            .sum();
        // Inputs 32; rescales 24 + 12; ReLU 24.
        assert_eq!(heights.gate, 32 + 24 + 12 + 24 + linear, "{lanes} lanes");
    }
}

#[test]
fn planner_takes_freivalds_when_it_lowers_the_cost() {
    // Gate rows dominate: the 64×128 weights laid out 4 times take k = 13,
    // their checks fit in k = 12 (so does the range track).
    let (model, inputs) = mlp(4, 64, 128, 2);
    let (direct, _) = plan_with(&model, Layouts::DirectOnly, Visibility::default()).unwrap();
    let circuit = ModelCircuit::with_inputs(Arc::new(model), inputs).unwrap();
    let layout = circuit.layout().clone();
    assert!(layout.freivalds_lanes > 0, "{layout}");
    assert_eq!(direct.freivalds_lanes, 0);
    assert!(layout.k < direct.k, "{layout} / {direct}");
    assert!(layout.gate_rows < direct.gate_rows, "{layout} / {direct}");
    assert!(layout.to_string().contains("Freivalds checks over"));
    assert_eq!(mock(layout.k, &circuit, circuit.instances()), Ok(()));
    let mut wrong = circuit.instances();
    let at = wrong.len() - 3;
    wrong[at] += Fr::ONE;
    assert_rejected(mock(layout.k, &circuit, wrong), &[Kind::Copy]);
}

#[test]
fn single_token_models_keep_the_direct_layout() {
    let (model, inputs) = mlp(1, 64, 64, 4);
    let circuit = ModelCircuit::with_inputs(Arc::new(model.clone()), inputs).unwrap();
    assert_eq!(circuit.layout().freivalds_lanes, 0);
    assert_eq!(circuit.params().freivalds_lanes, 0);
    assert_eq!(
        *circuit.layout(),
        plan_with(&model, Layouts::DirectOnly, Visibility::default())
            .unwrap()
            .0
    );
}

/// A real SHPLONK proof of a circuit with Freivalds checks: the keys from
/// the witness-less circuit, a verifying key re-read from the parameters,
/// and a wrong public output rejected. (Blake2b transcript: this crate does
/// not depend on snark-verifier, whose `EvmTranscript` the prover uses.)
#[test]
fn real_proof_with_a_challenge_verifies() {
    use halo2_proofs::plonk::{create_proof, keygen_pk, keygen_vk, verify_proof, VerifyingKey};
    use halo2_proofs::poly::commitment::ParamsProver;
    use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
    use halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
    use halo2_proofs::poly::kzg::strategy::SingleStrategy;
    use halo2_proofs::transcript::{
        Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
    };
    use halo2_proofs::SerdeFormat;
    use halo2curves::bn256::{Bn256, G1Affine};
    use rand_chacha::ChaCha20Rng;

    let (model, inputs) = mlp(4, 8, 6, 3);
    let circuit = ModelCircuit::with_params(&model, inputs, small_params(4)).unwrap();
    let instances = circuit.instances();
    let k = circuit.params().k;
    let srs = ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::seed_from_u64(1));
    let keygen = circuit.without_witnesses();
    let vk = keygen_vk(&srs, &keygen).unwrap();
    assert_eq!(vk.cs().num_challenges(), 1);
    let pk = keygen_pk(&srs, vk, &keygen).unwrap();

    let prove = |circuit: ModelCircuit, seed: u64| {
        let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
        create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
            &srs,
            &pk,
            &[circuit],
            &[&[&instances]],
            ChaCha20Rng::seed_from_u64(seed),
            &mut transcript,
        )
        .unwrap();
        transcript.finalize()
    };
    let proof = prove(circuit.clone(), 2);

    let mut vk_bytes = Vec::new();
    pk.get_vk()
        .write(&mut vk_bytes, SerdeFormat::RawBytes)
        .unwrap();
    let vk = VerifyingKey::<G1Affine>::read::<_, ModelCircuit>(
        &mut &vk_bytes[..],
        SerdeFormat::RawBytes,
        circuit.params(),
    )
    .unwrap();
    let verify = |proof: &[u8], instances: &[Fr]| {
        let mut transcript = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(proof);
        verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
            srs.verifier_params(),
            &vk,
            SingleStrategy::new(&srs),
            &[&[instances]],
            &mut transcript,
        )
    };
    assert!(verify(&proof, &instances).is_ok());
    let mut wrong = instances.clone();
    *wrong.last_mut().unwrap() += Fr::ONE;
    assert!(verify(&proof, &wrong).is_err());
    // A second proof (fresh blinding) also verifies: the challenge is
    // drawn from each proof's own commitments.
    assert!(verify(&prove(circuit, 3), &instances).is_ok());
}

/// Figures for 16 tokens through one 64→64 linear layer, each layout
/// planned at its cheapest and proved for real (SHPLONK, Blake2b):
/// `cargo test -p zkinfer-circuits --release -- --ignored --nocapture measure_`.
#[test]
#[ignore = "prints figures; takes tens of seconds"]
fn measure_freivalds_against_direct() {
    use std::time::Instant;

    use halo2_proofs::plonk::{create_proof, keygen_pk, keygen_vk, verify_proof};
    use halo2_proofs::poly::commitment::ParamsProver;
    use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
    use halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
    use halo2_proofs::poly::kzg::strategy::SingleStrategy;
    use halo2_proofs::transcript::{
        Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
    };
    use halo2curves::bn256::{Bn256, G1Affine};
    use rand_chacha::ChaCha20Rng;

    let (mut model, inputs) = mlp(16, 64, 64, 4);
    // Keep only the 64→64 layer: x [16, 64] → fc1 → h [16, 64].
    model.nodes.truncate(1);
    model.outputs = vec![1];
    for layouts in [Layouts::DirectOnly, Layouts::FreivaldsOnly, Layouts::Any] {
        let (layout, params) = plan_with(&model, layouts, Visibility::default()).unwrap();
        let circuit = ModelCircuit::with_params(&model, inputs.clone(), params.clone()).unwrap();
        let instances = circuit.instances();
        let srs = ParamsKZG::<Bn256>::setup(layout.k, ChaCha20Rng::seed_from_u64(1));
        let start = Instant::now();
        let keygen = circuit.without_witnesses();
        let vk = keygen_vk(&srs, &keygen).unwrap();
        let pk = keygen_pk(&srs, vk, &keygen).unwrap();
        let keygen_time = start.elapsed();
        let start = Instant::now();
        let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
        create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
            &srs,
            &pk,
            &[circuit],
            &[&[&instances]],
            ChaCha20Rng::seed_from_u64(2),
            &mut transcript,
        )
        .unwrap();
        let proof = transcript.finalize();
        let prove_time = start.elapsed();
        let mut transcript = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(&proof[..]);
        verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
            srs.verifier_params(),
            pk.get_vk(),
            SingleStrategy::new(&srs),
            &[&[&instances]],
            &mut transcript,
        )
        .unwrap();
        eprintln!(
            "{layouts:?}: {layout}\n    keygen {keygen_time:.2?}, prove {prove_time:.2?}, proof {} bytes",
            proof.len()
        );
    }
}
