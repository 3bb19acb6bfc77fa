use zkinfer_gpu::Backend;
use zkinfer_prover::keys::{ProvingKeyFile, VerifyingKeyFile};
use zkinfer_prover::progress::Progress;
use zkinfer_prover::proof_file::ProofFile;
use zkinfer_prover::prove::prove;
use zkinfer_prover::setup::setup;
use zkinfer_prover::srs::Srs;
use zkinfer_prover::tamper;
use zkinfer_prover::verify::verify;
use zkinfer_prover::ProverError;
use zkinfer_quantizer::{inputs, quantize_onnx, QuantizeOptions};

use crate::common::{mlp_run, path_str, zkinfer};

fn vk_of_mlp() -> VerifyingKeyFile {
    VerifyingKeyFile::load(&mlp_run().1.artifacts.keys.join("vk")).unwrap()
}

#[test]
fn bundled_demo_model_proves_and_verifies() {
    let (_, run) = mlp_run();
    verify(&vk_of_mlp().view(), &run.proof).expect("the honest proof verifies");
    // The CLI agrees, reading the files the run wrote.
    let (code, _) = zkinfer(&[
        "verify",
        "--vk",
        path_str(&run.artifacts.keys.join("vk")),
        path_str(&run.artifacts.proof),
    ]);
    assert_eq!(code, 0);
}

#[test]
fn proved_output_is_close_to_the_float_model() {
    let (_, run) = mlp_run();
    // The bundled MLP at the default 16-bit activations: the quantizer's
    // tests bound the error; here the proved output must be the same
    // quantized output, so the same bound holds.
    assert!(
        run.figures.accuracy.max_abs_error < 0.05,
        "max abs error {}",
        run.figures.accuracy.max_abs_error
    );
}

#[test]
fn a_flipped_proof_byte_is_rejected() {
    let bad = tamper::flip_proof_byte(&mlp_run().1.proof);
    assert!(matches!(
        verify(&vk_of_mlp().view(), &bad),
        Err(ProverError::Invalid)
    ));
}

#[test]
fn a_changed_public_input_is_rejected() {
    let bad = tamper::change_input(&mlp_run().1.proof);
    assert!(matches!(
        verify(&vk_of_mlp().view(), &bad),
        Err(ProverError::Invalid)
    ));
}

#[test]
fn a_changed_public_output_is_rejected() {
    let run = &mlp_run().1;
    let bad = tamper::change_output(&run.proof);
    assert!(matches!(
        verify(&vk_of_mlp().view(), &bad),
        Err(ProverError::Invalid)
    ));
    // Every output position, not just the last one.
    for i in run.proof.num_inputs..run.proof.instances.len() {
        let bad = tamper::bump_instance(&run.proof, i);
        assert!(
            verify(&vk_of_mlp().view(), &bad).is_err(),
            "output instance {i} changed but accepted"
        );
    }
}

#[test]
fn the_cli_rejects_a_tampered_proof_file_with_a_non_zero_exit() {
    let (dir, run) = mlp_run();
    let path = dir.path().join("tampered.json");
    tamper::flip_proof_byte(&run.proof).save(&path).unwrap();
    let (code, _) = zkinfer(&[
        "verify",
        "--vk",
        path_str(&run.artifacts.keys.join("vk")),
        path_str(&path),
    ]);
    assert_eq!(code, 1);
}

#[test]
fn a_proof_for_another_model_is_rejected() {
    let (dir, run) = mlp_run();
    // Another model: the same network quantized at a different scale, so the
    // weights in its fixed columns (and hence its vk) differ.
    let samples = inputs::load_samples(&run.artifacts.samples).unwrap();
    let opts = QuantizeOptions {
        scale_bits: Some(run.model.scale_bits - 1),
        ..QuantizeOptions::default()
    };
    let (other, _) = quantize_onnx(&run.artifacts.onnx, &samples, &opts).unwrap();
    assert_ne!(other.id(), run.model.id());
    let srs = Srs::load(&run.artifacts.srs).unwrap();
    let keys = setup(&other, &srs, &Progress::hidden()).unwrap();
    let real = inputs::load_input(&run.artifacts.input).unwrap();
    let q = inputs::quantize_inputs(&other, &real).unwrap();
    let other_proof = prove(&other, &keys.pk, q, Backend::Cpu, &Progress::hidden())
        .unwrap()
        .proof;

    let vk = vk_of_mlp();
    assert!(matches!(
        verify(&vk.view(), &other_proof),
        Err(ProverError::WrongModel { .. })
    ));
    // Relabelling the proof as the MLP's does not help: the cryptographic check fails.
    let relabelled = ProofFile {
        model_id: run.proof.model_id.clone(),
        vk_id: run.proof.vk_id.clone(),
        ..other_proof
    };
    assert!(matches!(
        verify(&vk.view(), &relabelled),
        Err(ProverError::Invalid)
    ));
    let _ = dir;
}

#[test]
fn a_proving_key_for_other_circuit_parameters_is_refused() {
    let (_dir, run) = mlp_run();
    // What a key written before public values were packed looks like: the
    // same model, a header (and constraint system) without the pack chip.
    let mut pk = ProvingKeyFile::load(&run.artifacts.keys.join("pk")).unwrap();
    assert!(pk.header.circuit.packed_public);
    pk.header.circuit.packed_public = false;
    let real = inputs::load_input(&run.artifacts.input).unwrap();
    let q = inputs::quantize_inputs(&run.model, &real).unwrap();
    match prove(&run.model, &pk, q, Backend::Cpu, &Progress::hidden()) {
        Err(ProverError::BadKey(msg)) => assert!(msg.contains("zkinfer setup"), "{msg}"),
        Err(e) => panic!("expected a bad-key error, got {e}"),
        Ok(_) => panic!("a key for other circuit parameters must not prove"),
    }
}
