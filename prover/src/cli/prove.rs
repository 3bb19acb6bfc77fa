use std::path::PathBuf;

use crate::keys::{fr_from_hex, fr_to_hex, ProvingKeyFile};
use crate::measure::{human_bytes, peak_rss_human, reset_peak_rss};
use crate::progress::Progress;
use crate::prove::prove_salted;
use crate::report::print_outputs;
use crate::srs::insecure_warning;
use clap::Args as ClapArgs;
use halo2curves::bn256::Fr;
use zkinfer_circuits::public::PublicInput;
use zkinfer_gpu::{Backend, BackendChoice};
use zkinfer_quantizer::excursions::table_excursions;
use zkinfer_quantizer::{infer, inputs, reference::FloatReference, QuantizedModel};

use super::CliResult;

#[derive(ClapArgs)]
pub struct Args {
    /// The quantized model (.zkq) the keys were made for.
    model: PathBuf,
    /// The proving key (`pk` from `zkinfer setup`).
    #[arg(long)]
    pk: PathBuf,
    /// The input (JSON: {"input": [...]}).
    #[arg(long)]
    input: PathBuf,
    /// The proof file to write.
    #[arg(short, long, default_value = "proof.json")]
    output: PathBuf,
    /// The float ONNX model, to print its output next to the proved one.
    #[arg(long)]
    onnx: Option<PathBuf>,
    /// auto (GPU if built with CUDA and present, else CPU), cpu or cuda.
    #[arg(long, default_value = "auto")]
    backend: String,
    /// public or hashed: a check that the proving key was set up so (the
    /// choice is made at `zkinfer setup`, the circuits differ).
    #[arg(long = "input-visibility")]
    input_visibility: Option<String>,
    /// The salt of a hashed input's commitment (0x-hex, from the requester's
    /// `zkinfer commit-input --random-salt`); 0 when absent.
    #[arg(long)]
    salt: Option<String>,
}

pub fn run(a: Args) -> CliResult {
    let backend = Backend::select(a.backend.parse::<BackendChoice>()?)?;
    let model = QuantizedModel::load(&a.model)?;
    let real_inputs = inputs::load_input(&a.input)?;
    // Out-of-range inputs are reported here, naming the tensor, before any proving.
    let q_inputs = inputs::quantize_inputs(&model, &real_inputs)?;
    // Lookup inputs beyond their tables, before any proving (see `excursions`).
    let trace = infer::run(&model, &q_inputs)?;
    for e in table_excursions(&model, &trace) {
        eprintln!("note: {e}");
    }
    let reference = match &a.onnx {
        Some(p) => Some(FloatReference::load(p)?.run(&real_inputs)?),
        None => None,
    };
    reset_peak_rss();
    let loading = Progress::spinner("prove");
    loading.stage("loading the proving key");
    let pk = ProvingKeyFile::load(&a.pk)?;
    if let Some(want) = &a.input_visibility {
        let have = pk.header.circuit.input.to_string();
        if *want != have {
            return Err(format!(
                "the proving key was set up with a {have} input, not {want}: run `zkinfer setup \
                 --input-visibility {want}` for that"
            )
            .into());
        }
    }
    if pk.header.srs_insecure {
        eprintln!("{}", insecure_warning());
    }
    let salt = match &a.salt {
        Some(s) if !pk.header.circuit.hashed_input() => {
            return Err(format!(
                "--salt {s}: the key's input is public, so there is no input commitment to salt"
            )
            .into())
        }
        Some(s) => fr_from_hex(s, "--salt")?,
        None => Fr::zero(),
    };
    let out = prove_salted(&model, &pk, q_inputs, salt, backend, &loading)?;
    loading.finish();
    out.proof.save(&a.output)?;
    print_outputs(
        &model,
        &out.outputs,
        reference.as_deref(),
        &mut std::io::stdout(),
    )?;
    let bytes = out.proof.proof_bytes()?.len();
    println!(
        "proved in {:.2} s on {backend}, peak memory {}, proof {} ({} public values in {} instances) -> {}",
        out.elapsed.as_secs_f64(),
        peak_rss_human(),
        human_bytes(bytes as u64),
        out.proof.num_inputs + out.proof.num_outputs,
        out.proof.instances.len(),
        a.output.display()
    );
    if let Some(c) = out.proof.model_commitment()? {
        println!("model commitment {}", fr_to_hex(&c));
    }
    if let PublicInput::Commitment(c) = out.proof.public_values()?.input {
        println!("input commitment {}", fr_to_hex(&c));
    }
    Ok(0)
}
