//! The whole path on one bundled model (quantize, dev SRS, setup, prove,
//! verify), measured step by step. `zkinfer demo`, `zkinfer bench`, the
//! criterion bench and the end-to-end tests all run this one function.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zkinfer_circuits::{Layout, Visibility};
use zkinfer_gpu::Backend;
use zkinfer_quantizer::{
    inputs, quantize_onnx, reference::FloatReference, AccuracyReport, QuantizedModel,
};

use crate::accuracy::{self, Accuracy};
use crate::bundled::{BundledModel, OutputKind};
use crate::error::ProverError;
use crate::keys::VerifyingKeyFile;
use crate::measure::{peak_rss_bytes, reset_peak_rss};
use crate::progress::Progress;
use crate::proof_file::ProofFile;
use crate::prove::prove;
use crate::setup::{setup_visible, write_keys};
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
#[derive(Clone, Debug)]
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
    /// The proved output against the float model (tract) on the bundled input.
    pub accuracy: Accuracy,
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
/// A bundled model quantized as `run_bundled` quantizes it (its embedded
/// ONNX, calibration samples and options), through a temporary directory.
pub fn quantize_bundled(bundled: &BundledModel) -> Result<QuantizedModel, ProverError> {
    let dir =
        tempfile::tempdir().map_err(|e| ProverError::Io("a temporary directory".into(), e))?;
    let art = Artifacts::in_dir(dir.path());
    std::fs::write(&art.onnx, bundled.onnx).map_err(io_err(&art.onnx))?;
    std::fs::write(&art.samples, bundled.samples).map_err(io_err(&art.samples))?;
    let samples = inputs::load_samples(&art.samples)?;
    let (model, _) = quantize_onnx(&art.onnx, &samples, &bundled.quantize_options())?;
    Ok(model)
}

pub fn run_bundled(
    bundled: &BundledModel,
    dir: &Path,
    backend: Backend,
    progress: &Progress,
) -> Result<Run, ProverError> {
    run_bundled_visible(bundled, dir, backend, Visibility::default(), progress)
}

/// [`run_bundled`] with `visibility`.
pub fn run_bundled_visible(
    bundled: &BundledModel,
    dir: &Path,
    backend: Backend,
    visibility: Visibility,
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
    let (model, report) = quantize_onnx(&art.onnx, &samples, &bundled.quantize_options())?;
    model.save(&art.zkq)?;
    let quantize_time = t.elapsed();

    // The SRS has exactly the k the planner asks for: the largest models
    // need more rows than any fixed default.
    let layout = zkinfer_circuits::plan_visible(&model, visibility)?;
    progress.stage(&format!("dev SRS (k = {})", layout.k));
    let srs = Srs::dev(layout.k, Some(DEMO_SRS_SEED));
    srs.save(&art.srs)?;

    reset_peak_rss();
    let keys = setup_visible(&model, &srs, visibility, progress)?;
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
    let widths: Vec<usize> = model
        .outputs
        .iter()
        .map(|&id| model.tensors[id].shape.last().copied().unwrap_or(1))
        .collect();
    let accuracy = Accuracy {
        max_abs_error: accuracy::max_abs_error(&proof.output, &reference),
        top1: (bundled.outputs == OutputKind::Logits)
            .then(|| accuracy::top1_agreement(&proof.output, &reference, &widths)),
        min_cosine: (bundled.outputs == OutputKind::Embeddings)
            .then(|| accuracy::min_cosine(&proof.output, &reference, &widths)),
    };

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
        accuracy,
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
/// `top-1` is the share of tokens (vectors along the last axis) whose
/// argmax the proved logits keep; `min cos` the worst cosine similarity of
/// a proved hidden state / embedding with the float one; "-" where the
/// model's outputs are neither.
pub fn print_figures(runs: &[&RunFigures], w: &mut dyn Write) -> std::io::Result<()> {
    use crate::measure::human_bytes;
    let mem = |b: Option<u64>| b.map_or("n/a".to_string(), human_bytes);
    let name_w = runs.iter().map(|f| f.model.len()).fold(5, usize::max);
    writeln!(
        w,
        "{:<name_w$} {:>3} {:>6} {:>6} {:>7} {:>9} {:>10} {:>9} {:>10} {:>9} {:>8} {:>10} {:>11} {:>10}",
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
        "max |err|",
        "top-1",
        "min cos"
    )?;
    for f in runs {
        let a = &f.accuracy;
        let top1 = a
            .top1
            .map_or("-".to_string(), |(agree, total)| format!("{agree}/{total}"));
        // Eight decimals: quantization noise shows up around the sixth.
        let cos = a.min_cosine.map_or("-".to_string(), |c| format!("{c:.8}"));
        writeln!(
            w,
            "{:<name_w$} {:>3} {:>6} {:>6} {:>7} {:>9.2} {:>10} {:>9.2} {:>10} {:>9.1} {:>8} {:>10.2e} {:>11} {:>10}",
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
            a.max_abs_error,
            top1,
            cos
        )?;
    }
    Ok(())
}
