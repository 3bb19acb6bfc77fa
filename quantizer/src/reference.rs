//! The float reference the quantized model's accuracy is measured against
//! ([`Reference`]). For an ONNX file it is the file run by tract
//! ([`FloatReference`]), independently of our importer: agreement between
//! the two validates the importer. For a Hugging Face checkpoint, which
//! nothing here runs independently, it is zkinfer's own f64 evaluation of
//! the float graph (`impl Reference for FloatGraph`); its builders are
//! checked against tract on ONNX exports of the same weights in tests.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::error::QuantizeError;
use crate::float_graph::FloatGraph;
use crate::inputs::{check_inputs, InputShape};
use crate::onnx::{graph_input_shapes, read_model_proto};

/// A float model that computes the outputs the quantized model approximates.
pub trait Reference {
    fn kind(&self) -> ReferenceKind;
    /// The outputs for one sample (one flat tensor per input).
    fn run(&self, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, QuantizeError>;
}

/// Which float reference a report used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceKind {
    /// The ONNX file run by tract, in f32.
    Tract,
    /// zkinfer's own f64 evaluation of the float graph.
    Evaluator,
}

impl ReferenceKind {
    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            ReferenceKind::Tract => "tract",
            ReferenceKind::Evaluator => "zkinfer's f64 evaluator",
        }
    }
}

impl Reference for FloatReference {
    fn kind(&self) -> ReferenceKind {
        ReferenceKind::Tract
    }

    fn run(&self, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, QuantizeError> {
        FloatReference::run(self, inputs)
    }
}

impl Reference for FloatGraph {
    fn kind(&self) -> ReferenceKind {
        ReferenceKind::Evaluator
    }

    fn run(&self, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, QuantizeError> {
        FloatGraph::run(self, inputs)
    }
}

pub struct FloatReference {
    plan: Arc<TypedRunnableModel>,
    inputs: Vec<InputShape>,
}

fn tract_err(what: &str) -> impl Fn(TractError) -> QuantizeError + '_ {
    move |e| QuantizeError::Reference(format!("{what}: {e:#}"))
}

impl FloatReference {
    /// Loads the model with tract, fixing its input shapes to the ones the
    /// importer uses (symbolic dimensions set to 1), and optimizes it.
    pub fn load(path: &Path) -> Result<Self, QuantizeError> {
        let (inputs, _) = graph_input_shapes(&read_model_proto(path)?)?;
        let mut model = tract_onnx::onnx()
            .model_for_path(path)
            .map_err(tract_err("loading the model"))?;
        let outlets = model
            .input_outlets()
            .map_err(tract_err("reading inputs"))?
            .to_vec();
        if outlets.len() != inputs.len() {
            return Err(QuantizeError::Reference(format!(
                "tract sees {} inputs, the importer {}",
                outlets.len(),
                inputs.len()
            )));
        }
        for (i, (outlet, spec)) in outlets.iter().zip(&inputs).enumerate() {
            let tract_name = &model.node(outlet.node).name;
            if tract_name != &spec.name {
                return Err(QuantizeError::Reference(format!(
                    "input #{i} is '{tract_name}' in tract but '{}' in the importer",
                    spec.name
                )));
            }
            let fact = match spec.vocab {
                None => f32::fact(spec.shape.clone()),
                Some(_) => i64::fact(spec.shape.clone()),
            };
            model
                .set_input_fact(i, fact.into())
                .map_err(tract_err("setting the input shapes"))?;
        }
        let plan = model
            .into_optimized()
            .map_err(tract_err("optimizing"))?
            .into_runnable()
            .map_err(tract_err("planning"))?;
        Ok(FloatReference { plan, inputs })
    }

    pub fn input_shapes(&self) -> &[InputShape] {
        &self.inputs
    }

    /// The model's outputs for one sample (one flat tensor per input; token
    /// ids as i64), in f32 as tract computes them, widened to f64.
    pub fn run(&self, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, QuantizeError> {
        check_inputs(&self.inputs, inputs)?;
        let tensors = self
            .inputs
            .iter()
            .zip(inputs)
            .map(|(spec, data)| {
                let t = match spec.vocab {
                    None => {
                        let data: Vec<f32> = data.iter().map(|&v| v as f32).collect();
                        Tensor::from_shape(&spec.shape, &data)
                    }
                    Some(_) => {
                        let data: Vec<i64> = data.iter().map(|&v| v as i64).collect();
                        Tensor::from_shape(&spec.shape, &data)
                    }
                };
                t.map(|t| t.into_tvalue())
            })
            .collect::<TractResult<TVec<TValue>>>()
            .map_err(tract_err("building inputs"))?;
        let outputs = self.plan.run(tensors).map_err(tract_err("running"))?;
        outputs
            .iter()
            .map(|t| {
                let t = t.cast_to::<f32>()?;
                Ok(t.to_plain_array_view::<f32>()?
                    .iter()
                    .map(|&v| v as f64)
                    .collect())
            })
            .collect::<TractResult<Vec<Vec<f64>>>>()
            .map_err(tract_err("reading outputs"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::random_samples;
    use crate::onnx::load_onnx;
    use std::path::PathBuf;

    fn model(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(name)
    }

    /// The importer's f64 evaluation and tract's f32 run of the same file
    /// agree to f32 rounding: the importer reads every op as tract does.
    #[test]
    fn importer_matches_tract_on_the_bundled_models() {
        for name in ["mlp.onnx", "mlp_ops.onnx"] {
            let graph = load_onnx(&model(name)).unwrap();
            let reference = FloatReference::load(&model(name)).unwrap();
            assert_eq!(reference.input_shapes(), graph.input_shapes().as_slice());
            let mut worst = 0.0f64;
            for sample in random_samples(&graph.input_shapes(), 16, 1) {
                let ours = graph.run(&sample).unwrap();
                let theirs = reference.run(&sample).unwrap();
                assert_eq!(ours.len(), theirs.len());
                for (a, b) in ours.iter().zip(&theirs) {
                    assert_eq!(a.len(), b.len());
                    for (x, y) in a.iter().zip(b) {
                        worst = worst.max((x - y).abs());
                    }
                }
            }
            assert!(worst < 1e-5, "{name}: importer and tract differ by {worst}");
        }
    }

    #[test]
    fn wrong_input_size_is_bad_input() {
        let reference = FloatReference::load(&model("mlp.onnx")).unwrap();
        let err = reference.run(&[vec![0.0; 7]]).unwrap_err().to_string();
        assert!(
            err.contains("input 'input' expects shape [1, 8] (8 values), got 7"),
            "{err}"
        );
    }
}
