//! Model inputs as users write them (JSON), calibration samples, and their
//! conversion to the fixed-point integers the circuit proves.
//!
//! Accepted `input.json` forms:
//! - `{"input": <tensor>}` for a single-input model;
//! - `{"inputs": [<tensor>, ...]}`, one tensor per model input;
//! - `{"input_data": [<tensor>, ...]}`, the same, as ezkl users write it.
//!
//! A tensor is a number or a (possibly nested) array of numbers, flattened
//! row-major; only the element count is checked against the model's shape, so
//! `[[1, 2], [3, 4]]` and `[1, 2, 3, 4]` are the same `[2, 2]` input.
//!
//! `samples.json` is `{"samples": [<sample>, ...]}` or a bare array of
//! samples, where a sample is either a tensor (single-input models) or an
//! object in one of the `input.json` forms.
//!
//! Parsing needs no model; the counts are checked against the model's input
//! shapes where the values are used ([`check_inputs`]: quantizing an input,
//! evaluating the float graph or tract), so every path reports a wrong size
//! the same way: "input 'x' expects shape [1, 8] (8 values), got 7".
//!
//! Token ids: an integer model input that indexes an embedding table (ONNX
//! `Gather`) holds token ids, written as plain integers (`[[15, 496, 3]]`).
//! They are not fixed-point values: [`quantize_inputs`] passes them through
//! unscaled, and every path checks that they are integers inside the
//! vocabulary ("token id 300 at #2 of 'input_ids' is outside the vocabulary
//! [0, 256)").

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::Path;

use crate::error::QuantizeError;
use crate::fixed::{dequantize, quantize};
use crate::model::{Op, QuantizedModel};

/// A model input's name and shape (symbolic dimensions already set to 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputShape {
    pub name: String,
    pub shape: Vec<usize>,
    /// `Some(v)`: the input holds token ids, integers in `[0, v)`, used
    /// unscaled; `None`: real values, quantized at the model's scale.
    pub vocab: Option<usize>,
}

impl InputShape {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The input shapes of a quantized model, in input order.
pub fn model_input_shapes(model: &QuantizedModel) -> Vec<InputShape> {
    model
        .inputs
        .iter()
        .map(|&id| InputShape {
            name: model.tensors[id].name.clone(),
            shape: model.tensors[id].shape.clone(),
            vocab: model_vocab(model, id),
        })
        .collect()
}

/// The vocabulary of the embeddings that read tensor `id` (directly or
/// through reshapes; the smallest if several do), `None` if none does.
fn model_vocab(model: &QuantizedModel, id: usize) -> Option<usize> {
    if !model.token_id_tensors().get(id).copied().unwrap_or(false) {
        return None;
    }
    let mut reach = vec![false; model.tensors.len()];
    reach[id] = true;
    let mut vocab: Option<usize> = None;
    for node in &model.nodes {
        if !node.inputs.first().is_some_and(|&i| reach[i]) {
            continue;
        }
        match &node.op {
            Op::Reshape => reach[node.output] = true,
            Op::Gather { vocab: v, .. } => vocab = Some(vocab.map_or(*v, |o| o.min(*v))),
            _ => {}
        }
    }
    vocab
}

/// Checks that `inputs` has one tensor per model input with the right number
/// of finite values.
pub fn check_inputs(shapes: &[InputShape], inputs: &[Vec<f64>]) -> Result<(), QuantizeError> {
    if inputs.len() != shapes.len() {
        let names: Vec<&str> = shapes.iter().map(|s| s.name.as_str()).collect();
        return Err(QuantizeError::BadInput(format!(
            "the model takes {} input tensor(s) ({}), {} given",
            shapes.len(),
            names.join(", "),
            inputs.len()
        )));
    }
    for (spec, data) in shapes.iter().zip(inputs) {
        if data.len() != spec.len() {
            return Err(QuantizeError::BadInput(format!(
                "input '{}' expects shape {:?} ({} values), got {}",
                spec.name,
                spec.shape,
                spec.len(),
                data.len()
            )));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(QuantizeError::BadInput(format!(
                "input '{}' value #{i} is {}, not a finite number",
                spec.name, data[i]
            )));
        }
        if let Some(vocab) = spec.vocab {
            check_token_ids(&spec.name, data, vocab)?;
        }
    }
    Ok(())
}

/// Token ids must be integers that index the vocabulary.
fn check_token_ids(name: &str, data: &[f64], vocab: usize) -> Result<(), QuantizeError> {
    for (i, &v) in data.iter().enumerate() {
        if v.fract() != 0.0 {
            return Err(QuantizeError::BadInput(format!(
                "token id {v} at #{i} of '{name}' is not an integer"
            )));
        }
        if v < 0.0 || v >= vocab as f64 {
            return Err(QuantizeError::BadInput(format!(
                "token id {v} at #{i} of '{name}' is outside the vocabulary [0, {vocab})"
            )));
        }
    }
    Ok(())
}

/// Parses an `input.json` document (see the module doc) into one flat tensor
/// per model input. Counts are checked where the model is known
/// ([`check_inputs`], called by [`quantize_inputs`] and the evaluators).
pub fn parse_input(json: &str) -> Result<Vec<Vec<f64>>, QuantizeError> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| QuantizeError::BadInput(format!("input JSON does not parse: {e}")))?;
    sample_from_value(&value, "input")
}

/// Reads and parses an `input.json` file.
pub fn load_input(path: &Path) -> Result<Vec<Vec<f64>>, QuantizeError> {
    parse_input(&read(path)?).map_err(|e| in_file(path, e))
}

/// Parses a `samples.json` document (see the module doc): one entry per
/// sample, each with one flat tensor per model input.
pub fn parse_samples(json: &str) -> Result<Vec<Vec<Vec<f64>>>, QuantizeError> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| QuantizeError::BadInput(format!("samples JSON does not parse: {e}")))?;
    let list = match &value {
        Value::Array(list) => list,
        Value::Object(map) => match map.get("samples") {
            Some(Value::Array(list)) => list,
            _ => {
                return Err(QuantizeError::BadInput(
                    "samples JSON must be {\"samples\": [...]} or an array of samples".into(),
                ))
            }
        },
        _ => {
            return Err(QuantizeError::BadInput(
                "samples JSON must be an object or an array".into(),
            ))
        }
    };
    if list.is_empty() {
        return Err(QuantizeError::BadInput(
            "samples JSON holds no samples".into(),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| sample_from_value(v, &format!("sample {i}")))
        .collect()
}

/// Reads and parses a `samples.json` file.
pub fn load_samples(path: &Path) -> Result<Vec<Vec<Vec<f64>>>, QuantizeError> {
    parse_samples(&read(path)?).map_err(|e| in_file(path, e))
}

/// `n` samples with every value uniform in [-1, 1] (token ids: uniform
/// over the vocabulary), the same for the same `seed`: the calibration set
/// when the user gives none.
pub fn random_samples(shapes: &[InputShape], n: usize, seed: u64) -> Vec<Vec<Vec<f64>>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            shapes
                .iter()
                .map(|s| match s.vocab {
                    None => (0..s.len()).map(|_| rng.gen_range(-1.0..=1.0)).collect(),
                    Some(v) => (0..s.len())
                        .map(|_| rng.gen_range(0..v.max(1)) as f64)
                        .collect(),
                })
                .collect()
        })
        .collect()
}

/// Real-valued inputs -> integers at the model's scale; token ids pass
/// through as the integers they are (checked to be in the vocabulary).
///
/// An input whose quantized value falls outside the activation range is an
/// `OutOfRange` error naming the input: the circuit range-checks every
/// activation, inputs included, so such an input could not be proved (and
/// values beyond the calibrated range would also push later tensors over).
pub fn quantize_inputs(
    model: &QuantizedModel,
    inputs: &[Vec<f64>],
) -> Result<Vec<Vec<i64>>, QuantizeError> {
    let shapes = model_input_shapes(model);
    check_inputs(&shapes, inputs)?;
    let s = model.scale_bits;
    let limit = model.activation_limit();
    let real_limit = dequantize(limit, s);
    model
        .inputs
        .iter()
        .zip(inputs)
        .zip(&shapes)
        .map(|((&id, data), spec)| {
            if spec.vocab.is_some() {
                return Ok(data.iter().map(|&v| v as i64).collect());
            }
            let q: Vec<i64> = data.iter().map(|&v| quantize(v, s)).collect();
            if let Some((i, _)) = q
                .iter()
                .enumerate()
                .find(|&(_, &x)| x >= limit || x < -limit)
            {
                let value = data[i];
                return Err(QuantizeError::OutOfRange {
                    tensor: model.tensors[id].name.clone(),
                    producer: format!("the model input, value #{i}"),
                    value,
                    limit: real_limit,
                    excess: value.abs() - real_limit,
                });
            }
            Ok(q)
        })
        .collect()
}

/// One sample (one flat tensor per input) from a JSON value in any of the
/// accepted forms. `where_` names the value in error messages.
fn sample_from_value(value: &Value, where_: &str) -> Result<Vec<Vec<f64>>, QuantizeError> {
    let Value::Object(map) = value else {
        return Ok(vec![flatten(value, where_)?]);
    };
    if let Some(v) = map.get("input") {
        return Ok(vec![flatten(v, &format!("{where_}.input"))?]);
    }
    for key in ["inputs", "input_data"] {
        if let Some(v) = map.get(key) {
            let Value::Array(list) = v else {
                return Err(QuantizeError::BadInput(format!(
                    "{where_}.{key} must be an array with one tensor per model input"
                )));
            };
            return list
                .iter()
                .enumerate()
                .map(|(i, t)| flatten(t, &format!("{where_}.{key}[{i}]")))
                .collect();
        }
    }
    Err(QuantizeError::BadInput(format!(
        "{where_}: expected a key \"input\", \"inputs\" or \"input_data\""
    )))
}

/// Row-major flattening of nested arrays of numbers.
fn flatten(value: &Value, where_: &str) -> Result<Vec<f64>, QuantizeError> {
    fn walk(v: &Value, path: &mut String, out: &mut Vec<f64>) -> Result<(), QuantizeError> {
        match v {
            Value::Number(n) => {
                out.push(n.as_f64().ok_or_else(|| {
                    QuantizeError::BadInput(format!("{path}: {n} is not an f64"))
                })?);
                Ok(())
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, path, out)?;
                    path.truncate(len);
                }
                Ok(())
            }
            other => Err(QuantizeError::BadInput(format!(
                "{path}: expected a number or an array, found {other}"
            ))),
        }
    }
    let mut out = Vec::new();
    walk(value, &mut where_.to_string(), &mut out)?;
    Ok(out)
}

fn read(path: &Path) -> Result<String, QuantizeError> {
    std::fs::read_to_string(path).map_err(|e| QuantizeError::Io(path.display().to_string(), e))
}

fn in_file(path: &Path, e: QuantizeError) -> QuantizeError {
    match e {
        QuantizeError::BadInput(m) => QuantizeError::BadInput(format!("{}: {m}", path.display())),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TensorInfo;

    fn shape(name: &str, shape: &[usize]) -> InputShape {
        InputShape {
            name: name.into(),
            shape: shape.to_vec(),
            vocab: None,
        }
    }

    #[test]
    fn all_input_forms_flatten_row_major() {
        let want = vec![vec![1.0, 2.0, 3.0, 4.0]];
        for json in [
            r#"{"input": [[1, 2], [3, 4]]}"#,
            r#"{"input": [1, 2, 3, 4]}"#,
            r#"{"inputs": [[[1, 2], [3, 4]]]}"#,
            r#"{"input_data": [[1, 2, 3, 4]]}"#,
        ] {
            assert_eq!(parse_input(json).unwrap(), want, "{json}");
        }
    }

    #[test]
    fn multi_input_models_need_one_tensor_each() {
        let shapes = [shape("a", &[1, 2]), shape("b", &[3])];
        let got = parse_input(r#"{"inputs": [[[0.5, -1]], [1, 2, 3]]}"#).unwrap();
        assert_eq!(got, vec![vec![0.5, -1.0], vec![1.0, 2.0, 3.0]]);
        assert!(check_inputs(&shapes, &got).is_ok());
        let one = parse_input(r#"{"input": [1, 2]}"#).unwrap();
        let err = check_inputs(&shapes, &one).unwrap_err().to_string();
        assert!(
            err.contains("takes 2 input tensor(s) (a, b), 1 given"),
            "{err}"
        );
    }

    #[test]
    fn wrong_count_names_the_shape() {
        let x = [shape("x", &[1, 8])];
        let input = parse_input(r#"{"input": [1, 2, 3, 4, 5, 6, 7]}"#).unwrap();
        let err = check_inputs(&x, &input).unwrap_err();
        assert!(matches!(err, QuantizeError::BadInput(_)));
        assert!(
            err.to_string()
                .contains("input 'x' expects shape [1, 8] (8 values), got 7"),
            "{err}"
        );
        let nan = check_inputs(&[shape("x", &[1])], &[vec![f64::NAN]]).unwrap_err();
        assert!(nan.to_string().contains("not a finite number"), "{nan}");
    }

    #[test]
    fn non_numbers_and_bad_json_are_errors_with_a_path() {
        let err = parse_input(r#"{"input": [1, "two"]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("input.input[1]"), "{err}");
        assert!(parse_input("{\"input\": [1,")
            .unwrap_err()
            .to_string()
            .contains("does not parse"));
        assert!(parse_input(r#"{"values": [1, 2]}"#)
            .unwrap_err()
            .to_string()
            .contains("expected a key"));
        let err = parse_input(r#"{"inputs": 3}"#).unwrap_err().to_string();
        assert!(err.contains("one tensor per model input"), "{err}");
    }

    #[test]
    fn samples_accept_both_forms_and_name_the_bad_sample() {
        let a = parse_samples(r#"{"samples": [[[1, 2]], {"input": [3, 4]}]}"#).unwrap();
        let b = parse_samples(r#"[[1, 2], {"inputs": [[3, 4]]}]"#).unwrap();
        assert_eq!(a, vec![vec![vec![1.0, 2.0]], vec![vec![3.0, 4.0]]]);
        assert_eq!(a, b);
        let err = parse_samples(r#"[[1, 2], {"input": [3, null]}]"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sample 1.input[1]"), "{err}");
        assert!(parse_samples("[]").is_err());
        assert!(parse_samples(r#"{"sample": []}"#).is_err());
    }

    #[test]
    fn files_are_read_and_errors_name_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.json");
        std::fs::write(&path, r#"{"input": [1, true]}"#).unwrap();
        let err = load_input(&path).unwrap_err().to_string();
        assert!(err.contains("in.json: input.input[1]"), "{err}");
        assert!(matches!(
            load_samples(&dir.path().join("missing.json")),
            Err(QuantizeError::Io(..))
        ));
    }

    #[test]
    fn random_samples_are_deterministic_and_in_range() {
        let shapes = [shape("a", &[1, 3]), shape("b", &[2])];
        let a = random_samples(&shapes, 5, 7);
        assert_eq!(a, random_samples(&shapes, 5, 7));
        assert_ne!(a, random_samples(&shapes, 5, 8));
        assert_eq!(a.len(), 5);
        assert!(a.iter().all(|s| s[0].len() == 3 && s[1].len() == 2));
        assert!(a
            .iter()
            .flatten()
            .flatten()
            .all(|v| (-1.0..=1.0).contains(v)));
    }

    fn one_input_model() -> QuantizedModel {
        QuantizedModel {
            name: "t".into(),
            scale_bits: 8,
            activation_bits: 12,
            tensors: vec![
                TensorInfo {
                    name: "x".into(),
                    shape: vec![2],
                    calibrated_max_abs: 1.0,
                },
                TensorInfo {
                    name: "y".into(),
                    shape: vec![2],
                    calibrated_max_abs: 1.0,
                },
            ],
            inputs: vec![0],
            outputs: vec![1],
            nodes: vec![crate::model::Node {
                name: "r".into(),
                onnx_op: "Relu".into(),
                op: crate::model::Op::Relu,
                inputs: vec![0],
                output: 1,
            }],
        }
    }

    #[test]
    fn quantize_inputs_rounds_at_the_model_scale() {
        let m = one_input_model();
        assert_eq!(
            quantize_inputs(&m, &[vec![0.5, -1.25]]).unwrap(),
            vec![vec![128, -320]]
        );
        // The range is [-2^11, 2^11) at scale 2^8: [-8, 8) in real units.
        assert_eq!(
            quantize_inputs(&m, &[vec![-8.0, 7.99]]).unwrap(),
            vec![vec![-2048, 2045]]
        );
    }

    #[test]
    fn out_of_range_input_names_the_tensor_and_the_excess() {
        let m = one_input_model();
        let err = quantize_inputs(&m, &[vec![0.0, 1000.0]]).unwrap_err();
        match &err {
            QuantizeError::OutOfRange {
                tensor,
                value,
                limit,
                excess,
                ..
            } => {
                assert_eq!(tensor, "x");
                assert_eq!(*value, 1000.0);
                assert_eq!(*limit, 8.0);
                assert_eq!(*excess, 992.0);
            }
            other => panic!("expected OutOfRange, got {other}"),
        }
        assert!(matches!(
            quantize_inputs(&m, &[vec![f64::NAN, 0.0]]),
            Err(QuantizeError::BadInput(_))
        ));
    }

    /// ids [3] -> an embedding of 4 rows of 2.
    fn embedding_model() -> QuantizedModel {
        let t = |name: &str, shape: &[usize]| TensorInfo {
            name: name.into(),
            shape: shape.to_vec(),
            calibrated_max_abs: 1.0,
        };
        QuantizedModel {
            name: "e".into(),
            scale_bits: 8,
            activation_bits: 16,
            tensors: vec![t("ids", &[3]), t("emb", &[3, 2])],
            inputs: vec![0],
            outputs: vec![1],
            nodes: vec![crate::model::Node {
                name: "/wte/Gather".into(),
                onnx_op: "Gather".into(),
                op: Op::Gather {
                    vocab: 4,
                    dim: 2,
                    table: (0..8).collect(),
                },
                inputs: vec![0],
                output: 1,
            }],
        }
    }

    #[test]
    fn token_ids_pass_through_unscaled_and_are_checked() {
        let m = embedding_model();
        assert_eq!(model_input_shapes(&m)[0].vocab, Some(4));
        assert_eq!(
            quantize_inputs(&m, &[vec![3.0, 0.0, 1.0]]).unwrap(),
            vec![vec![3, 0, 1]]
        );
        for (ids, msg) in [
            (
                vec![3.0, 4.0, 1.0],
                "token id 4 at #1 of 'ids' is outside the vocabulary [0, 4)",
            ),
            (
                vec![-1.0, 0.0, 1.0],
                "token id -1 at #0 of 'ids' is outside the vocabulary [0, 4)",
            ),
            (
                vec![0.5, 0.0, 1.0],
                "token id 0.5 at #0 of 'ids' is not an integer",
            ),
        ] {
            match quantize_inputs(&m, &[ids]) {
                Err(QuantizeError::BadInput(m)) => assert!(m.contains(msg), "{m}"),
                other => panic!("expected BadInput, got {other:?}"),
            }
        }
        let shapes = model_input_shapes(&m);
        let samples = random_samples(&shapes, 20, 1);
        let ids: Vec<f64> = samples.iter().flat_map(|s| s[0].clone()).collect();
        assert!(ids
            .iter()
            .all(|&v| v.fract() == 0.0 && (0.0..4.0).contains(&v)));
        assert!(
            ids.contains(&0.0) && ids.contains(&3.0),
            "the whole vocabulary"
        );
    }
}
