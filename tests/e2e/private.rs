//! Private weights and hashed inputs through the CLI: `commit`,
//! `setup --weights private`, `prove`, `verify --commitment`,
//! `commit-input`, `verify --input-commitment`, on the bundled MLP and a
//! copy of it with one weight changed.

use std::path::{Path, PathBuf};

use zkinfer_prover::bundled;
use zkinfer_prover::keys::{fr_to_hex, VerifyingKeyFile};
use zkinfer_prover::pipeline::quantize_bundled;
use zkinfer_prover::proof_file::ProofFile;
use zkinfer_quantizer::QuantizedModel;

use crate::common::{path_str, zkinfer};

fn step(args: &[&str]) {
    let (code, msg) = zkinfer(args);
    assert_eq!(code, 0, "zkinfer {args:?}: {msg}");
}

/// The bundled MLP and a copy with one weight changed, saved in `dir`.
fn two_models(dir: &Path) -> (PathBuf, PathBuf) {
    let model = quantize_bundled(&bundled::MLP).unwrap();
    let other = zkinfer_prover::tamper::one_weight_changed(&model).unwrap();
    let (a, b) = (dir.join("a.zkq"), dir.join("b.zkq"));
    model.save(&a).unwrap();
    other.save(&b).unwrap();
    (a, b)
}

/// A dev SRS big enough for the bundled MLP with hashing.
fn dev_srs(dir: &Path, seed: &str) -> PathBuf {
    let srs = dir.join("srs");
    step(&[
        "srs",
        "dev",
        "--k",
        "12",
        "--seed",
        seed,
        "-o",
        path_str(&srs),
    ]);
    srs
}

fn setup(dir: &Path, zkq: &Path, srs: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let keys = dir.join(name);
    let mut args = vec![
        "setup",
        path_str(zkq),
        "--srs",
        path_str(srs),
        "-o",
        path_str(&keys),
    ];
    args.extend_from_slice(flags);
    step(&args);
    keys
}

fn prove(dir: &Path, zkq: &Path, keys: &Path, name: &str) -> PathBuf {
    prove_with(dir, zkq, keys, name, &[])
}

fn prove_with(dir: &Path, zkq: &Path, keys: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let proof = dir.join(name);
    let input = dir.join("input.json");
    std::fs::write(&input, bundled::MLP.input).unwrap();
    let pk = keys.join("pk");
    let mut args = vec![
        "prove",
        path_str(zkq),
        "--pk",
        path_str(&pk),
        "--input",
        path_str(&input),
        "-o",
        path_str(&proof),
    ];
    args.extend_from_slice(flags);
    step(&args);
    proof
}

fn verify(keys: &Path, proof: &Path, extra: &[&str]) -> u8 {
    let vk = keys.join("vk");
    let mut args = vec!["verify", "--vk", path_str(&vk), path_str(proof)];
    args.extend_from_slice(extra);
    zkinfer(&args).0
}

#[test]
fn private_weights_bind_the_published_commitment_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = two_models(d);
    let commitment = |zkq: &Path| {
        fr_to_hex(&zkinfer_circuits::commitment::model_commitment(
            &QuantizedModel::load(zkq).unwrap(),
        ))
    };
    let (ca, cb) = (commitment(&a), commitment(&b));
    assert_ne!(ca, cb, "one weight apart, the commitments differ");
    assert_eq!(zkinfer(&["commit", path_str(&a)]).0, 0);

    let srs = dev_srs(d, "5");
    let private = ["--weights", "private"];
    let keys_a = setup(d, &a, &srs, "keys_a", &private);
    let keys_b = setup(d, &b, &srs, "keys_b", &private);
    // The keys hold no weight: both models get the same verifying key.
    let vk = |keys: &Path| VerifyingKeyFile::load(&keys.join("vk")).unwrap().header;
    assert_eq!(vk(&keys_a).vk_id, vk(&keys_b).vk_id);
    assert_eq!(vk(&keys_a).model_id, ca);

    let proof_a = prove(d, &a, &keys_a, "a.json");
    let file = ProofFile::load(&proof_a).unwrap();
    assert_eq!(file.model_id, ca);
    assert_eq!(
        file.model_commitment().unwrap().map(|c| fr_to_hex(&c)),
        Some(ca.clone())
    );
    assert_eq!(verify(&keys_a, &proof_a, &[]), 0);
    assert_eq!(verify(&keys_a, &proof_a, &["--commitment", &ca]), 0);
    assert_eq!(verify(&keys_a, &proof_a, &["--commitment", &cb]), 1);
    // The prover of the changed model gets a valid proof of *its* weights
    // (the shared key), which the registered commitment refuses.
    let proof_b = prove(d, &b, &keys_a, "b.json");
    assert_eq!(verify(&keys_a, &proof_b, &["--commitment", &cb]), 0);
    assert_eq!(verify(&keys_a, &proof_b, &["--commitment", &ca]), 1);
    // Claiming the registered commitment in the file breaks the proof.
    let mut forged = ProofFile::load(&proof_b).unwrap();
    forged.instances[0] = file.instances[0].clone();
    forged.model_id = ca.clone();
    let forged_path = d.join("forged.json");
    forged.save(&forged_path).unwrap();
    assert_eq!(verify(&keys_a, &forged_path, &["--commitment", &ca]), 1);
    // A fixed-weights key is still its model.
    let keys_fixed = setup(d, &a, &srs, "keys_fixed", &[]);
    assert_ne!(vk(&keys_fixed).vk_id, vk(&keys_a).vk_id);
    // Anyone with the .zkq and the SRS rebuilds the fixed key and compares.
    let rebuilt = zkinfer_prover::setup::setup_vk(
        &QuantizedModel::load(&a).unwrap(),
        &zkinfer_prover::srs::Srs::load(&srs).unwrap(),
    )
    .unwrap();
    assert_eq!(rebuilt.header.vk_id, vk(&keys_fixed).vk_id);
    assert_eq!(
        zkinfer(&["vk-id", path_str(&a), "--srs", path_str(&srs)]).0,
        0
    );
    let fixed_vk = keys_fixed.join("vk");
    assert_eq!(zkinfer(&["vk-id", "--vk", path_str(&fixed_vk)]).0, 0);
    assert_eq!(zkinfer(&["vk-id"]).0, 1, "neither a key nor a model");
    let proof_fixed = prove(d, &a, &keys_fixed, "fixed.json");
    assert_eq!(verify(&keys_fixed, &proof_fixed, &["--commitment", &ca]), 1);
}

#[test]
fn a_hashed_input_verifies_only_with_its_commitment() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, _) = two_models(d);
    let srs = dev_srs(d, "6");
    let keys = setup(
        d,
        &a,
        &srs,
        "keys",
        &["--weights", "private", "--input-visibility", "hashed"],
    );
    let proof = prove(d, &a, &keys, "p.json");
    let file = ProofFile::load(&proof).unwrap();
    // The input is not among the instances: one commitment, then outputs.
    assert_eq!(
        file.instances.len(),
        1 + 1 + file.public_layout().output_words()
    );

    let model = QuantizedModel::load(&a).unwrap();
    let salted = |text: &str, salt: u64| {
        let path = d.join("in.json");
        std::fs::write(&path, text).unwrap();
        let real = zkinfer_quantizer::inputs::load_input(&path).unwrap();
        let q = zkinfer_quantizer::inputs::quantize_inputs(&model, &real).unwrap();
        let salt = zkinfer_circuits::Fr::from(salt);
        fr_to_hex(&zkinfer_prover::commit::input_commitment(&model, &q, salt).unwrap())
    };
    let input_of = |text: &str| salted(text, 0);
    let good = input_of(bundled::MLP.input);
    let input = d.join("input.json");
    let (code, _) = zkinfer(&["commit-input", path_str(&input), "--model", path_str(&a)]);
    assert_eq!(code, 0);
    assert_eq!(verify(&keys, &proof, &["--input-commitment", &good]), 0);
    let mut other: serde_json::Value = serde_json::from_str(bundled::MLP.input).unwrap();
    let first = &mut other["input"][0][0];
    *first = serde_json::json!(first.as_f64().unwrap() + 0.5);
    let bad = input_of(&other.to_string());
    assert_ne!(good, bad);
    assert_eq!(verify(&keys, &proof, &["--input-commitment", &bad]), 1);
    // With the requester's salt, the commitment is another one, and only the
    // prover who has the salt can make a proof that carries it.
    let with_salt = prove_with(d, &a, &keys, "salted.json", &["--salt", "0x1234"]);
    let good_salted = salted(bundled::MLP.input, 0x1234);
    assert_ne!(good_salted, good);
    assert_eq!(
        verify(&keys, &with_salt, &["--input-commitment", &good_salted]),
        0
    );
    assert_eq!(verify(&keys, &with_salt, &["--input-commitment", &good]), 1);
    let (code, _) = zkinfer(&[
        "commit-input",
        path_str(&input),
        "--model",
        path_str(&a),
        "--salt",
        "0x1234",
    ]);
    assert_eq!(code, 0);
    // A prove that expects a public input refuses the hashed key.
    let (code, msg) = zkinfer(&[
        "prove",
        path_str(&a),
        "--pk",
        path_str(&keys.join("pk")),
        "--input",
        path_str(&input),
        "--input-visibility",
        "public",
        "-o",
        path_str(&d.join("x.json")),
    ]);
    assert_eq!(code, 1);
    assert!(msg.contains("hashed"), "{msg}");
}

#[test]
fn the_market_refuses_a_valid_proof_of_other_weights() {
    use zkinfer_gpu::Backend;
    use zkinfer_prover::keys::ProvingKeyFile;
    use zkinfer_prover::onchain::run_market_flow_refusing;
    use zkinfer_prover::pipeline::run_bundled_visible;
    use zkinfer_prover::progress::Progress;
    use zkinfer_prover::prove::prove;

    let dir = tempfile::tempdir().unwrap();
    let visibility = zkinfer_circuits::Visibility {
        weights: zkinfer_circuits::WeightVisibility::Private,
        input: zkinfer_circuits::InputVisibility::Public,
    };
    let hidden = Progress::hidden();
    let run =
        run_bundled_visible(&bundled::MLP, dir.path(), Backend::Cpu, visibility, &hidden).unwrap();
    // The registered model's prover changes one weight and proves with the
    // shared key: a valid proof, of other weights.
    let (_, b) = two_models(dir.path());
    let other = QuantizedModel::load(&b).unwrap();
    let pk = ProvingKeyFile::load(&run.artifacts.keys.join("pk")).unwrap();
    let input = zkinfer_quantizer::inputs::load_input(&run.artifacts.input).unwrap();
    let q = zkinfer_quantizer::inputs::quantize_inputs(&other, &input).unwrap();
    let forged = prove(&other, &pk, q, Backend::Cpu, &hidden).unwrap().proof;
    assert_ne!(forged.instances[0], run.proof.instances[0]);

    let vk = VerifyingKeyFile::load(&run.artifacts.keys.join("vk")).unwrap();
    let what = "a valid proof of other weights";
    let chain = run_market_flow_refusing(&vk, &run.proof, vec![], vec![(what, forged)]).unwrap();
    for r in &chain.rejections {
        assert!(
            r.rejected,
            "{} accepted: {} ({})",
            r.contract, r.what, r.reason
        );
    }
    let refusal = chain.rejections.iter().find(|r| r.what == what).unwrap();
    assert!(
        refusal.reason.contains("ModelMismatch"),
        "{}",
        refusal.reason
    );
}

/// MockProver of `m` with private weights: the commitment the circuit
/// computes (instance 0, tied to the Poseidon chip's digest) is the one
/// `zkinfer commit` prints, and no other verifies.
fn circuit_commitment_is_commit(m: &bundled::BundledModel) {
    use halo2_proofs::dev::MockProver;
    use std::sync::Arc;
    use zkinfer_circuits::{ModelCircuit, Visibility, WeightVisibility};

    let model = quantize_bundled(m).unwrap();
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), m.input).unwrap();
    let input = zkinfer_quantizer::inputs::load_input(path.path()).unwrap();
    let q = zkinfer_quantizer::inputs::quantize_inputs(&model, &input).unwrap();
    let visibility = Visibility {
        weights: WeightVisibility::Private,
        ..Visibility::default()
    };
    let circuit =
        ModelCircuit::with_inputs_visible(Arc::new(model.clone()), q, visibility).unwrap();
    let mut instances = circuit.instances();
    let printed = fr_to_hex(&zkinfer_circuits::commitment::model_commitment(&model));
    assert_eq!(fr_to_hex(&instances[0]), printed, "{}", m.name);
    let k = circuit.layout().k;
    let run = |i: Vec<_>| MockProver::run(k, &circuit, vec![i]).unwrap().verify();
    assert_eq!(run(instances.clone()), Ok(()), "{}", m.name);
    instances[0] += zkinfer_circuits::Fr::one();
    assert!(
        run(instances).is_err(),
        "{}: another commitment verified",
        m.name
    );
}

#[test]
fn the_circuit_computes_what_commit_prints_for_the_dense_models() {
    circuit_commitment_is_commit(&bundled::MLP);
    circuit_commitment_is_commit(&bundled::MNIST_MLP);
}

/// The transformers take a few minutes in MockProver (k = 18 and 19); the
/// GPT-2 block runs in CI in the circuits crate, and `zkinfer bench
/// --private` checks the proofs' commitments of the others.
#[test]
#[ignore]
fn the_circuit_computes_what_commit_prints_for_every_bundled_model() {
    for m in bundled::ALL {
        circuit_commitment_is_commit(m);
    }
}
