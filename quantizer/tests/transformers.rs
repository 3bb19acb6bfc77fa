//! The bundled tiny transformers (`models/make_transformers.py`) end to end:
//! the importer against tract, the fusions, the quantized integer inference
//! against the float model, every lookup table on the inputs it really
//! sees, and token-id inputs.
//!
//! Options: 20-bit activations (the bundled models' attention scores reach
//! ~16 before scaling, so 16 bits would leave only 9 fractional bits) and
//! the default 12-bit tables.

use std::path::PathBuf;

use zkinfer_quantizer::fixed::dequantize;
use zkinfer_quantizer::float_graph::{FloatGraph, FloatOp, Nonlinearity};
use zkinfer_quantizer::infer;
use zkinfer_quantizer::inputs::{load_input, load_samples, quantize_inputs, random_samples};
use zkinfer_quantizer::model::PointwiseTable;
use zkinfer_quantizer::onnx::load_onnx;
use zkinfer_quantizer::reference::FloatReference;
use zkinfer_quantizer::{quantize_onnx, Op, QuantizeError, QuantizeOptions, QuantizedModel};

fn model_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
}

fn samples(model: &str) -> Vec<Vec<Vec<f64>>> {
    load_samples(&model_path(&format!("{model}.samples.json"))).unwrap()
}

fn input(model: &str) -> Vec<Vec<f64>> {
    load_input(&model_path(&format!("{model}.input.json"))).unwrap()
}

const MODELS: [&str; 3] = ["gpt2_block", "gpt2_2layer", "bert_tiny"];

fn options() -> QuantizeOptions {
    QuantizeOptions {
        activation_bits: 20,
        ..QuantizeOptions::default()
    }
}

fn quantized(name: &str) -> (FloatGraph, QuantizedModel) {
    let path = model_path(&format!("{name}.onnx"));
    let (model, report) = quantize_onnx(&path, &samples(name), &options()).unwrap();
    assert!(report.importer_vs_reference < 1e-4, "{name}: {report}");
    (load_onnx(&path).unwrap(), model)
}

/// Inputs the calibration never saw: fresh token ids, or hidden states of
/// about the calibration's spread (uniform in ±1.7: standard deviation ~1).
fn fresh_inputs(graph: &FloatGraph) -> Vec<Vec<Vec<f64>>> {
    random_samples(&graph.input_shapes(), 16, 7)
        .into_iter()
        .map(|sample| {
            sample
                .into_iter()
                .zip(graph.input_shapes())
                .map(|(t, spec)| match spec.vocab {
                    Some(_) => t,
                    None => t.into_iter().map(|v| v * 1.7).collect(),
                })
                .collect()
        })
        .collect()
}

/// Max and mean |dequantized integer output - float output| over `inputs`.
fn errors(graph: &FloatGraph, model: &QuantizedModel, inputs: &[Vec<Vec<f64>>]) -> (f64, f64) {
    let (mut max, mut sum, mut count) = (0.0f64, 0.0, 0usize);
    for sample in inputs {
        let float = graph.run(sample).unwrap();
        let trace = infer::run(model, &quantize_inputs(model, sample).unwrap()).unwrap();
        for (k, &o) in model.outputs.iter().enumerate() {
            for (i, &q) in trace.tensor(o).iter().enumerate() {
                let e = (dequantize(q, model.scale_bits) - float[k][i]).abs();
                max = max.max(e);
                sum += e;
                count += 1;
            }
        }
    }
    (max, sum / count as f64)
}

/// The chosen tables' rows moved by one index (row `i` holds what row
/// `i + 1` should): the kind of bug the tolerances below must catch.
fn off_by_one(model: &QuantizedModel, pointwise: bool, exp: bool) -> QuantizedModel {
    let mut broken = model.clone();
    for node in &mut broken.nodes {
        let table = match &mut node.op {
            Op::Pointwise { table } if pointwise => table,
            Op::Softmax { exp: table, .. } if exp => table,
            _ => continue,
        };
        table.values.rotate_left(1);
        let n = table.values.len();
        table.values[n - 1] = table.values[n.saturating_sub(2)];
    }
    broken
}

#[test]
fn importer_matches_tract_within_1e_4() {
    for name in MODELS {
        let path = model_path(&format!("{name}.onnx"));
        let graph = load_onnx(&path).unwrap();
        let reference = FloatReference::load(&path).unwrap();
        let mut set = samples(name);
        set.push(input(name));
        set.extend(fresh_inputs(&graph));
        let mut worst = 0.0f64;
        for sample in &set {
            let ours = graph.run(sample).unwrap();
            let theirs = reference.run(sample).unwrap();
            assert_eq!(ours.len(), theirs.len());
            for (a, b) in ours.iter().zip(&theirs) {
                assert_eq!(a.len(), b.len());
                for (x, y) in a.iter().zip(b) {
                    worst = worst.max((x - y).abs());
                }
            }
        }
        println!(
            "{name}: {} float nodes, importer vs tract {worst:.2e}",
            graph.nodes.len()
        );
        assert!(worst < 1e-4, "{name}: importer and tract differ by {worst}");
    }
}

fn count(g: &FloatGraph, pred: impl Fn(&FloatOp) -> bool) -> usize {
    g.nodes.iter().filter(|n| pred(&n.op)).count()
}

#[test]
fn layer_norm_gelu_and_masked_softmax_are_fused() {
    // Tanh stays only as the BERT pooler's own activation (checked below).
    let pieces = ["Erf", "Pow", "Sqrt", "ReduceMean", "Where", "Div"].map(|p| p.to_string());
    // (model, layer norms, GELUs and their kind, causal softmaxes, plain softmaxes)
    let cases = [
        ("gpt2_block", 2, 1, Nonlinearity::GeluTanh, 1, 0),
        ("gpt2_2layer", 5, 2, Nonlinearity::GeluTanh, 2, 0),
        ("bert_tiny", 5, 2, Nonlinearity::Gelu, 0, 2),
    ];
    for (name, norms, gelus, kind, causal, plain) in cases {
        let g = load_onnx(&model_path(&format!("{name}.onnx"))).unwrap();
        assert_eq!(
            count(&g, |op| matches!(op, FloatOp::LayerNorm { .. })),
            norms,
            "{name}"
        );
        let gelu = |op: &FloatOp| matches!(op, FloatOp::Pointwise { func } if *func == kind);
        assert_eq!(count(&g, gelu), gelus, "{name}");
        assert_eq!(
            count(&g, |op| *op == FloatOp::Softmax { causal: true }),
            causal,
            "{name}"
        );
        assert_eq!(
            count(&g, |op| *op == FloatOp::Softmax { causal: false }),
            plain,
            "{name}"
        );
        for n in &g.nodes {
            let piece = pieces.contains(&n.onnx_op) && !matches!(n.op, FloatOp::MulConst { .. }); // Div by a constant
            assert!(!piece, "{name}: unfused {} '{}'", n.onnx_op, n.name);
            if n.onnx_op == "Tanh" {
                assert_eq!(n.name, "/pooler/activation/Tanh");
            }
        }
    }
    // BERT's layer norms are written out op by op: each is one node, named
    // after the pattern's last ONNX node.
    let g = load_onnx(&model_path("bert_tiny.onnx")).unwrap();
    let ln = g
        .nodes
        .iter()
        .find(|n| n.name == "/embeddings/LayerNorm/Add_1")
        .expect("the embeddings' layer norm");
    assert_eq!(ln.onnx_op, "LayerNormalization (fused)");
    let FloatOp::LayerNorm { eps, gamma, .. } = &ln.op else {
        panic!("{:?}", ln.op)
    };
    assert!((eps - 1e-12).abs() < 1e-15 && gamma.len() == 64);
    // The pooler's tanh is a table of its own.
    assert_eq!(
        count(&g, |op| *op
            == FloatOp::Pointwise {
                func: Nonlinearity::Tanh
            }),
        1
    );
}

/// Tolerances of the quantized models on fresh inputs, with 20-bit
/// activations and 12-bit tables, measured at (max, mean): gpt2_block
/// 2.1e-3, 3.7e-4; gpt2_2layer 3.3e-2, 4.3e-3 (logits up to ~28);
/// bert_tiny 6.2e-3, 1.1e-3. The bounds leave ~40% head room; every table
/// off by one index gives 2-3 times the measured errors, beyond them.
#[test]
fn quantized_models_track_the_float_models() {
    let tolerances = [
        ("gpt2_block", 3.5e-3, 5.5e-4),
        ("gpt2_2layer", 5e-2, 6e-3),
        ("bert_tiny", 1e-2, 1.6e-3),
    ];
    for (name, max_tol, mean_tol) in tolerances {
        let (graph, model) = quantized(name);
        let set = fresh_inputs(&graph);
        let (max, mean) = errors(&graph, &model, &set);
        println!(
            "{name}: scale 2^{}, max error {max:.3e}, mean error {mean:.3e}",
            model.scale_bits
        );
        assert!(
            max > 0.0 && max <= max_tol,
            "{name}: max error {max} > {max_tol}"
        );
        assert!(mean <= mean_tol, "{name}: mean error {mean} > {mean_tol}");
        let (bmax, bmean) = errors(&graph, &off_by_one(&model, true, true), &set);
        println!("{name}: tables off by one: max {bmax:.3e}, mean {bmean:.3e}");
        assert!(
            bmax > max_tol && bmean > mean_tol,
            "{name}: the tolerance misses a shifted table"
        );
    }
}

/// The LM head agrees on the next token, and BERT's features point the same way.
#[test]
fn predictions_agree_with_the_float_models() {
    let (graph, model) = quantized("gpt2_2layer");
    let (mut agree, mut total) = (0, 0);
    for sample in fresh_inputs(&graph).iter().chain(&samples("gpt2_2layer")) {
        let float = graph.run(sample).unwrap().remove(0);
        let trace = infer::run(&model, &quantize_inputs(&model, sample).unwrap()).unwrap();
        let q = trace.tensor(model.outputs[0]);
        let last = |v: &[f64]| -> usize {
            let row = &v[15 * 256..];
            (0..256).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap()
        };
        let qf: Vec<f64> = q.iter().map(|&v| v as f64).collect();
        agree += (last(&float) == last(&qf)) as usize;
        total += 1;
    }
    println!("gpt2_2layer: last-position top-1 agrees on {agree}/{total}");
    assert!(agree * 10 >= total * 9, "top-1 agrees on {agree}/{total}");

    let (graph, model) = quantized("bert_tiny");
    let mut worst = 1.0f64;
    for sample in fresh_inputs(&graph) {
        let float = graph.run(&sample).unwrap();
        let trace = infer::run(&model, &quantize_inputs(&model, &sample).unwrap()).unwrap();
        for (k, &o) in model.outputs.iter().enumerate() {
            let q: Vec<f64> = trace
                .tensor(o)
                .iter()
                .map(|&v| dequantize(v, model.scale_bits))
                .collect();
            let dot: f64 = q.iter().zip(&float[k]).map(|(a, b)| a * b).sum();
            let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
            worst = worst.min(dot / (norm(&q) * norm(&float[k])));
        }
    }
    println!("bert_tiny: worst cosine similarity {worst:.6}");
    assert!(worst > 0.9999, "cosine similarity {worst}");
}

/// `|table(q) - f(q)|` for one integer input `q`, against what the table's
/// construction allows: `f` at the centre `c` of `q`'s bucket, rounded, so
/// `L·|c - q| + 2^-(s+1)` with `L` a Lipschitz bound of `f` between the two
/// (exp: `e^max(c, q)`); outside the table, the saturation is within half a
/// step of `f`.
fn check_table(table: &PointwiseTable, s: u32, q: i64, what: &str) -> Result<(), String> {
    let unit = 2f64.powi(s as i32);
    let x = q as f64 / unit;
    let got = dequantize(table.eval(q), s);
    let want = table.func.eval(x);
    let half = 0.5 / unit;
    let (i, _) = table.index(q);
    let bound = if i < table.lo || i > table.hi {
        half
    } else {
        let w = 2f64.powi(table.in_shift as i32) / unit;
        let c = i as f64 * w + if table.in_shift == 0 { 0.0 } else { w / 2.0 };
        let lipschitz = match table.func {
            Nonlinearity::Exp => c.max(x).exp(),
            Nonlinearity::Sigmoid => 0.25,
            Nonlinearity::Tanh => 1.0,
            _ => 1.13,
        };
        lipschitz * (c - x).abs() + half
    };
    if (got - want).abs() > bound * (1.0 + 1e-9) + 1e-12 {
        return Err(format!(
            "{what}: input {x} (bucket {i}, shift {}): table {got}, f {want}, allowed {bound}",
            table.in_shift
        ));
    }
    Ok(())
}

/// Every table on every input it sees on the calibration samples (GELU and
/// tanh inputs, softmax's `x - max`), each checked against the table's own
/// error bound: the check is sharp enough that shifted rows fail it.
fn check_tables(model: &QuantizedModel, set: &[Vec<Vec<f64>>]) -> Result<usize, String> {
    let s = model.scale_bits;
    let mut checked = 0;
    for sample in set {
        let trace = infer::run(model, &quantize_inputs(model, sample).unwrap()).unwrap();
        for node in &model.nodes {
            let x = trace.tensor(node.inputs[0]);
            match &node.op {
                Op::Pointwise { table } => {
                    for &q in x {
                        check_table(table, s, q, &node.name)?;
                    }
                    checked += x.len();
                }
                Op::Softmax { causal, exp } => {
                    let t = *model.tensors[node.inputs[0]].shape.last().unwrap();
                    for (row, xs) in x.chunks(t).enumerate() {
                        let valid = if *causal { row % t + 1 } else { t };
                        let m = *xs[..valid].iter().max().unwrap();
                        for &v in &xs[..valid] {
                            check_table(exp, s, v - m, &node.name)?;
                        }
                        checked += valid;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(checked)
}

#[test]
fn every_table_is_within_its_bound_on_the_inputs_it_sees() {
    for name in MODELS {
        let (_, model) = quantized(name);
        let set = samples(name);
        let checked = check_tables(&model, &set).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(checked > 10_000, "{name}: only {checked} lookups");
        // Shifted rows break the bound somewhere, in the GELU and exp tables alike.
        for (pointwise, exp) in [(true, false), (false, true)] {
            let broken = off_by_one(&model, pointwise, exp);
            assert!(
                check_tables(&broken, &set[..2]).is_err(),
                "{name}: shifted tables pass (pointwise {pointwise}, exp {exp})"
            );
        }
    }
}

#[test]
fn token_ids_outside_the_vocabulary_are_bad_input() {
    let (graph, model) = quantized("gpt2_2layer");
    let mut ids = input("gpt2_2layer");
    ids[0][3] = 256.0;
    for err in [
        quantize_inputs(&model, &ids).unwrap_err(),
        graph.run(&ids).unwrap_err(),
        FloatReference::load(&model_path("gpt2_2layer.onnx"))
            .unwrap()
            .run(&ids)
            .unwrap_err(),
    ] {
        match err {
            QuantizeError::BadInput(m) => assert!(
                m.contains("token id 256 at #3 of 'input_ids' is outside the vocabulary [0, 256)"),
                "{m}"
            ),
            other => panic!("expected BadInput, got {other}"),
        }
    }
    ids[0][3] = 2.5;
    let err = quantize_inputs(&model, &ids).unwrap_err().to_string();
    assert!(
        err.contains("token id 2.5 at #3 of 'input_ids' is not an integer"),
        "{err}"
    );
    // Ids pass through unscaled; integer inference checks them too.
    let good = input("gpt2_2layer");
    let q = quantize_inputs(&model, &good).unwrap();
    assert_eq!(q[0], good[0].iter().map(|&v| v as i64).collect::<Vec<_>>());
    let mut bad = q.clone();
    bad[0][0] = -1;
    assert!(matches!(
        infer::run(&model, &bad),
        Err(QuantizeError::BadInput(_))
    ));
}

#[test]
fn the_report_shows_tables_token_ids_and_missing_bounds() {
    let path = model_path("gpt2_2layer.onnx");
    let (model, report) = quantize_onnx(&path, &samples("gpt2_2layer"), &options()).unwrap();
    let text = report.to_string();
    println!("{text}");
    for needle in [
        "input 'input_ids' holds token ids: integers in [0, 256), used unscaled",
        "(ids)",
        "lookup tables",
        "/transformer/h.0/attn/Softmax (Softmax): softmax exp, observed",
        "/transformer/h.1/mlp/act/Mul_3 (GeluTanh (fused)): gelutanh, observed",
        "worst-case bound none",
        "no worst-case bound for: layernorm (node '/transformer/h.0/ln_1/LayerNormalization')",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert_eq!(
        report.tables.len(),
        4,
        "two softmax exp and two GELU tables"
    );
    for t in &report.tables {
        assert!(t.rows <= 4096, "{t:?}");
        // The widened range (or the saturation points) covers every input seen.
        assert!(!t.saturated(), "{t:?}");
    }
    let mut narrow = report.tables[0].clone();
    narrow.holds.0 = -1.0;
    assert!(narrow.saturated(), "x - max down to -8.6 falls below -1");
    assert!(model.validate().is_ok());
}
