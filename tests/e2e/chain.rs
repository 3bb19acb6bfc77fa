//! A model cut into parts (`zkinfer split`) and proved as a chain through the
//! CLI: every part proves, the chain verifies, and a part proof made on
//! another input breaks the chain.

use crate::common::{path_str, zkinfer};

#[test]
fn a_split_model_proves_as_a_chain_and_a_foreign_part_breaks_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let step = |args: &[&str]| {
        let (code, msg) = zkinfer(args);
        assert_eq!(code, 0, "zkinfer {args:?} failed: {msg}");
    };
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../quantizer/models");
    let zkq = d.join("mlp.zkq");
    step(&[
        "quantize",
        path_str(&models.join("mlp.onnx")),
        "--calibration",
        path_str(&models.join("mlp.samples.json")),
        "-o",
        path_str(&zkq),
    ]);
    let split = d.join("split");
    step(&[
        "split",
        path_str(&zkq),
        "--parts",
        "2",
        "-o",
        path_str(&split),
    ]);
    let srs = d.join("dev.srs");
    step(&[
        "srs",
        "dev",
        "--k",
        "10",
        "--seed",
        "3",
        "-o",
        path_str(&srs),
    ]);
    step(&["chain", "setup", path_str(&split), "--srs", path_str(&srs)]);
    let input = models.join("mlp.input.json");
    let prove = |input: &std::path::Path| {
        step(&[
            "chain",
            "prove",
            path_str(&split),
            "--model",
            path_str(&zkq),
            "--input",
            path_str(input),
        ])
    };
    prove(&input);
    step(&[
        "chain",
        "verify",
        path_str(&split),
        "--model",
        path_str(&zkq),
    ]);

    // Keep part 1's proof, re-prove the chain on another input: part 0's
    // new proof and the old part 1 proof are each valid, but not one
    // inference.
    let part1 = std::fs::read(split.join("proof1.json")).unwrap();
    let other = d.join("other.json");
    std::fs::write(
        &other,
        r#"{"input": [[0.5, -0.25, 0.1, 0.9, -0.6, 0.3, 0.0, 0.2]]}"#,
    )
    .unwrap();
    prove(&other);
    std::fs::write(split.join("proof1.json"), part1).unwrap();
    let (code, _) = zkinfer(&["chain", "verify", path_str(&split)]);
    assert_eq!(
        code, 1,
        "a chain of proofs of different inferences must be rejected"
    );
}
