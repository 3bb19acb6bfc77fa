//! The bundled model's proof on-chain, in the embedded EVM: the generated
//! verifier accepts it and rejects tampered copies; the market records the
//! output, pays creator and prover, and refuses tampered and replayed proofs.

use zkinfer_prover::keys::VerifyingKeyFile;
use zkinfer_prover::onchain::{
    run_market_flow, run_market_flow_with, DEMO_FEE_WEI, DEMO_ROYALTY_BPS,
};

use crate::common::{mlp_run, path_str, zkinfer};

#[test]
fn the_market_flow_accepts_the_proof_and_rejects_every_tampered_one() {
    let (_, run) = mlp_run();
    let vk = VerifyingKeyFile::load(&run.artifacts.keys.join("vk")).unwrap();
    let chain = run_market_flow(&vk, &run.proof).expect("the on-chain flow runs");
    for r in &chain.rejections {
        assert!(
            r.rejected,
            "{} accepted: {} ({})",
            r.contract, r.what, r.reason
        );
    }
    assert_eq!(chain.rejections.len(), 7);
    assert!(chain.figures.verifier_largest_part_bytes <= 24_576);
    let royalty = DEMO_FEE_WEI * u128::from(DEMO_ROYALTY_BPS) / 10_000;
    assert_eq!(
        chain.creator_paid,
        zkinfer_verifier_contract::U256::from(royalty)
    );
    assert_eq!(
        chain.prover_paid,
        zkinfer_verifier_contract::U256::from(DEMO_FEE_WEI - royalty)
    );
    // The recorded output is the proof's public output, signed.
    let outputs = run.proof.public_values().unwrap().outputs;
    let outputs: Vec<i128> = outputs.into_iter().map(i128::from).collect();
    assert_eq!(chain.recorded_output, outputs);
}

#[test]
fn evm_verify_cli_accepts_the_proof_and_refuses_bad_files() {
    let (dir, run) = mlp_run();
    let vk = run.artifacts.keys.join("vk");
    let (code, err) = zkinfer(&[
        "evm",
        "verify",
        "--vk",
        path_str(&vk),
        path_str(&run.artifacts.proof),
    ]);
    assert_eq!(code, 0, "{err}");

    let flipped = dir.path().join("flipped.json");
    zkinfer_prover::tamper::flip_proof_byte(&run.proof)
        .save(&flipped)
        .unwrap();
    let (code, _) = zkinfer(&["evm", "verify", "--vk", path_str(&vk), path_str(&flipped)]);
    assert_eq!(code, 1);

    let mut bad_hex = run.proof.clone();
    bad_hex.proof = "0xzz".into();
    let bad = dir.path().join("bad_hex.json");
    bad_hex.save(&bad).unwrap();
    let (code, err) = zkinfer(&["evm", "verify", "--vk", path_str(&vk), path_str(&bad)]);
    assert_eq!(code, 1);
    assert!(err.contains("hex"), "{err}");

    let mut other = run.proof.clone();
    other.vk_id = "00".repeat(32);
    let other_path = dir.path().join("other_vk.json");
    other.save(&other_path).unwrap();
    let (code, err) = zkinfer(&[
        "evm",
        "verify",
        "--vk",
        path_str(&vk),
        path_str(&other_path),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("does not match"), "{err}");

    let out = dir.path().join("verifier");
    let (code, err) = zkinfer(&[
        "evm",
        "verifier",
        "--vk",
        path_str(&vk),
        "-o",
        path_str(&out),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read_to_string(out.join("Verifier.sol"))
        .unwrap()
        .contains("Halo2Verifier"));
}

/// The mlp with one weight changed is another model with the same shape, so
/// its proofs have the same number of public values: only the proof itself
/// can tell them apart. Both the mlp's verifier and the market must refuse
/// it.
#[test]
fn a_proof_for_another_model_is_refused_in_the_evm() {
    use zkinfer_gpu::Backend;
    use zkinfer_prover::progress::Progress;
    use zkinfer_prover::prove::prove;
    use zkinfer_prover::setup::setup;
    use zkinfer_prover::srs::Srs;
    use zkinfer_quantizer::inputs;

    let (_, run) = mlp_run();
    let vk = VerifyingKeyFile::load(&run.artifacts.keys.join("vk")).unwrap();
    let other =
        zkinfer_prover::tamper::one_weight_changed(&run.model).expect("the mlp has a linear layer");
    let srs = Srs::load(&run.artifacts.srs).unwrap();
    let keys = setup(&other, &srs, &Progress::hidden()).unwrap();
    assert_ne!(keys.vk.header.vk_id, vk.header.vk_id);
    let input = inputs::quantize_inputs(&other, &inputs::load_input(&run.artifacts.input).unwrap())
        .unwrap();
    let foreign = prove(&other, &keys.pk, input, Backend::Cpu, &Progress::hidden())
        .unwrap()
        .proof;
    assert_eq!(foreign.instances.len(), run.proof.instances.len());

    let chain = run_market_flow_with(&vk, &run.proof, vec![("another model", foreign)]).unwrap();
    let refused: Vec<_> = chain
        .rejections
        .iter()
        .filter(|r| r.what == "another model")
        .collect();
    assert_eq!(refused.len(), 2, "by the verifier and by the market");
    for r in refused {
        assert!(
            r.rejected,
            "{} accepted a proof for another model",
            r.contract
        );
    }
}

/// Every bundled model's verifier, transformers included, is deployable:
/// each of its contracts is within EIP-170 (keys from a dev SRS; only the
/// verifying key is generated).
#[test]
fn every_bundled_models_verifier_fits_eip170() {
    use zkinfer_prover::bundled;
    use zkinfer_prover::evm::EvmVerifier;
    use zkinfer_prover::pipeline::{quantize_bundled, DEMO_SRS_SEED};
    use zkinfer_prover::setup::setup_vk;
    use zkinfer_prover::srs::Srs;
    use zkinfer_verifier_contract::evm::{Evm, MAX_CODE_SIZE};

    for m in bundled::ALL {
        let model = quantize_bundled(m).unwrap();
        let k = zkinfer_circuits::plan(&model).unwrap().k;
        let vk = setup_vk(&model, &Srs::dev(k, Some(DEMO_SRS_SEED))).unwrap();
        let verifier = EvmVerifier::build(&vk).unwrap();
        let sizes: Vec<usize> = verifier
            .parts
            .iter()
            .map(|p| p.compiled.runtime.len())
            .collect();
        eprintln!(
            "{}: {} public values, verifier {sizes:?} bytes",
            m.name, vk.header.num_instances
        );
        assert!(
            sizes.iter().all(|&s| s <= MAX_CODE_SIZE),
            "{}: {sizes:?}",
            m.name
        );
        let deployed = verifier.deploy(&mut Evm::new()).unwrap();
        assert_eq!(deployed.part_sizes.len(), sizes.len());
    }
}
