use std::path::PathBuf;

use crate::measure::{human_bytes, peak_rss_human, reset_peak_rss};
use crate::progress::Progress;
use crate::setup::{estimated_memory_bytes, estimated_seconds, setup_visible, write_keys};
use crate::srs::{insecure_warning, Srs};
use clap::Args as ClapArgs;
use zkinfer_circuits::plan_visible;
use zkinfer_quantizer::QuantizedModel;

use super::CliResult;

#[derive(ClapArgs)]
pub struct Args {
    /// The quantized model (from `zkinfer quantize`).
    model: PathBuf,
    /// SRS file (from `zkinfer srs dev` or `zkinfer srs import`) with k at least the circuit's.
    #[arg(long)]
    srs: PathBuf,
    /// Directory for `pk`, `vk` and `settings.json`.
    #[arg(short, long, default_value = "keys")]
    output: PathBuf,
    #[command(flatten)]
    visibility: super::visibility::VisibilityArgs,
}

pub fn run(a: Args) -> CliResult {
    let model = QuantizedModel::load(&a.model)?;
    let visibility = a.visibility.get()?;
    let layout = plan_visible(&model, visibility)?;
    println!(
        "model {} (id {}), {} weights, {} input",
        model.name,
        &model.id()[..16],
        visibility.weights,
        visibility.input
    );
    println!("{layout}");
    let (setup_s, prove_s) = estimated_seconds(&layout);
    println!(
        "estimated: setup ~{} peak memory, ~{setup_s:.0} s; prove ~{prove_s:.0} s (2 cores)",
        human_bytes(estimated_memory_bytes(&layout))
    );
    let srs = Srs::load(&a.srs)?;
    if srs.is_insecure() {
        eprintln!("{}", insecure_warning());
    }
    reset_peak_rss();
    let progress = Progress::spinner("setup");
    let out = setup_visible(&model, &srs, visibility, &progress)?;
    progress.stage("writing keys");
    write_keys(&out, &a.output)?;
    progress.finish();
    println!(
        "setup done in {:.2} s, peak memory {}; keys in {}/ (pk, vk, settings.json), vk id {}",
        out.elapsed.as_secs_f64(),
        peak_rss_human(),
        a.output.display(),
        &out.vk.header.vk_id[..16]
    );
    if out.vk.header.circuit.private_weights() {
        println!(
            "the keys hold no weight; every proof carries the model commitment {} (`zkinfer commit`)",
            out.vk.header.model_id
        );
    }
    Ok(0)
}
