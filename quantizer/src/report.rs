//! The accuracy report: what the chosen scale allows, how close each tensor
//! comes to that range, what each lookup table holds against the inputs it
//! saw, and how far the quantized model is from the float reference
//! ([`crate::reference`]: tract for ONNX files, zkinfer's own evaluator for
//! Hugging Face checkpoints) on the calibration samples.

use std::fmt;

use crate::error::QuantizeError;
use crate::error_bound::{error_bounds, ops_without_bound};
use crate::fixed::dequantize;
use crate::float_graph::{FloatGraph, Observations};
use crate::infer;
use crate::inputs::quantize_inputs;
use crate::model::{Op, QuantizedModel};
use crate::reference::{Reference, ReferenceKind};
use crate::tables::{saturation_points, table_range};

#[derive(Clone, Debug, PartialEq)]
pub struct AccuracyReport {
    pub model_name: String,
    pub scale_bits: u32,
    pub activation_bits: u32,
    pub margin: f64,
    pub samples: usize,
    /// Importer assumptions (symbolic dimensions set to 1, ...).
    pub notes: Vec<String>,
    /// Model inputs first, then every node output, in graph order.
    pub tensors: Vec<TensorRange>,
    /// One row per lookup table (`Pointwise` and softmax exp), in graph order.
    pub tables: Vec<TableRange>,
    pub outputs: Vec<OutputAccuracy>,
    /// Ops for which [`crate::error_bound`] derives no worst-case bound
    /// ("softmax (node 'x')"); outputs downstream of one have an infinite bound.
    pub no_bound: Vec<String>,
    /// Max |our f64 evaluator - the reference| over all outputs and samples
    /// (0 when the reference is that evaluator).
    pub importer_vs_reference: f64,
    /// What the errors are measured against.
    pub reference: ReferenceKind,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TableRange {
    pub node: String,
    pub onnx_op: String,
    /// "gelu", "tanh", ... or "softmax exp".
    pub function: String,
    /// `[min, max]` of the table's input over the samples, real units.
    pub observed: Option<(f64, f64)>,
    /// The real inputs `[first, end)` the table holds; outside, it saturates.
    pub holds: (f64, f64),
    /// Below the first and above the second, the function is within half a
    /// step of its saturation value ([`crate::tables::saturation_points`]).
    pub saturates_at: (f64, f64),
    pub rows: usize,
    /// `t`: inputs share a row in buckets of `2^t` steps.
    pub in_shift: u32,
}

impl TableRange {
    /// Whether some observed input fell outside the table where the
    /// function has not saturated yet, so that the saturation value was an
    /// approximation (inputs beyond the saturation points are exact to half
    /// a step, and a softmax row's maximum, `x - max = 0`, is the exact
    /// `exp(0)` above its table).
    pub fn saturated(&self) -> bool {
        self.observed.is_some_and(|(a, b)| {
            (a < self.holds.0 && self.holds.0 > self.saturates_at.0)
                || (b > self.holds.1 && self.holds.1 < self.saturates_at.1)
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TensorRange {
    /// The producing node's name, or `None` for a model input.
    pub node: Option<String>,
    pub onnx_op: Option<String>,
    pub tensor: String,
    pub shape: Vec<usize>,
    pub max_abs: f64,
    /// Integer token ids (`max_abs` is the largest id), not activations.
    pub token_ids: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputAccuracy {
    pub name: String,
    pub shape: Vec<usize>,
    /// Max over samples and elements of |dequantized - reference|.
    pub max_abs_error: f64,
    pub mean_abs_error: f64,
    /// Per output element, max over samples of |dequantized - reference|.
    pub per_element_max: Vec<f64>,
    /// Per output element, max over samples of the worst-case bound of
    /// [`crate::error_bound`].
    pub per_element_bound: Vec<f64>,
    /// Largest |value| of the reference output, to put the errors in scale.
    pub reference_max_abs: f64,
}

impl AccuracyReport {
    /// Runs the float graph, the reference and the quantized model on
    /// `samples` and compares them.
    pub fn build(
        graph: &FloatGraph,
        model: &QuantizedModel,
        reference: &dyn Reference,
        samples: &[Vec<Vec<f64>>],
        margin: f64,
    ) -> Result<Self, QuantizeError> {
        let s = model.scale_bits;
        let mut outputs: Vec<OutputAccuracy> = model
            .outputs
            .iter()
            .map(|&id| OutputAccuracy {
                name: model.tensors[id].name.clone(),
                shape: model.tensors[id].shape.clone(),
                max_abs_error: 0.0,
                mean_abs_error: 0.0,
                per_element_max: vec![0.0; model.tensors[id].len()],
                per_element_bound: vec![0.0; model.tensors[id].len()],
                reference_max_abs: 0.0,
            })
            .collect();
        let mut importer_vs_reference = 0.0f64;
        let mut error_sum = vec![0.0f64; outputs.len()];
        let mut obs = Observations::new(graph);
        for sample in samples {
            let values = graph.evaluate(sample)?;
            obs.record(graph, &values)?;
            let bounds = error_bounds(graph, model, &values);
            let expected = reference.run(sample)?;
            if expected.len() != outputs.len() {
                return Err(QuantizeError::Reference(format!(
                    "{} returns {} outputs, the importer {}",
                    reference.kind().label(),
                    expected.len(),
                    outputs.len()
                )));
            }
            let trace = infer::run(model, &quantize_inputs(model, sample)?)?;
            for (k, (&id, out)) in model.outputs.iter().zip(&mut outputs).enumerate() {
                let (ours, theirs, quantized) = (&values[id], &expected[k], trace.tensor(id));
                if theirs.len() != ours.len() {
                    return Err(QuantizeError::Reference(format!(
                        "output '{}' has {} values in {}, {} in the importer",
                        out.name,
                        reference.kind().label(),
                        theirs.len(),
                        ours.len()
                    )));
                }
                for i in 0..ours.len() {
                    importer_vs_reference = importer_vs_reference.max((ours[i] - theirs[i]).abs());
                    let err = (dequantize(quantized[i], s) - theirs[i]).abs();
                    out.per_element_max[i] = out.per_element_max[i].max(err);
                    out.per_element_bound[i] = out.per_element_bound[i].max(bounds[id][i]);
                    out.reference_max_abs = out.reference_max_abs.max(theirs[i].abs());
                    error_sum[k] += err;
                }
            }
        }
        for (out, sum) in outputs.iter_mut().zip(error_sum) {
            out.max_abs_error = out.per_element_max.iter().copied().fold(0.0, f64::max);
            let count = samples.len() * out.per_element_max.len();
            out.mean_abs_error = if count == 0 { 0.0 } else { sum / count as f64 };
        }
        let ids = model.token_id_tensors();
        let range = |id: usize| TensorRange {
            node: None,
            onnx_op: None,
            tensor: model.tensors[id].name.clone(),
            shape: model.tensors[id].shape.clone(),
            max_abs: model.tensors[id].calibrated_max_abs,
            token_ids: ids[id],
        };
        let mut tensors: Vec<TensorRange> = model.inputs.iter().map(|&id| range(id)).collect();
        tensors.extend(model.nodes.iter().map(|n| TensorRange {
            node: Some(n.name.clone()),
            onnx_op: Some(n.onnx_op.clone()),
            ..range(n.output)
        }));
        Ok(AccuracyReport {
            model_name: model.name.clone(),
            scale_bits: s,
            activation_bits: model.activation_bits,
            margin,
            samples: samples.len(),
            notes: graph.notes.clone(),
            tensors,
            tables: table_rows(model, &obs),
            outputs,
            no_bound: ops_without_bound(graph),
            importer_vs_reference,
            reference: reference.kind(),
        })
    }

    /// The real values activations may take: `[-range, range)`.
    pub fn real_range(&self) -> f64 {
        2f64.powi(self.activation_bits as i32 - 1 - self.scale_bits as i32)
    }

    /// Largest error over all outputs.
    pub fn max_abs_error(&self) -> f64 {
        self.outputs
            .iter()
            .map(|o| o.max_abs_error)
            .fold(0.0, f64::max)
    }

    /// Percentage of the allowed range a tensor left unused on calibration.
    pub fn headroom_percent(&self, t: &TensorRange) -> f64 {
        100.0 * (1.0 - t.max_abs / self.real_range())
    }
}

fn table_rows(model: &QuantizedModel, obs: &Observations) -> Vec<TableRange> {
    let s = model.scale_bits;
    model
        .nodes
        .iter()
        .zip(&obs.table_inputs)
        .filter_map(|(n, &observed)| {
            let (table, function) = match &n.op {
                Op::Pointwise { table } => (table, format!("{:?}", table.func).to_lowercase()),
                Op::Softmax { exp, .. } => (exp, "softmax exp".to_string()),
                _ => return None,
            };
            Some(TableRange {
                node: n.name.clone(),
                onnx_op: n.onnx_op.clone(),
                function,
                observed,
                holds: table_range(table, s),
                saturates_at: saturation_points(table.func, s),
                rows: table.len(),
                in_shift: table.in_shift,
            })
        })
        .collect()
}

impl fmt::Display for AccuracyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, a) = (self.scale_bits, self.activation_bits);
        let range = self.real_range();
        writeln!(f, "accuracy report for '{}'", self.model_name)?;
        writeln!(
            f,
            "  fixed point: scale 2^{s} (step {:.3e}); {a}-bit signed activations, real range [-{range}, {range})",
            2f64.powi(-(s as i32)),
        )?;
        writeln!(
            f,
            "  calibration: {} sample(s), margin {}",
            self.samples, self.margin
        )?;
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        writeln!(f)?;
        let rows: Vec<[String; 5]> = self
            .tensors
            .iter()
            .map(|t| {
                [
                    t.node
                        .clone()
                        .unwrap_or_else(|| format!("(input {})", t.tensor)),
                    t.onnx_op.clone().unwrap_or_else(|| "-".into()),
                    format!("{:?}", t.shape),
                    if t.token_ids {
                        format!("{} (ids)", t.max_abs)
                    } else {
                        format!("{:.6}", t.max_abs)
                    },
                    if t.token_ids {
                        "-".into()
                    } else {
                        format!("{:.1}%", self.headroom_percent(t))
                    },
                ]
            })
            .collect();
        let header = ["node", "op", "shape", "max |value|", "headroom"];
        let widths: Vec<usize> = (0..5)
            .map(|c| {
                rows.iter()
                    .map(|r| r[c].len())
                    .chain([header[c].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 5]| {
            writeln!(
                f,
                "  {:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {:>w4$}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
                w4 = widths[4]
            )
        };
        line(f, header)?;
        for r in &rows {
            line(f, [&r[0], &r[1], &r[2], &r[3], &r[4]])?;
        }
        writeln!(f)?;
        if !self.tables.is_empty() {
            writeln!(
                f,
                "  lookup tables (input observed on the samples vs what the table holds):"
            )?;
            for t in &self.tables {
                let seen = t
                    .observed
                    .map_or("-".into(), |(a, b)| format!("[{a:.4}, {b:.4}]"));
                writeln!(
                    f,
                    "  {} ({}): {}, observed {seen}, holds [{:.4}, {:.4}), {} rows, shift {}{}",
                    t.node,
                    t.onnx_op,
                    t.function,
                    t.holds.0,
                    t.holds.1,
                    t.rows,
                    t.in_shift,
                    if t.saturated() {
                        " (some inputs fall outside it before the function saturates)"
                    } else {
                        ""
                    }
                )?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "  quantized model vs float reference ({}), {} sample(s):",
            self.reference.label(),
            self.samples
        )?;
        for o in &self.outputs {
            let bound = o.per_element_bound.iter().copied().fold(0.0, f64::max);
            writeln!(
                f,
                "  output '{}' {:?}: max abs error {:.3e}, mean abs error {:.3e} (reference max |value| {:.4}); \
                 worst-case bound {}",
                o.name,
                o.shape,
                o.max_abs_error,
                o.mean_abs_error,
                o.reference_max_abs,
                if bound.is_finite() { format!("{bound:.3e}") } else { "none".into() }
            )?;
            // A transformer output has thousands of elements: show the first few.
            const SHOWN: usize = 16;
            let per: Vec<String> = o
                .per_element_max
                .iter()
                .take(SHOWN)
                .map(|e| format!("{e:.2e}"))
                .collect();
            let more = o.per_element_max.len().saturating_sub(SHOWN);
            let tail = if more > 0 {
                format!(", ... ({more} more)")
            } else {
                String::new()
            };
            writeln!(f, "    per element max: [{}{tail}]", per.join(", "))?;
        }
        if !self.no_bound.is_empty() {
            writeln!(f, "  no worst-case bound for: {}", self.no_bound.join(", "))?;
        }
        if self.reference == ReferenceKind::Evaluator {
            return writeln!(
                f,
                "  float reference: zkinfer's own f64 evaluation of the graph built from the \
                 checkpoint (no independent runtime; the builders are tested against ONNX exports)"
            );
        }
        // tract computes in f32: agreement means f32 rounding, relative to the outputs' size.
        let scale = self
            .outputs
            .iter()
            .map(|o| o.reference_max_abs)
            .fold(1.0, f64::max);
        let verdict = if self.importer_vs_reference <= 1e-5 * scale {
            "agrees"
        } else {
            "DISAGREES: importer bug?"
        };
        writeln!(
            f,
            "  float importer vs tract: max diff {:.2e} ({verdict})",
            self.importer_vs_reference
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{load_input, load_samples, random_samples};
    use crate::model::Op;
    use crate::reference::FloatReference;
    use crate::{quantize_onnx, QuantizeOptions};
    use std::path::PathBuf;

    fn model_path(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(name)
    }

    /// The importer's f64 evaluation agrees with tract's f32 run within this
    /// (tested in `reference`), so it is added to the f64 bound below.
    const F32_SLACK: f64 = 1e-5;

    /// Quantizes `name` on `calibration`, then checks 64 fresh random inputs:
    /// each output element of the dequantized integer model is within the
    /// worst-case bound of [`crate::error_bound`] (plus [`F32_SLACK`]) of
    /// tract's output. The bound is rigorous, so this holds for every input
    /// the range checks accept; the test also requires the bound itself to
    /// be small (below `max_bound`) so that it constrains something: at the
    /// chosen scale each rounding is ~2^-14, and the bound grows with fan-in
    /// and depth to about 10^-3 for these models.
    fn check_within_bound(
        name: &str,
        calibration: &[Vec<Vec<f64>>],
        max_bound: f64,
    ) -> (QuantizedModel, f64) {
        let path = model_path(name);
        let (model, _) = quantize_onnx(&path, calibration, &QuantizeOptions::default()).unwrap();
        let graph = crate::onnx::load_onnx(&path).unwrap();
        let reference = FloatReference::load(&path).unwrap();
        let s = model.scale_bits;
        let mut worst_err = 0.0f64;
        for sample in random_samples(&graph.input_shapes(), 64, 99) {
            let values = graph.evaluate(&sample).unwrap();
            let bounds = error_bounds(&graph, &model, &values);
            let tract = reference.run(&sample).unwrap();
            let trace = infer::run(&model, &quantize_inputs(&model, &sample).unwrap()).unwrap();
            for (k, &id) in model.outputs.iter().enumerate() {
                for (i, &q) in trace.tensor(id).iter().enumerate() {
                    let err = (dequantize(q, s) - tract[k][i]).abs();
                    let bound = bounds[id][i];
                    assert!(
                        bound < max_bound,
                        "{name}: bound {bound} too loose to test anything"
                    );
                    assert!(
                        err <= bound + F32_SLACK,
                        "{name}: output {i} error {err} > bound {bound}"
                    );
                    worst_err = worst_err.max(err);
                }
            }
        }
        println!("{name}: scale 2^{s}, worst error {worst_err:.3e} on 64 inputs");
        (model, worst_err)
    }

    #[test]
    fn quantized_mlp_is_within_the_error_bound_of_tract() {
        let samples = load_samples(&model_path("mlp.samples.json")).unwrap();
        assert_eq!(samples.len(), 32);
        let (model, worst) = check_within_bound("mlp.onnx", &samples, 5e-3);
        assert_eq!(
            model.scale_bits, 13,
            "inputs in [-1, 1] with margin 2 leave 13 fractional bits"
        );
        assert!(worst > 0.0, "rounding happened");
    }

    #[test]
    fn every_op_of_mlp_ops_quantizes_within_the_bound() {
        let shapes = crate::onnx::input_shapes(&model_path("mlp_ops.onnx")).unwrap();
        assert_eq!(shapes[0].shape, vec![1, 8], "symbolic batch set to 1");
        let calibration = random_samples(&shapes, 32, 5);
        let (model, _) = check_within_bound("mlp_ops.onnx", &calibration, 5e-3);
        let mut kinds: Vec<&str> = model.nodes.iter().map(|n| n.op.kind()).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(
            kinds,
            [
                "add",
                "add_const",
                "const_sub",
                "linear",
                "mul",
                "mul_const",
                "relu",
                "reshape",
                "sub"
            ]
        );
    }

    /// The bound is tight enough to catch a real quantization bug: a bias
    /// stored at scale s instead of 2s.
    #[test]
    fn a_bias_at_the_wrong_scale_breaks_the_bound() {
        let path = model_path("mlp.onnx");
        let graph = crate::onnx::load_onnx(&path).unwrap();
        let samples = random_samples(&graph.input_shapes(), 8, 3);
        let (mut model, _) = quantize_onnx(&path, &samples, &QuantizeOptions::default()).unwrap();
        let s = model.scale_bits;
        if let Op::Linear { bias: Some(b), .. } = &mut model.nodes[4].op {
            b.iter_mut().for_each(|v| *v >>= s);
        }
        let reference = FloatReference::load(&path).unwrap();
        let broken = samples.iter().any(|sample| {
            let values = graph.evaluate(sample).unwrap();
            let bounds = error_bounds(&graph, &model, &values);
            let tract = reference.run(sample).unwrap();
            let trace = infer::run(&model, &quantize_inputs(&model, sample).unwrap()).unwrap();
            let id = model.outputs[0];
            trace
                .tensor(id)
                .iter()
                .enumerate()
                .any(|(i, &q)| (dequantize(q, s) - tract[0][i]).abs() > bounds[id][i])
        });
        assert!(broken);
    }

    #[test]
    fn report_shows_scale_ranges_and_errors() {
        let path = model_path("mlp_ops.onnx");
        let graph = crate::onnx::load_onnx(&path).unwrap();
        let samples = random_samples(&graph.input_shapes(), 8, 2);
        let opts = QuantizeOptions {
            name: Some("ops".into()),
            ..Default::default()
        };
        let (model, report) = quantize_onnx(&path, &samples, &opts).unwrap();
        assert_eq!(model.name, "ops");
        assert_eq!(report.samples, 8);
        assert_eq!(report.tensors.len(), 1 + model.nodes.len());
        assert!(report.importer_vs_reference < 1e-5);
        assert!(
            report
                .tensors
                .iter()
                .all(|t| report.headroom_percent(t) >= 50.0),
            "margin 2 leaves >= 50%"
        );
        let o = &report.outputs[0];
        assert!(
            o.max_abs_error > 0.0
                && o.max_abs_error
                    <= o.per_element_bound.iter().copied().fold(0.0, f64::max) + 1e-5
        );
        assert!(o.mean_abs_error <= o.max_abs_error);
        let text = report.to_string();
        println!("{text}");
        for needle in [
            "accuracy report for 'ops'",
            &format!("scale 2^{}", model.scale_bits),
            "16-bit signed activations",
            "symbolic dimension 'batch'",
            "/gate/Mul",
            "(input x)",
            "output 'y' [1, 3]",
            "float importer vs tract",
            "(agrees)",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn bundled_input_quantizes_and_bad_inputs_are_named() {
        let path = model_path("mlp.onnx");
        let samples = load_samples(&model_path("mlp.samples.json")).unwrap();
        let (model, _) = quantize_onnx(&path, &samples, &QuantizeOptions::default()).unwrap();
        let input = load_input(&model_path("mlp.input.json")).unwrap();
        let q = quantize_inputs(&model, &input).unwrap();
        assert!(infer::run(&model, &q).is_ok());
        let err = quantize_inputs(&model, &[vec![0.0; 7]]).unwrap_err();
        assert!(
            err.to_string()
                .contains("input 'input' expects shape [1, 8] (8 values), got 7"),
            "{err}"
        );
        let mut big = input[0].clone();
        big[3] = 1000.0;
        match quantize_inputs(&model, &[big]).unwrap_err() {
            QuantizeError::OutOfRange { tensor, value, .. } => {
                assert_eq!((tensor.as_str(), value), ("input", 1000.0))
            }
            other => panic!("expected OutOfRange, got {other}"),
        }
    }

    #[test]
    fn quantize_onnx_rejects_bad_options_and_empty_calibration() {
        let path = model_path("mlp.onnx");
        let opts = QuantizeOptions {
            margin: 0.5,
            ..Default::default()
        };
        assert!(matches!(
            quantize_onnx(&path, &[vec![vec![0.0; 8]]], &opts),
            Err(QuantizeError::Calibration(_))
        ));
        assert!(matches!(
            quantize_onnx(&path, &[], &Default::default()),
            Err(QuantizeError::Calibration(_))
        ));
        let forced = QuantizeOptions {
            scale_bits: Some(10),
            ..Default::default()
        };
        let (model, _) = quantize_onnx(&path, &[vec![vec![0.5; 8]]], &forced).unwrap();
        assert_eq!(model.scale_bits, 10);
    }
}
