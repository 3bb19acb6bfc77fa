use std::path::PathBuf;

use clap::Args as ClapArgs;
use zkinfer_quantizer::{hf, inputs, quantize_hf, quantize_onnx, QuantizeOptions};

use super::CliResult;

#[derive(ClapArgs)]
pub struct Args {
    /// The float model: an .onnx file or a Hugging Face folder (config.json + model.safetensors).
    model: PathBuf,
    /// Calibration samples (JSON: {"samples": [...]}). Without it, 64 random
    /// inputs are used: uniform in [-1, 1], which only suits models whose
    /// inputs live in that range, or uniform token ids for models that start
    /// with an embedding.
    #[arg(long)]
    calibration: Option<PathBuf>,
    /// Output .zkq file.
    #[arg(short, long, default_value = "model.zkq")]
    output: PathBuf,
    /// Signed bit width every activation must fit in (the range the circuit proves).
    #[arg(long, default_value_t = 16)]
    activation_bits: u32,
    /// Headroom factor over the largest calibrated value.
    #[arg(long, default_value_t = 2.0)]
    margin: f64,
    /// Force the fixed-point scale 2^s instead of choosing it by calibration.
    #[arg(long)]
    scale_bits: Option<u32>,
    /// Largest lookup table (log2 of its rows) for GELU, tanh, exp, ...: more
    /// rows, finer tables, more accurate and a taller circuit.
    #[arg(long, default_value_t = 12)]
    table_bits: u32,
    /// Hugging Face models only: the number of tokens the model (and so the
    /// circuit) takes; the default is the bundled samples' length. An ONNX
    /// file fixes its own input shape.
    #[arg(long, default_value_t = hf::DEFAULT_SEQ_LEN)]
    seq_len: usize,
}

pub fn run(a: Args) -> CliResult {
    let is_hf = hf::is_hf_folder(&a.model);
    if a.model.is_dir() && !is_hf {
        return Err(format!(
            "{} is a folder without config.json: give an .onnx file or a Hugging Face model folder",
            a.model.display()
        )
        .into());
    }
    let samples = match &a.calibration {
        Some(p) => inputs::load_samples(p)?,
        None => {
            let shapes = if is_hf {
                hf::input_shapes(&a.model, a.seq_len)?
            } else {
                zkinfer_quantizer::onnx::input_shapes(&a.model)?
            };
            let what = if shapes.iter().all(|s| s.vocab.is_some()) {
                "random token ids"
            } else {
                "random inputs in [-1, 1]"
            };
            eprintln!("note: no --calibration file; calibrating on 64 {what}");
            inputs::random_samples(&shapes, 64, 0)
        }
    };
    let opts = QuantizeOptions {
        activation_bits: a.activation_bits,
        margin: a.margin,
        scale_bits: a.scale_bits,
        table_bits: a.table_bits,
        seq_len: a.seq_len,
        ..QuantizeOptions::default()
    };
    let (model, report) = if is_hf {
        quantize_hf(&a.model, &samples, &opts)?
    } else {
        quantize_onnx(&a.model, &samples, &opts)?
    };
    print!("{report}");
    model.save(&a.output)?;
    println!("wrote {} (model id {})", a.output.display(), model.id());
    Ok(0)
}
