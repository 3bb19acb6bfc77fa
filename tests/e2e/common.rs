use std::path::Path;
use std::sync::OnceLock;

use zkinfer_gpu::Backend;
use zkinfer_prover::bundled;
use zkinfer_prover::pipeline::{run_bundled, Run};
use zkinfer_prover::progress::Progress;

/// The bundled MLP taken through the whole pipeline once, shared by the tests
/// (setup and proving are the slow part; every test reads the same run).
pub fn mlp_run() -> &'static (tempfile::TempDir, Run) {
    static RUN: OnceLock<(tempfile::TempDir, Run)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let run = run_bundled(
            &bundled::MLP,
            &dir.path().join("mlp"),
            Backend::Cpu,
            &Progress::hidden(),
        )
        .expect("the bundled MLP goes through the pipeline");
        (dir, run)
    })
}

/// Runs the CLI in-process with these arguments; returns its exit code
/// (errors count as 1, like the binary's `main`) and fails on a panic.
pub fn zkinfer(args: &[&str]) -> (u8, String) {
    use clap::Parser;
    let argv: Vec<String> = std::iter::once("zkinfer")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let cli = match zkinfer_prover::cli::Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => return (2, e.to_string()),
    };
    let result = std::panic::catch_unwind(|| zkinfer_prover::cli::run(cli));
    match result {
        Ok(Ok(code)) => (code, String::new()),
        Ok(Err(e)) => (1, e.to_string()),
        Err(_) => panic!("zkinfer {args:?} panicked"),
    }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}
