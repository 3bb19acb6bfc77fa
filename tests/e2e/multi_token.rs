//! A multi-token model, where the planner proves its matmuls with Freivalds'
//! check (a verifier challenge, second-phase advice): the challenge path must
//! work with the real prover and the EVM transcript, not only MockProver.

use zkinfer_gpu::Backend;
use zkinfer_prover::progress::Progress;
use zkinfer_prover::prove::prove;
use zkinfer_prover::setup::setup;
use zkinfer_prover::srs::Srs;
use zkinfer_prover::tamper;
use zkinfer_prover::verify::verify;
use zkinfer_prover::ProverError;
use zkinfer_quantizer::{Node, Op, QuantizedModel, TensorInfo};

/// Deterministic small integers in `[-bound, bound]` (a fixed LCG: the test
/// needs varied values, not randomness).
fn ints(n: usize, bound: i64, seed: &mut u64) -> Vec<i64> {
    (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((*seed >> 33) as i64).rem_euclid(2 * bound + 1) - bound
        })
        .collect()
}

/// `[tokens, 64] -> Linear 64x128 -> Relu -> Linear 128x2`.
fn model(tokens: usize) -> (QuantizedModel, Vec<Vec<i64>>) {
    let seed = &mut 7u64;
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
    let fc1 = Op::Linear {
        in_features: 64,
        out_features: 128,
        weight: ints(64 * 128, 8, seed),
        bias: Some(ints(128, 64, seed)),
    };
    let fc2 = Op::Linear {
        in_features: 128,
        out_features: 2,
        weight: ints(128 * 2, 8, seed),
        bias: None,
    };
    let model = QuantizedModel {
        name: "multi-token mlp".into(),
        scale_bits: 4,
        activation_bits: 12,
        tensors: vec![
            tensor("x", 64),
            tensor("h", 128),
            tensor("r", 128),
            tensor("y", 2),
        ],
        inputs: vec![0],
        outputs: vec![3],
        nodes: vec![
            node("fc1", fc1, 0, 1),
            node("relu", Op::Relu, 1, 2),
            node("fc2", fc2, 2, 3),
        ],
    };
    let inputs = vec![ints(tokens * 64, 16, seed)];
    (model, inputs)
}

#[test]
fn a_freivalds_circuit_proves_with_the_evm_transcript_and_rejects_a_changed_output() {
    let (model, inputs) = model(4);
    let layout = zkinfer_circuits::plan(&model).unwrap();
    assert!(
        layout.freivalds_lanes > 0,
        "the planner should pick Freivalds for 4 tokens: {layout}"
    );
    let srs = Srs::dev(layout.k, Some(1));
    let keys = setup(&model, &srs, &Progress::hidden()).unwrap();
    assert!(
        keys.pk.pk.get_vk().cs().num_challenges() > 0,
        "the circuit draws a challenge"
    );
    // `prove` verifies its own proof before returning it.
    let proof = prove(&model, &keys.pk, inputs, Backend::Cpu, &Progress::hidden())
        .unwrap()
        .proof;
    let vk = keys.vk.view();
    verify(&vk, &proof).unwrap();
    assert!(matches!(
        verify(&vk, &tamper::change_output(&proof)),
        Err(ProverError::Invalid)
    ));
    assert!(matches!(
        verify(&vk, &tamper::flip_proof_byte(&proof)),
        Err(ProverError::Invalid)
    ));
}
