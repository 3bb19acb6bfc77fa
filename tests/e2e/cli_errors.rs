//! Bad input gives a clear error and a non-zero exit, never a panic
//! (`zkinfer` here fails the test on a panic).

use crate::common::{mlp_run, path_str, zkinfer};

#[test]
fn a_truncated_onnx_file_is_a_clear_error() {
    let (dir, run) = mlp_run();
    let bytes = std::fs::read(&run.artifacts.onnx).unwrap();
    let path = dir.path().join("truncated.onnx");
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    let out = dir.path().join("never.zkq");
    let (code, msg) = zkinfer(&[
        "quantize",
        path_str(&path),
        "--calibration",
        path_str(&run.artifacts.samples),
        "-o",
        path_str(&out),
    ]);
    assert_eq!(code, 1);
    assert!(msg.to_lowercase().contains("onnx"), "{msg}");
    assert!(!out.exists(), "a failed quantize must not write its output");
}

#[test]
fn an_unsupported_op_names_the_op_and_the_node() {
    let (dir, _) = mlp_run();
    let model = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../quantizer/models/unsupported_op.onnx"
    );
    let (code, msg) = zkinfer(&["quantize", model, "-o", path_str(&dir.path().join("u.zkq"))]);
    assert_eq!(code, 1);
    assert!(msg.contains("unsupported op"), "{msg}");
    assert!(msg.contains("node '"), "{msg}");
}

fn prove_with_input(json: &str, name: &str) -> (u8, String) {
    let (dir, run) = mlp_run();
    let input = dir.path().join(format!("{name}.json"));
    std::fs::write(&input, json).unwrap();
    let out = dir.path().join(format!("{name}.proof.json"));
    let res = zkinfer(&[
        "prove",
        path_str(&run.artifacts.zkq),
        "--pk",
        path_str(&run.artifacts.keys.join("pk")),
        "--input",
        path_str(&input),
        "-o",
        path_str(&out),
    ]);
    assert!(!out.exists(), "a failed prove must not write a proof");
    res
}

#[test]
fn an_input_of_the_wrong_shape_is_a_clear_error() {
    let (code, msg) = prove_with_input(r#"{"input": [0.1, 0.2, 0.3]}"#, "short");
    assert_eq!(code, 1);
    assert!(
        msg.contains('8') && msg.contains('3'),
        "message should give expected and actual sizes: {msg}"
    );
}

#[test]
fn an_input_outside_the_calibrated_range_names_the_tensor_and_the_excess() {
    let values: Vec<String> = (0..8)
        .map(|i| {
            if i == 2 {
                "1000.0".into()
            } else {
                "0.1".into()
            }
        })
        .collect();
    let (code, msg) = prove_with_input(&format!(r#"{{"input": [{}]}}"#, values.join(",")), "huge");
    assert_eq!(code, 1);
    assert!(msg.contains("input") && msg.contains("outside"), "{msg}");
}

#[test]
fn a_vk_that_does_not_match_the_proof_is_rejected() {
    let (dir, run) = mlp_run();
    // A valid vk file of a different circuit: same SRS, a model quantized at another scale.
    let zkq = dir.path().join("other.zkq");
    let (code, msg) = zkinfer(&[
        "quantize",
        path_str(&run.artifacts.onnx),
        "--calibration",
        path_str(&run.artifacts.samples),
        "--scale-bits",
        &(run.model.scale_bits - 2).to_string(),
        "-o",
        path_str(&zkq),
    ]);
    assert_eq!(code, 0, "{msg}");
    let keys = dir.path().join("other-keys");
    let (code, msg) = zkinfer(&[
        "setup",
        path_str(&zkq),
        "--srs",
        path_str(&run.artifacts.srs),
        "-o",
        path_str(&keys),
    ]);
    assert_eq!(code, 0, "{msg}");
    let (code, _) = zkinfer(&[
        "verify",
        "--vk",
        path_str(&keys.join("vk")),
        path_str(&run.artifacts.proof),
    ]);
    assert_eq!(code, 1);
    // A file that is not a vk at all.
    let (code, msg) = zkinfer(&[
        "verify",
        "--vk",
        path_str(&run.artifacts.proof),
        path_str(&run.artifacts.proof),
    ]);
    assert_eq!(code, 1);
    assert!(msg.contains("verifying key"), "{msg}");
}

#[test]
fn malformed_proof_hex_is_a_clear_error() {
    let (dir, run) = mlp_run();
    let mut p = run.proof.clone();
    p.proof = "0xnot-hex".into();
    let path = dir.path().join("badhex.json");
    p.save(&path).unwrap();
    let (code, _) = zkinfer(&[
        "verify",
        "--vk",
        path_str(&run.artifacts.keys.join("vk")),
        path_str(&path),
    ]);
    assert_eq!(code, 1);
}

#[test]
fn a_corrupt_ptau_is_a_clear_error() {
    let (dir, _) = mlp_run();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tiny.ptau");
    let mut bytes = std::fs::read(fixture).unwrap();
    let truncated = dir.path().join("truncated.ptau");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.path().join("never.srs");
    let (code, _) = zkinfer(&[
        "srs",
        "import",
        path_str(&truncated),
        "--k",
        "4",
        "-o",
        path_str(&out),
    ]);
    assert_eq!(code, 1);
    bytes[0] = b'x';
    let garbage = dir.path().join("garbage.ptau");
    std::fs::write(&garbage, &bytes).unwrap();
    let (code, _) = zkinfer(&[
        "srs",
        "import",
        path_str(&garbage),
        "--k",
        "4",
        "-o",
        path_str(&out),
    ]);
    assert_eq!(code, 1);
    assert!(!out.exists());
}
