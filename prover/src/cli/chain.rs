//! `zkinfer split` and `zkinfer chain setup | prove | verify`: a model too
//! large for one circuit, proved as consecutive parts (see [`crate::chain`]).

use std::path::{Path, PathBuf};

use clap::{Args as ClapArgs, Subcommand};
use zkinfer_circuits::plan;
use zkinfer_gpu::{Backend, BackendChoice};
use zkinfer_quantizer::{inputs, QuantizedModel};

use crate::chain::{check_split_of, part_inputs, verify_chain, write_split, ChainManifest};
use crate::keys::{ProvingKeyFile, VerifyingKeyFile};
use crate::measure::{human_bytes, peak_rss_human, reset_peak_rss};
use crate::progress::Progress;
use crate::proof_file::ProofFile;
use crate::prove::prove;
use crate::setup::{estimated_memory_bytes, estimated_seconds, setup, write_keys};
use crate::srs::{insecure_warning, Srs};

use super::CliResult;

#[derive(ClapArgs)]
pub struct SplitArgs {
    /// The quantized model (.zkq) to cut.
    model: PathBuf,
    /// Number of consecutive parts.
    #[arg(long)]
    parts: usize,
    /// Directory for the parts (`part{i}.zkq`) and the manifest (`split.json`).
    #[arg(short, long, default_value = "split")]
    output: PathBuf,
}

/// Cuts the model, writes the parts and prints each part's circuit and
/// estimated cost, so the number of parts can be chosen before any setup.
pub fn split(a: SplitArgs) -> CliResult {
    let model = QuantizedModel::load(&a.model)?;
    let (manifest, parts) = write_split(&model, a.parts, &a.output)?;
    println!(
        "model {} (id {}) cut into {} parts in {}/",
        model.name,
        &model.id()[..16],
        parts.len(),
        a.output.display()
    );
    for (i, (part, entry)) in parts.iter().zip(&manifest.parts).enumerate() {
        let layout = plan(part)?;
        let (setup_s, prove_s) = estimated_seconds(&layout);
        let crossing: usize = entry
            .inputs
            .iter()
            .filter(|(_, from)| from.is_some())
            .map(|(t, _)| t.len)
            .sum();
        println!(
            "part {i}: {} nodes, {} values in from earlier parts, k = {}, {} advice columns; \
             estimated setup ~{} / ~{setup_s:.0} s, prove ~{prove_s:.0} s",
            entry.nodes,
            crossing,
            layout.k,
            layout.advice_columns,
            human_bytes(estimated_memory_bytes(&layout)),
        );
    }
    println!(
        "next: zkinfer chain setup {0} --srs SRS; zkinfer chain prove {0} --model {1} --input INPUT; \
         zkinfer chain verify {0}",
        a.output.display(),
        a.model.display()
    );
    Ok(0)
}

#[derive(Subcommand)]
pub enum Command {
    /// Keys for every part: DIR/keys{i}/ (pk, vk, settings.json).
    Setup(SetupArgs),
    /// Prove every part on one input: DIR/proof{i}.json.
    Prove(ProveArgs),
    /// Verify every part's proof and that each part's inputs are the outputs
    /// of the part before. Exit code 0 only for a valid chain.
    Verify(VerifyArgs),
}

#[derive(ClapArgs)]
pub struct SetupArgs {
    /// The directory `zkinfer split` wrote.
    dir: PathBuf,
    /// SRS file with k at least every part's.
    #[arg(long)]
    srs: PathBuf,
}

#[derive(ClapArgs)]
pub struct ProveArgs {
    /// The directory `zkinfer split` wrote.
    dir: PathBuf,
    /// The whole model (.zkq) the parts were cut from.
    #[arg(long)]
    model: PathBuf,
    /// The input of the whole model (JSON: {"input": [...]}).
    #[arg(long)]
    input: PathBuf,
    /// auto, cpu or cuda.
    #[arg(long, default_value = "auto")]
    backend: String,
}

#[derive(ClapArgs)]
pub struct VerifyArgs {
    /// The directory `zkinfer split` wrote, with the keys and proofs.
    dir: PathBuf,
    /// The whole model (.zkq): also check that the parts are its split,
    /// recomputed (otherwise the manifest's part ids are trusted).
    #[arg(long)]
    model: Option<PathBuf>,
}

pub fn run(c: Command) -> CliResult {
    match c {
        Command::Setup(a) => chain_setup(a),
        Command::Prove(a) => chain_prove(a),
        Command::Verify(a) => chain_verify(a),
    }
}

fn load_parts(dir: &Path, manifest: &ChainManifest) -> Result<Vec<QuantizedModel>, String> {
    (0..manifest.parts.len())
        .map(|i| {
            let part = QuantizedModel::load(&ChainManifest::part_model(dir, i))
                .map_err(|e| format!("part {i}: {e}"))?;
            if part.id() != manifest.parts[i].model_id {
                return Err(format!(
                    "part {i} ({}) is not the model split.json names",
                    ChainManifest::part_model(dir, i).display()
                ));
            }
            Ok(part)
        })
        .collect()
}

fn chain_setup(a: SetupArgs) -> CliResult {
    let manifest = ChainManifest::load(&a.dir)?;
    let parts = load_parts(&a.dir, &manifest)?;
    let srs = Srs::load(&a.srs)?;
    if srs.is_insecure() {
        eprintln!("{}", insecure_warning());
    }
    for (i, part) in parts.iter().enumerate() {
        let layout = plan(part)?;
        let (setup_s, _) = estimated_seconds(&layout);
        println!(
            "part {i}: k = {}, estimated setup ~{} / ~{setup_s:.0} s",
            layout.k,
            human_bytes(estimated_memory_bytes(&layout))
        );
        reset_peak_rss();
        let progress = Progress::spinner(&format!("setup part {i}"));
        let out = setup(part, &srs, &progress)?;
        write_keys(&out, &ChainManifest::part_keys(&a.dir, i))?;
        progress.finish();
        println!(
            "part {i}: setup done in {:.2} s, peak memory {}",
            out.elapsed.as_secs_f64(),
            peak_rss_human()
        );
    }
    Ok(0)
}

fn chain_prove(a: ProveArgs) -> CliResult {
    let backend = Backend::select(a.backend.parse::<BackendChoice>()?)?;
    let manifest = ChainManifest::load(&a.dir)?;
    let parts = load_parts(&a.dir, &manifest)?;
    let model = QuantizedModel::load(&a.model)?;
    let q = inputs::quantize_inputs(&model, &inputs::load_input(&a.input)?)?;
    let per_part = part_inputs(&manifest, &model, &q)?;
    for (i, (part, input)) in parts.iter().zip(per_part).enumerate() {
        reset_peak_rss();
        let progress = Progress::spinner(&format!("prove part {i}"));
        progress.stage("loading the proving key");
        let pk = ProvingKeyFile::load(&ChainManifest::part_keys(&a.dir, i).join("pk"))?;
        let out = prove(part, &pk, input, backend, &progress)?;
        progress.finish();
        let path = ChainManifest::part_proof(&a.dir, i);
        out.proof.save(&path)?;
        println!(
            "part {i}: proved in {:.2} s, peak memory {} -> {}",
            out.elapsed.as_secs_f64(),
            peak_rss_human(),
            path.display()
        );
    }
    Ok(0)
}

fn chain_verify(a: VerifyArgs) -> CliResult {
    let manifest = ChainManifest::load(&a.dir)?;
    if let Some(path) = &a.model {
        check_split_of(&manifest, &QuantizedModel::load(path)?)?;
    }
    let n = manifest.parts.len();
    let keys = (0..n)
        .map(|i| VerifyingKeyFile::load(&ChainManifest::part_keys(&a.dir, i).join("vk")))
        .collect::<Result<Vec<_>, _>>()?;
    let proofs = (0..n)
        .map(|i| ProofFile::load(&ChainManifest::part_proof(&a.dir, i)))
        .collect::<Result<Vec<_>, _>>()?;
    match verify_chain(&manifest, &keys, &proofs) {
        Ok(()) => {
            println!(
                "VALID: {n} part proofs of model {} ({}) form one inference",
                manifest.model_name,
                &manifest.model_id[..16]
            );
            if keys.iter().any(|k| k.header.srs_insecure) {
                println!("note: the keys were made with an INSECURE dev SRS; this proof is only meaningful for testing");
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("INVALID: {e}");
            Ok(1)
        }
    }
}
