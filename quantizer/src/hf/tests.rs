//! The bundled checkpoints (`models/*_hf`, written by
//! `models/make_transformers.py` with the weights of `models/*.onnx`)
//! against tract on the ONNX files, quantized, and every malformed folder
//! as a clear error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde_json::Value;

use super::*;
use crate::fixed::dequantize;
use crate::float_graph::{FloatOp, Nonlinearity};
use crate::infer;
use crate::inputs::{load_input, load_samples, quantize_inputs, random_samples};
use crate::onnx::load_onnx;
use crate::reference::{FloatReference, ReferenceKind};
use crate::{quantize_hf, quantize_onnx, QuantizeError, QuantizeOptions, QuantizedModel};

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn samples(onnx: &str) -> Vec<Vec<Vec<f64>>> {
    load_samples(&models().join(format!("{onnx}.samples.json"))).unwrap()
}

/// (HF folder, the ONNX export of the same weights)
const PAIRS: [(&str, &str); 2] = [
    ("gpt2_2layer_hf", "gpt2_2layer"),
    ("bert_tiny_hf", "bert_tiny"),
];

fn max_diff(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f64::max)
}

/// The checkpoint's graph computes what tract computes from the ONNX file
/// (f32 rounding apart), and what the ONNX importer's graph computes (to
/// f64 rounding: the two paths build the same function).
#[test]
fn checkpoints_match_their_onnx_exports() {
    for (hf, onnx) in PAIRS {
        let graph = load_hf(&models().join(hf), DEFAULT_SEQ_LEN).unwrap();
        let path = models().join(format!("{onnx}.onnx"));
        let tract = FloatReference::load(&path).unwrap();
        let imported = load_onnx(&path).unwrap();
        assert_eq!(graph.input_shapes(), tract.input_shapes(), "{hf}");
        let names = |g: &FloatGraph| -> Vec<String> {
            g.outputs
                .iter()
                .map(|&o| g.tensors[o].name.clone())
                .collect()
        };
        assert_eq!(names(&graph), names(&imported), "{hf}");
        let mut set = samples(onnx);
        set.push(load_input(&models().join(format!("{onnx}.input.json"))).unwrap());
        set.extend(random_samples(&graph.input_shapes(), 8, 11));
        let (mut vs_tract, mut vs_importer) = (0.0f64, 0.0f64);
        for sample in &set {
            let ours = graph.run(sample).unwrap();
            vs_tract = vs_tract.max(max_diff(&ours, &tract.run(sample).unwrap()));
            vs_importer = vs_importer.max(max_diff(&ours, &imported.run(sample).unwrap()));
        }
        println!(
            "{hf}: {} nodes ({} via ONNX), {} samples: max diff vs tract {vs_tract:.2e}, \
             vs the ONNX importer {vs_importer:.2e}",
            graph.nodes.len(),
            imported.nodes.len(),
            set.len()
        );
        assert!(vs_tract < 1e-4, "{hf}: differs from tract by {vs_tract}");
        assert!(
            vs_importer < 1e-9,
            "{hf}: differs from the importer by {vs_importer}"
        );
    }
}

/// Recognizes one kind of op.
type OpKind = fn(&FloatOp) -> bool;

fn count(g: &FloatGraph, pred: impl Fn(&FloatOp) -> bool) -> usize {
    g.nodes.iter().filter(|n| pred(&n.op)).count()
}

/// The same kinds of ops as the ONNX importer's graph, so both quantize
/// and prove alike (the ONNX BERT's biases are separate `AddConst` nodes).
#[test]
fn checkpoints_use_the_importers_ops() {
    let ops: [(&str, OpKind); 8] = [
        ("layer norm", |op| matches!(op, FloatOp::LayerNorm { .. })),
        ("tanh GELU", |op| {
            *op == FloatOp::Pointwise {
                func: Nonlinearity::GeluTanh,
            }
        }),
        ("erf GELU", |op| {
            *op == FloatOp::Pointwise {
                func: Nonlinearity::Gelu,
            }
        }),
        ("tanh", |op| {
            *op == FloatOp::Pointwise {
                func: Nonlinearity::Tanh,
            }
        }),
        ("causal softmax", |op| {
            *op == FloatOp::Softmax { causal: true }
        }),
        ("softmax", |op| *op == FloatOp::Softmax { causal: false }),
        ("embedding", |op| matches!(op, FloatOp::Gather { .. })),
        ("linear", |op| matches!(op, FloatOp::Linear { .. })),
    ];
    for (hf, onnx) in PAIRS {
        let graph = load_hf(&models().join(hf), DEFAULT_SEQ_LEN).unwrap();
        let imported = load_onnx(&models().join(format!("{onnx}.onnx"))).unwrap();
        for (what, pred) in ops {
            assert_eq!(count(&graph, pred), count(&imported, pred), "{hf}: {what}");
        }
        assert_eq!(
            count(&graph, |op| matches!(op, FloatOp::MatMul { .. })),
            4,
            "{hf}"
        );
    }
    let gpt2 = load_hf(&models().join("gpt2_2layer_hf"), DEFAULT_SEQ_LEN).unwrap();
    assert!(gpt2.notes.iter().any(|n| n.contains("lm_head tied to wte")));
    let ln = gpt2.nodes.iter().find(|n| n.name == "h.1.ln_2").unwrap();
    assert_eq!(ln.onnx_op, "LayerNorm");
}

fn options() -> QuantizeOptions {
    // As the ONNX transformers' tests: 16 bits leave too few fractional bits.
    QuantizeOptions {
        activation_bits: 20,
        ..QuantizeOptions::default()
    }
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

/// Quantized on the bundled samples, the integer model tracks the float
/// graph within the tolerances the ONNX exports meet
/// (`tests/transformers.rs`), on the samples (as the report says) and on
/// fresh token ids.
#[test]
fn checkpoints_quantize_and_track_the_float_graph() {
    let tolerances = [(5e-2, 6e-3), (1e-2, 1.6e-3)];
    for ((hf, onnx), (max_tol, mean_tol)) in PAIRS.into_iter().zip(tolerances) {
        let folder = models().join(hf);
        let (model, report) = quantize_hf(&folder, &samples(onnx), &options()).unwrap();
        assert_eq!(model.name, hf);
        assert_eq!(report.reference, ReferenceKind::Evaluator);
        assert_eq!(report.importer_vs_reference, 0.0);
        let text = report.to_string();
        for needle in [
            "quantized model vs float reference (zkinfer's f64 evaluator)",
            "float reference: zkinfer's own f64 evaluation",
            "input 'input_ids' holds token ids: integers in [0, 256), used unscaled",
            "built for 16 tokens",
        ] {
            assert!(text.contains(needle), "{hf}: missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("vs tract"), "{text}");
        let graph = load_hf(&folder, DEFAULT_SEQ_LEN).unwrap();
        let fresh = random_samples(&graph.input_shapes(), 16, 7);
        let (max, mean) = errors(&graph, &model, &fresh);
        let (onnx_model, onnx_report) = quantize_onnx(
            &models().join(format!("{onnx}.onnx")),
            &samples(onnx),
            &options(),
        )
        .unwrap();
        println!(
            "{hf}: scale 2^{} (ONNX 2^{}), report max error {:.3e} (ONNX {:.3e}); \
             fresh inputs max {max:.3e}, mean {mean:.3e}",
            model.scale_bits,
            onnx_model.scale_bits,
            report.max_abs_error(),
            onnx_report.max_abs_error()
        );
        assert!(
            report.max_abs_error() > 0.0 && report.max_abs_error() <= max_tol,
            "{hf}"
        );
        assert!(max <= max_tol && mean <= mean_tol, "{hf}: {max} {mean}");
    }
}

#[test]
fn the_sequence_length_is_the_callers() {
    let folder = models().join("gpt2_2layer_hf");
    let g = load_hf(&folder, 5).unwrap();
    assert_eq!(g.input_shapes()[0].shape, vec![1, 5]);
    assert_eq!(g.tensors[g.outputs[0]].shape, vec![1, 5, 256]);
    assert_eq!(input_shapes(&folder, 5).unwrap(), g.input_shapes());
    // Causal: the first 5 tokens' logits do not depend on what follows.
    let ids: Vec<f64> = (0..16).map(|i| (i * 7 % 256) as f64).collect();
    let long = load_hf(&folder, 16)
        .unwrap()
        .run(std::slice::from_ref(&ids))
        .unwrap();
    let short = g.run(&[ids[..5].to_vec()]).unwrap();
    assert!(max_diff(&short, &[long[0][..5 * 256].to_vec()]) < 1e-12);
    for bad in [0, 33] {
        let err = load_hf(&folder, bad).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "sequence length {bad}: the gpt2 model takes 1 to 32 tokens"
            )),
            "{err}"
        );
    }
}

// ---------------------------------------------------------------- variants and errors

/// A checkpoint's tensors, owned: name -> (dtype, shape, little-endian bytes).
type Tensors = BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

fn read_tensors(folder: &Path) -> Tensors {
    let bytes = std::fs::read(folder.join("model.safetensors")).unwrap();
    SafeTensors::deserialize(&bytes)
        .unwrap()
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec())))
        .collect()
}

fn write_tensors(path: &Path, tensors: &Tensors) {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, (dtype, shape, data))| {
            (
                n.clone(),
                TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// A copy of bundled folder `name` in a temporary directory, its config
/// and tensors edited.
fn edited(
    name: &str,
    config: impl FnOnce(&mut Value),
    tensors: impl FnOnce(&mut Tensors),
) -> tempfile::TempDir {
    let src = models().join(name);
    let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap();
    let mut c: Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    config(&mut c);
    std::fs::write(dir.path().join("config.json"), c.to_string()).unwrap();
    let mut t = read_tensors(&src);
    tensors(&mut t);
    write_tensors(&dir.path().join("model.safetensors"), &t);
    dir
}

fn run_16(folder: &Path, ids: &[f64]) -> Vec<Vec<f64>> {
    load_hf(folder, DEFAULT_SEQ_LEN)
        .unwrap()
        .run(&[ids.to_vec()])
        .unwrap()
}

fn some_ids() -> Vec<f64> {
    (0..16).map(|i| (i * 37 % 256) as f64).collect()
}

/// Base-model names (no prefix), old layer-norm names, F64 weights, an
/// explicit LM head, extra tensors, no pooler: the same function, or the
/// documented difference.
#[test]
fn checkpoint_variants_load_alike() {
    let ids = some_ids();
    let gpt2 = run_16(&models().join("gpt2_2layer_hf"), &ids);
    let as_f64 = |t: &mut Tensors| {
        for (dtype, _, data) in t.values_mut() {
            *dtype = Dtype::F64;
            *data = data
                .chunks_exact(4)
                .flat_map(|b| (f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).to_le_bytes())
                .collect();
        }
    };
    let plain = edited(
        "gpt2_2layer_hf",
        |_| {},
        |t| {
            as_f64(t);
            let wte = t["transformer.wte.weight"].clone();
            *t = std::mem::take(t)
                .into_iter()
                .map(|(n, v)| (n.trim_start_matches("transformer.").to_string(), v))
                .collect();
            t.insert("lm_head.weight".into(), wte);
        },
    );
    assert_eq!(run_16(plain.path(), &ids), gpt2);
    let g = load_hf(plain.path(), DEFAULT_SEQ_LEN).unwrap();
    assert!(!g.notes.iter().any(|n| n.contains("tied")), "{:?}", g.notes);

    // BF16: each weight the top half of its f32.
    let bf16 = edited(
        "gpt2_2layer_hf",
        |_| {},
        |t| {
            for (dtype, _, data) in t.values_mut() {
                *dtype = Dtype::BF16;
                *data = data.chunks_exact(4).flat_map(|b| [b[2], b[3]]).collect();
            }
        },
    );
    let g = load_hf(bf16.path(), DEFAULT_SEQ_LEN).unwrap();
    let FloatOp::Gather { table, .. } = &g.nodes[0].op else {
        panic!("{:?}", g.nodes[0].op)
    };
    let f32_table = match &load_hf(&models().join("gpt2_2layer_hf"), 16).unwrap().nodes[0].op {
        FloatOp::Gather { table, .. } => table.clone(),
        other => panic!("{other:?}"),
    };
    assert!(table
        .iter()
        .zip(&f32_table)
        .all(|(b, f)| *b == f32::from_bits((*f as f32).to_bits() & 0xffff_0000) as f64));

    let bert = run_16(&models().join("bert_tiny_hf"), &ids);
    let old = edited(
        "bert_tiny_hf",
        |_| {},
        |t| {
            *t = std::mem::take(t)
                .into_iter()
                .filter(|(n, _)| !n.starts_with("bert.pooler"))
                .map(|(n, v)| {
                    let n = n
                        .trim_start_matches("bert.")
                        .replace("LayerNorm.weight", "LayerNorm.gamma")
                        .replace("LayerNorm.bias", "LayerNorm.beta");
                    (n, v)
                })
                .collect();
            t.insert(
                "cls.predictions.bias".into(),
                (Dtype::F32, vec![2], vec![0; 8]),
            );
        },
    );
    let g = load_hf(old.path(), DEFAULT_SEQ_LEN).unwrap();
    assert_eq!(g.run(&[ids]).unwrap(), vec![bert[0].clone()]);
    for needle in [
        "no pooler.dense.weight stored",
        "1 stored tensor(s) not used by the bert base model: cls.predictions.bias",
    ] {
        assert!(g.notes.iter().any(|n| n.contains(needle)), "{:?}", g.notes);
    }
}

/// `load_hf` on an edited copy of `name`: the error it gives.
fn error_of(
    name: &str,
    config: impl FnOnce(&mut Value),
    tensors: impl FnOnce(&mut Tensors),
) -> QuantizeError {
    let dir = edited(name, config, tensors);
    load_hf(dir.path(), DEFAULT_SEQ_LEN).unwrap_err()
}

fn assert_bad(err: QuantizeError, needles: &[&str]) {
    let text = err.to_string();
    assert!(
        matches!(err, QuantizeError::BadCheckpoint(_)),
        "expected BadCheckpoint: {text}"
    );
    for n in needles {
        assert!(text.contains(n), "missing {n:?} in {text}");
    }
}

#[test]
fn missing_or_misshapen_tensors_are_named() {
    let err = error_of(
        "gpt2_2layer_hf",
        |_| {},
        |t| {
            t.remove("transformer.h.1.mlp.c_fc.bias");
        },
    );
    assert_bad(
        err,
        &["has no tensor 'h.1.mlp.c_fc.bias' (nor 'transformer.h.1.mlp.c_fc.bias')"],
    );
    let err = error_of(
        "gpt2_2layer_hf",
        |_| {},
        |t| {
            t.get_mut("transformer.h.0.attn.c_attn.weight").unwrap().1 = vec![192, 64];
        },
    );
    assert_bad(
        err,
        &[
            "tensor 'transformer.h.0.attn.c_attn.weight'",
            "has shape [192, 64], expected [64, 192]",
        ],
    );
    // nn.Linear is [out, in]: BERT's up-projection stored the Conv1D way is wrong.
    let err = error_of(
        "bert_tiny_hf",
        |_| {},
        |t| {
            t.get_mut("bert.encoder.layer.0.intermediate.dense.weight")
                .unwrap()
                .1 = vec![64, 256];
        },
    );
    assert_bad(err, &["has shape [64, 256], expected [256, 64]"]);
    // A config that disagrees with the weights: the tensor says so.
    let err = error_of(
        "bert_tiny_hf",
        |c| c["intermediate_size"] = 128.into(),
        |_| {},
    );
    assert_bad(
        err,
        &[
            "'bert.encoder.layer.0.intermediate.dense.weight'",
            "expected [128, 64]",
        ],
    );
    let err = error_of(
        "gpt2_2layer_hf",
        |_| {},
        |t| {
            let (dtype, shape, data) = t.get_mut("transformer.ln_f.weight").unwrap();
            *dtype = Dtype::I32;
            *data = vec![0; shape[0] * 4];
        },
    );
    let text = err.to_string();
    assert!(
        matches!(err, QuantizeError::UnsupportedCheckpoint(_))
            && text.contains("tensor 'transformer.ln_f.weight'")
            && text.contains("dtype I32; weights must be F32, F16, BF16 or F64"),
        "{text}"
    );
    let err = error_of(
        "gpt2_2layer_hf",
        |_| {},
        |t| {
            t.get_mut("transformer.wpe.weight").unwrap().2[4..8]
                .copy_from_slice(&f32::NAN.to_le_bytes());
        },
    );
    assert_bad(err, &["tensor 'transformer.wpe.weight'", "holds NaN at #1"]);
}

#[test]
fn bad_configs_are_named() {
    let err = error_of(
        "gpt2_2layer_hf",
        |c| c["model_type"] = "llama".into(),
        |_| {},
    );
    let text = err.to_string();
    assert!(
        matches!(err, QuantizeError::UnsupportedCheckpoint(_))
            && text.contains("model_type 'llama' in config.json; supported: gpt2, bert"),
        "{text}"
    );
    let err = error_of(
        "gpt2_2layer_hf",
        |c| c["activation_function"] = "silu".into(),
        |_| {},
    );
    assert!(
        matches!(&err, QuantizeError::UnsupportedCheckpoint(m) if m.contains("activation_function 'silu'")),
        "{err}"
    );
    let err = error_of(
        "bert_tiny_hf",
        |c| {
            c.as_object_mut().unwrap().remove("hidden_size");
        },
        |_| {},
    );
    assert_bad(err, &["config.json", "missing field `hidden_size`"]);

    let dir = edited("gpt2_2layer_hf", |_| {}, |_| {});
    std::fs::write(dir.path().join("config.json"), "{\"model_type\": \"gpt2\",").unwrap();
    let err = load_hf(dir.path(), 16).unwrap_err();
    assert_bad(err, &["config.json: not valid JSON"]);
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let err = load_hf(dir.path(), 16).unwrap_err();
    assert_bad(err, &["has no config.json"]);
    assert!(!is_hf_folder(dir.path()));
    assert!(is_hf_folder(&models().join("bert_tiny_hf")));
    assert!(!is_hf_folder(&models().join("bert_tiny.onnx")));
}

#[test]
fn missing_or_truncated_safetensors_are_errors() {
    let dir = edited("gpt2_2layer_hf", |_| {}, |_| {});
    let file = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&file).unwrap();
    for cut in [bytes.len() - 100, 100, 4] {
        std::fs::write(&file, &bytes[..cut]).unwrap();
        let err = load_hf(dir.path(), 16).unwrap_err();
        assert_bad(err, &["model.safetensors is not a valid safetensors file"]);
    }
    std::fs::remove_file(&file).unwrap();
    assert_bad(
        load_hf(dir.path(), 16).unwrap_err(),
        &["has no model.safetensors"],
    );
    std::fs::write(dir.path().join("pytorch_model.bin"), b"").unwrap();
    assert_bad(
        load_hf(dir.path(), 16).unwrap_err(),
        &["not pytorch_model.bin", "safe_serialization=True"],
    );
}
