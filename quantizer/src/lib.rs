//! From a float model (ONNX, or a Hugging Face checkpoint) to a fixed-point
//! integer model (`.zkq`) that the circuits prove, with calibration and an
//! accuracy report.
//!
//! Pipeline of [`quantize_onnx`]: [`onnx`] imports the file into a
//! [`float_graph::FloatGraph`] (fusing GELU, layer norm and masked softmax
//! patterns); evaluating it on calibration samples gives every tensor's
//! range and every lookup table's input range; [`calibrate`] picks the
//! scale, [`tables`] sizes the lookup tables; [`quantize`] builds the
//! [`QuantizedModel`]; [`report`] compares it with the file run by tract
//! ([`reference`]). [`quantize_hf`] does the same for a Hugging Face folder
//! ([`hf`] builds its float graph; the report's reference is then our own
//! f64 evaluator).

pub mod calibrate;
pub mod error;
pub mod error_bound;
pub mod excursions;
pub mod fixed;
pub mod float_graph;
pub mod hf;
pub mod infer;
pub mod inputs;
pub mod model;
pub mod nonlinear;
pub mod onnx;
pub mod quantize;
pub mod reference;
pub mod report;
pub mod split;
pub mod tables;
pub mod wiring;

use std::path::Path;

pub use error::QuantizeError;
use float_graph::FloatGraph;
pub use model::{Node, Op, QuantizedModel, TensorId, TensorInfo};
pub use report::AccuracyReport;

/// Knobs of [`quantize_onnx`] and [`quantize_hf`]; see [`calibrate`] for how they set the scale.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizeOptions {
    /// Signed width of every activation, as the circuits range-check it.
    pub activation_bits: u32,
    /// Head room factor over the calibrated ranges (>= 1).
    pub margin: f64,
    /// Force this scale instead of choosing the largest that fits.
    pub scale_bits: Option<u32>,
    /// Lookup tables (GELU, tanh, softmax's exp, ...) have at most
    /// `2^table_bits` rows: fewer rows, coarser tables (see [`tables`]).
    pub table_bits: u32,
    /// Model name in the `.zkq`; default: the file's stem (a Hugging Face
    /// folder's name).
    pub name: Option<String>,
    /// Hugging Face checkpoints only: the number of tokens the graph is
    /// built for (an ONNX file fixes its own shapes). Default
    /// [`hf::DEFAULT_SEQ_LEN`].
    pub seq_len: usize,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            activation_bits: 16,
            margin: 2.0,
            scale_bits: None,
            table_bits: 12,
            name: None,
            seq_len: hf::DEFAULT_SEQ_LEN,
        }
    }
}

/// Imports, calibrates on `samples` (each one flat tensor per model input;
/// see [`inputs::random_samples`] when the user has none) and quantizes an
/// ONNX model, and reports its accuracy against tract on the same samples.
pub fn quantize_onnx(
    path: &Path,
    samples: &[Vec<Vec<f64>>],
    opts: &QuantizeOptions,
) -> Result<(QuantizedModel, AccuracyReport), QuantizeError> {
    check_options(opts)?;
    let graph = onnx::load_onnx(path)?;
    let default_name = path
        .file_stem()
        .map_or_else(|| graph.name.clone(), |s| s.to_string_lossy().into_owned());
    let model = quantize_float_graph(&graph, samples, opts, &default_name)?;
    let reference = reference::FloatReference::load(path)?;
    let report = AccuracyReport::build(&graph, &model, &reference, samples, opts.margin)?;
    Ok((model, report))
}

/// [`quantize_onnx`] for a Hugging Face model folder (`config.json` +
/// `model.safetensors`, see [`hf`]), built for `opts.seq_len` tokens. The
/// report's float reference is zkinfer's own f64 evaluation of the graph:
/// nothing here runs a checkpoint independently.
pub fn quantize_hf(
    folder: &Path,
    samples: &[Vec<Vec<f64>>],
    opts: &QuantizeOptions,
) -> Result<(QuantizedModel, AccuracyReport), QuantizeError> {
    check_options(opts)?;
    let graph = hf::load_hf(folder, opts.seq_len)?;
    let model = quantize_float_graph(&graph, samples, opts, &hf::folder_name(folder))?;
    let report = AccuracyReport::build(&graph, &model, &graph, samples, opts.margin)?;
    Ok((model, report))
}

fn check_options(opts: &QuantizeOptions) -> Result<(), QuantizeError> {
    calibrate::check_options(opts.activation_bits, opts.margin)?;
    tables::check_table_bits(opts.table_bits)
}

/// Calibrates `graph` on `samples` and quantizes it: the part of
/// [`quantize_onnx`] and [`quantize_hf`] after import. The model is named
/// `opts.name`, else `default_name`.
pub fn quantize_float_graph(
    graph: &FloatGraph,
    samples: &[Vec<Vec<f64>>],
    opts: &QuantizeOptions,
    default_name: &str,
) -> Result<QuantizedModel, QuantizeError> {
    if samples.is_empty() {
        return Err(QuantizeError::Calibration(
            "no calibration samples (inputs::random_samples makes some)".into(),
        ));
    }
    let obs = graph.observe(samples)?;
    let max_abs = calibrate::activation_ranges(graph, &obs.max_abs);
    let scale_bits = match opts.scale_bits {
        Some(s) => {
            calibrate::check_scale_bits(graph, &max_abs, s, opts.activation_bits, opts.margin)?
        }
        None => calibrate::choose_scale_bits(graph, &max_abs, opts.activation_bits, opts.margin)?,
    };
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| default_name.to_string());
    let tables = tables::TableOptions {
        margin: opts.margin,
        table_bits: opts.table_bits,
    };
    quantize::quantize_graph(
        graph,
        &obs,
        scale_bits,
        opts.activation_bits,
        &tables,
        &name,
    )
}
