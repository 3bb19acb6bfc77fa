//! The bundled Hugging Face folders (`quantizer/models/*_hf/`, the same
//! weights as the ONNX files) through the CLI: quantize from the folder,
//! setup, prove, verify, and a changed proof rejected. Built for 4 tokens
//! (`--seq-len 4`) so the circuits stay small enough for CI; the 16-token
//! models are the ONNX tests' (`transformer.rs`).

use std::path::{Path, PathBuf};

use zkinfer_prover::proof_file::ProofFile;
use zkinfer_quantizer::QuantizedModel;

use crate::common::{path_str, zkinfer};

fn folder(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../quantizer/models")
        .join(name)
}

/// Token ids `ids` through `zkinfer quantize <folder> → srs → setup → prove →
/// verify`; then the proof with one output changed must be rejected.
fn prove_folder(name: &str, ids: &[u32]) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let step = |args: &[&str]| {
        let (code, msg) = zkinfer(args);
        assert_eq!(code, 0, "zkinfer {args:?} failed: {msg}");
    };
    let zkq = d.join("m.zkq");
    step(&[
        "quantize",
        path_str(&folder(name)),
        "--seq-len",
        "4",
        "--activation-bits",
        "20",
        "-o",
        path_str(&zkq),
    ]);
    let k = zkinfer_circuits::plan(&QuantizedModel::load(&zkq).unwrap())
        .unwrap()
        .k
        .to_string();
    let srs = d.join("dev.srs");
    step(&["srs", "dev", "--k", &k, "--seed", "2", "-o", path_str(&srs)]);
    let keys = d.join("keys");
    step(&[
        "setup",
        path_str(&zkq),
        "--srs",
        path_str(&srs),
        "-o",
        path_str(&keys),
    ]);
    let input = d.join("input.json");
    let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    std::fs::write(&input, format!("{{\"input\": [[{}]]}}", ids.join(", "))).unwrap();
    let proof = d.join("proof.json");
    step(&[
        "prove",
        path_str(&zkq),
        "--pk",
        path_str(&keys.join("pk")),
        "--input",
        path_str(&input),
        "-o",
        path_str(&proof),
    ]);
    let vk = keys.join("vk");
    step(&["verify", "--vk", path_str(&vk), path_str(&proof)]);

    let forged = zkinfer_prover::tamper::change_output(&ProofFile::load(&proof).unwrap());
    let bad = d.join("forged.json");
    forged.save(&bad).unwrap();
    let (code, _) = zkinfer(&["verify", "--vk", path_str(&vk), path_str(&bad)]);
    assert_ne!(code, 0, "a changed output must be rejected");
}

#[test]
fn gpt2_checkpoint_folder_proves_end_to_end() {
    prove_folder("gpt2_2layer_hf", &[3, 141, 59, 26]);
}

#[test]
fn bert_checkpoint_folder_proves_end_to_end() {
    prove_folder("bert_tiny_hf", &[101, 7, 250, 102]);
}
