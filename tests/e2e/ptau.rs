//! A ceremony file made by snarkjs, imported, used for setup: its proofs verify.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{mlp_run, path_str, zkinfer};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn a_snarkjs_ptau_imported_and_used_for_setup_gives_proofs_that_verify() {
    let root = repo_root();
    let snarkjs = root.join(".tools/node_modules/.bin/snarkjs");
    if !snarkjs.exists() {
        // CI installs snarkjs (scripts/test.sh), so there this test always runs.
        assert!(
            std::env::var_os("CI").is_none(),
            "snarkjs must be installed in CI: run scripts/test.sh"
        );
        eprintln!("skipped: snarkjs is not installed (scripts/make-test-ptau.sh installs it into .tools/)");
        return;
    }
    let (dir, run) = mlp_run();
    let k = run.figures.layout.k;
    let ptau = dir.path().join("ceremony.ptau");
    let status = Command::new("bash")
        .arg(root.join("scripts/make-test-ptau.sh"))
        .arg(k.to_string())
        .arg(&ptau)
        .status()
        .expect("bash runs");
    assert!(
        status.success(),
        "snarkjs failed to make a ptau of power {k}"
    );

    let srs = dir.path().join("imported.srs");
    let keys = dir.path().join("ptau-keys");
    let proof = dir.path().join("ptau-proof.json");
    let (pk, vk) = (keys.join("pk"), keys.join("vk"));
    let k_arg = k.to_string();
    let steps: [&[&str]; 4] = [
        &[
            "srs",
            "import",
            path_str(&ptau),
            "--k",
            &k_arg,
            "-o",
            path_str(&srs),
        ],
        &[
            "setup",
            path_str(&run.artifacts.zkq),
            "--srs",
            path_str(&srs),
            "-o",
            path_str(&keys),
        ],
        &[
            "prove",
            path_str(&run.artifacts.zkq),
            "--pk",
            path_str(&pk),
            "--input",
            path_str(&run.artifacts.input),
            "-o",
            path_str(&proof),
        ],
        &["verify", "--vk", path_str(&vk), path_str(&proof)],
    ];
    for args in steps {
        let (code, msg) = zkinfer(args);
        assert_eq!(code, 0, "zkinfer {args:?}: {msg}");
    }
    let settings = std::fs::read_to_string(keys.join("settings.json")).unwrap();
    assert!(
        settings.contains("\"srs_insecure\": false"),
        "an imported SRS is not labelled insecure"
    );
}
