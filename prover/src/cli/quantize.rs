use std::path::PathBuf;

use clap::Args as ClapArgs;
use zkinfer_quantizer::{inputs, quantize_onnx, QuantizeOptions};

use super::CliResult;

#[derive(ClapArgs)]
pub struct Args {
    /// The float model (ONNX).
    model: PathBuf,
    /// Calibration samples (JSON: {"samples": [...]}). Without it, 64 uniform
    /// random inputs in [-1, 1] are used, which only suits models whose inputs
    /// live in that range.
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
}

pub fn run(a: Args) -> CliResult {
    let samples = match &a.calibration {
        Some(p) => inputs::load_samples(p)?,
        None => {
            eprintln!("note: no --calibration file; calibrating on 64 random inputs in [-1, 1]");
            let shapes = zkinfer_quantizer::onnx::input_shapes(&a.model)?;
            inputs::random_samples(&shapes, 64, 0)
        }
    };
    let opts = QuantizeOptions {
        activation_bits: a.activation_bits,
        margin: a.margin,
        scale_bits: a.scale_bits,
        table_bits: a.table_bits,
        ..QuantizeOptions::default()
    };
    let (model, report) = quantize_onnx(&a.model, &samples, &opts)?;
    print!("{report}");
    model.save(&a.output)?;
    println!("wrote {} (model id {})", a.output.display(), model.id());
    Ok(0)
}
