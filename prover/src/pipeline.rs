//! The whole path on one bundled model (quantize, dev SRS, setup, prove,
//! verify), measured step by step. `zkinfer demo`, `zkinfer bench`, the
//! criterion bench and the end-to-end tests all run this one function.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zkinfer_circuits::Layout;
use zkinfer_gpu::Backend;
use zkinfer_quantizer::{
    inputs, quantize_onnx, reference::FloatReference, AccuracyReport, QuantizeOptions,
    QuantizedModel,
};

use crate::bundled::BundledModel;
use crate::error::ProverError;
use crate::keys::VerifyingKeyFile;
use crate::measure::{peak_rss_bytes, reset_peak_rss};
use crate::progress::Progress;
use crate::proof_file::ProofFile;
use crate::prove::prove;
use crate::setup::{setup, write_keys};
use crate::srs::Srs;
use crate::verify::verify;

/// Seed of the demo's dev SRS: reproducible, and just as insecure as any dev SRS.
pub const DEMO_SRS_SEED: u64 = 42;

/// Paths of everything a run writes, in its directory.
pub struct Artifacts {
    pub onnx: PathBuf,
    pub samples: PathBuf,
    pub input: PathBuf,
    pub zkq: PathBuf,
    pub srs: PathBuf,
    pub keys: PathBuf,
    pub proof: PathBuf,
}

impl Artifacts {
    pub fn in_dir(dir: &Path) -> Self {
        Artifacts {
            onnx: dir.join("model.onnx"),
            samples: dir.join("samples.json"),
            input: dir.join("input.json"),
            zkq: dir.join("model.zkq"),
            srs: dir.join("dev.srs"),
            keys: dir.join("keys"),
            proof: dir.join("proof.json"),
        }
    }
}

/// Figures of one run, per step.
pub struct RunFigures {
    pub model: String,
    pub layout: Layout,
    pub quantize: Duration,
    pub setup: Duration,
    pub setup_peak_rss: Option<u64>,
    pub prove: Duration,
    pub prove_peak_rss: Option<u64>,
    pub verify: Duration,
    pub proof_bytes: usize,
    pub max_abs_error: f64,
}

pub struct Run {
    pub artifacts: Artifacts,
    pub model: QuantizedModel,
    pub report: AccuracyReport,
    pub proof: ProofFile,
    pub outputs: Vec<Vec<i64>>,
    pub reference: Vec<Vec<f64>>,
    pub figures: RunFigures,
}

fn io_err(p: &Path) -> impl FnOnce(std::io::Error) -> ProverError + '_ {
    move |e| ProverError::Io(p.display().to_string(), e)
}

/// Runs the pipeline on `bundled` inside `dir` (created if missing).
pub fn run_bundled(
    bundled: &BundledModel,
    dir: &Path,
    backend: Backend,
    progress: &Progress,
) -> Result<Run, ProverError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let art = Artifacts::in_dir(dir);
    std::fs::write(&art.onnx, bundled.onnx).map_err(io_err(&art.onnx))?;
    std::fs::write(&art.samples, bundled.samples).map_err(io_err(&art.samples))?;
    std::fs::write(&art.input, bundled.input).map_err(io_err(&art.input))?;

    progress.stage("quantizing");
    let t = Instant::now();
    let samples = inputs::load_samples(&art.samples)?;
    let opts = QuantizeOptions {
        name: Some(bundled.name.to_string()),
        ..QuantizeOptions::default()
    };
    let (model, report) = quantize_onnx(&art.onnx, &samples, &opts)?;
    model.save(&art.zkq)?;
    let quantize_time = t.elapsed();

    let layout = zkinfer_circuits::plan(&model)?;
    progress.stage(&format!("dev SRS (k = {})", layout.k));
    let srs = Srs::dev(layout.k, Some(DEMO_SRS_SEED));
    srs.save(&art.srs)?;

    reset_peak_rss();
    let keys = setup(&model, &srs, progress)?;
    let setup_peak = peak_rss_bytes();
    write_keys(&keys, &art.keys)?;

    let real_input = inputs::load_input(&art.input)?;
    let q_input = inputs::quantize_inputs(&model, &real_input)?;
    reset_peak_rss();
    let proved = prove(&model, &keys.pk, q_input, backend, progress)?;
    let prove_peak = peak_rss_bytes();
    proved.proof.save(&art.proof)?;

    progress.stage("verifying");
    let vk = VerifyingKeyFile::load(&art.keys.join("vk"))?;
    let proof = ProofFile::load(&art.proof)?;
    let t = Instant::now();
    verify(&vk.view(), &proof)?;
    let verify_time = t.elapsed();

    let reference = FloatReference::load(&art.onnx)?.run(&real_input)?;
    let max_abs_error = proof
        .output
        .iter()
        .flatten()
        .zip(reference.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);

    let figures = RunFigures {
        model: bundled.name.to_string(),
        layout: keys.layout.clone(),
        quantize: quantize_time,
        setup: keys.elapsed,
        setup_peak_rss: setup_peak,
        prove: proved.elapsed,
        prove_peak_rss: prove_peak,
        verify: verify_time,
        proof_bytes: proof.proof_bytes()?.len(),
        max_abs_error,
    };
    Ok(Run {
        artifacts: art,
        model,
        report,
        proof,
        outputs: proved.outputs,
        reference,
        figures,
    })
}

/// One table row per run: the figures the issue asks the bench to print.
pub fn print_figures(runs: &[&RunFigures], w: &mut dyn Write) -> std::io::Result<()> {
    use crate::measure::human_bytes;
    let mem = |b: Option<u64>| b.map_or("n/a".to_string(), human_bytes);
    writeln!(
        w,
        "{:<8} {:>3} {:>6} {:>6} {:>7} {:>9} {:>10} {:>9} {:>10} {:>9} {:>8} {:>10}",
        "model",
        "k",
        "advice",
        "fixed",
        "lookups",
        "setup s",
        "setup mem",
        "prove s",
        "prove mem",
        "verify ms",
        "proof B",
        "max |err|"
    )?;
    for f in runs {
        writeln!(
            w,
            "{:<8} {:>3} {:>6} {:>6} {:>7} {:>9.2} {:>10} {:>9.2} {:>10} {:>9.1} {:>8} {:>10.2e}",
            f.model,
            f.layout.k,
            f.layout.advice_columns,
            f.layout.fixed_columns,
            f.layout.lookups,
            f.setup.as_secs_f64(),
            mem(f.setup_peak_rss),
            f.prove.as_secs_f64(),
            mem(f.prove_peak_rss),
            f.verify.as_secs_f64() * 1e3,
            f.proof_bytes,
            f.max_abs_error
        )?;
    }
    Ok(())
}
