//! `ModelCircuit`: a quantized model as one halo2 circuit.
//!
//! Public instances: one instance column holding the model commitment
//! (private weights), every model input value (flattened, in `model.inputs`
//! order; or, hashed, their commitment) then every output value (in
//! `model.outputs` order), several to an instance ([`crate::public`]).
//! The constraint system depends only on [`CircuitParams`]. With fixed
//! weights (the default) the weights enter as fixed-column assignments in
//! `synthesize`, so they are committed in the verifying key, which is the
//! model's identity. With private weights they are advice, hashed into the
//! model commitment that leads the instances ([`crate::commitment`]), and
//! the key holds none of them.

use std::sync::Arc;

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};
use halo2curves::bn256::Fr;
use zkinfer_quantizer::{infer, Op, QuantizedModel};

use crate::chips::layernorm::LayerNormChip;
use crate::config::ModelConfig;
use crate::error::CircuitError;
use crate::graph;
use crate::params::{CircuitParams, Visibility};
use crate::plan::{plan_circuit, Layout};
#[cfg(test)]
use crate::public::PublicInput;
use crate::public::{PackError, PublicLayout};

#[derive(Clone, Debug)]
pub struct ModelCircuit {
    model: Arc<QuantizedModel>,
    layout: Layout,
    params: CircuitParams,
    witness: Option<Arc<Witness>>,
}

#[derive(Debug)]
struct Witness {
    inputs: Vec<Vec<i64>>,
    outputs: Vec<Vec<i64>>,
    instances: Vec<Fr>,
    /// The hashed input's salt (zero when not hashed or not salted).
    salt: Fr,
}

impl ModelCircuit {
    /// The circuit without a witness, for key generation (fixed weights, a
    /// public input).
    pub fn for_keygen(model: Arc<QuantizedModel>) -> Result<Self, CircuitError> {
        Self::for_keygen_visible(model, Visibility::default())
    }

    /// The circuit without a witness, with `visibility`.
    pub fn for_keygen_visible(
        model: Arc<QuantizedModel>,
        visibility: Visibility,
    ) -> Result<Self, CircuitError> {
        let (layout, params) = plan_circuit(&model, visibility)?;
        Ok(ModelCircuit {
            model,
            layout,
            params,
            witness: None,
        })
    }

    /// The circuit proving inference on `inputs` (one vector per model input,
    /// already quantized). Runs integer inference; its errors (wrong shape, a
    /// value outside the activation range) are returned as they are.
    pub fn with_inputs(
        model: Arc<QuantizedModel>,
        inputs: Vec<Vec<i64>>,
    ) -> Result<Self, CircuitError> {
        Self::with_inputs_visible(model, inputs, Visibility::default())
    }

    /// [`Self::with_inputs`] with `visibility`.
    pub fn with_inputs_visible(
        model: Arc<QuantizedModel>,
        inputs: Vec<Vec<i64>>,
        visibility: Visibility,
    ) -> Result<Self, CircuitError> {
        Self::with_inputs_salted(model, inputs, visibility, Fr::zero())
    }

    /// [`Self::with_inputs_visible`] where a hashed input's commitment
    /// takes `salt` (a private witness; see [`crate::commitment`]).
    pub fn with_inputs_salted(
        model: Arc<QuantizedModel>,
        inputs: Vec<Vec<i64>>,
        visibility: Visibility,
        salt: Fr,
    ) -> Result<Self, CircuitError> {
        model.validate()?;
        let trace = infer::run(&model, &inputs)?;
        check_witness(&model, &trace)?;
        let outputs: Vec<Vec<i64>> = model
            .outputs
            .iter()
            .map(|&id| trace.tensor(id).to_vec())
            .collect();
        let mut circuit = Self::for_keygen_visible(model, visibility)?;
        let instances =
            instances_from_salted(&circuit.model, &circuit.params, salt, &inputs, &outputs)?;
        circuit.witness = Some(Arc::new(Witness {
            inputs,
            outputs,
            instances,
            salt,
        }));
        Ok(circuit)
    }

    /// Test-only: the circuit under `params` instead of the planner's, so a
    /// test can force a layout (e.g. Freivalds on a small model). Only
    /// `params` shape the constraint system; `layout` stays the planner's.
    #[cfg(test)]
    pub(crate) fn with_params(
        model: &QuantizedModel,
        inputs: Vec<Vec<i64>>,
        params: CircuitParams,
    ) -> Result<Self, CircuitError> {
        let mut circuit = Self::with_inputs(Arc::new(model.clone()), inputs)?;
        if let Some(w) = &circuit.witness {
            let instances = instances_from(model, &params, &w.inputs, &w.outputs)?;
            circuit.witness = Some(Arc::new(Witness {
                inputs: w.inputs.clone(),
                outputs: w.outputs.clone(),
                instances,
                salt: w.salt,
            }));
        }
        circuit.params = params;
        Ok(circuit)
    }

    pub fn model(&self) -> &QuantizedModel {
        &self.model
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The parameters the constraint system is built from (also what
    /// `VerifyingKey::read` needs).
    pub fn params(&self) -> CircuitParams {
        self.params.clone()
    }

    /// The public instance column ([`crate::public`]): inputs then outputs.
    /// Empty without a witness.
    pub fn instances(&self) -> Vec<Fr> {
        self.witness
            .as_ref()
            .map_or_else(Vec::new, |w| w.instances.clone())
    }

    /// Where the public values sit among the instances.
    pub fn public_layout(&self) -> PublicLayout {
        PublicLayout::of(&self.model, &self.params)
    }

    /// The integer outputs, one vector per model output. Empty without a witness.
    pub fn outputs(&self) -> Vec<Vec<i64>> {
        self.witness
            .as_ref()
            .map_or_else(Vec::new, |w| w.outputs.clone())
    }
}

/// The instance column for `inputs` and `outputs` (one vector per model
/// input and output) of `model` under `params`: inputs then outputs, in the
/// format of [`crate::public`]. Errors on a value that does not fit its lane
/// or on vectors whose total length is not the model's.
pub fn instances_from(
    model: &QuantizedModel,
    params: &CircuitParams,
    inputs: &[Vec<i64>],
    outputs: &[Vec<i64>],
) -> Result<Vec<Fr>, PackError> {
    instances_from_salted(model, params, Fr::zero(), inputs, outputs)
}

/// [`instances_from`] where a hashed input's commitment takes `salt`.
pub fn instances_from_salted(
    model: &QuantizedModel,
    params: &CircuitParams,
    salt: Fr,
    inputs: &[Vec<i64>],
    outputs: &[Vec<i64>],
) -> Result<Vec<Fr>, PackError> {
    let commitment = params
        .private_weights()
        .then(|| crate::commitment::model_commitment(model));
    PublicLayout::of(model, params).pack_salted(
        commitment,
        salt,
        &inputs.concat(),
        &outputs.concat(),
    )
}

impl Circuit<Fr> for ModelCircuit {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitParams;

    fn without_witnesses(&self) -> Self {
        ModelCircuit {
            witness: None,
            ..self.clone()
        }
    }

    fn params(&self) -> CircuitParams {
        self.params.clone()
    }

    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        params: CircuitParams,
    ) -> ModelConfig {
        ModelConfig::configure(meta, &params)
    }

    /// halo2 calls `configure_with_params`; this fallback builds the smallest
    /// valid configuration (see [`CircuitParams::normalized`]).
    fn configure(meta: &mut ConstraintSystem<Fr>) -> ModelConfig {
        ModelConfig::configure(meta, &CircuitParams::default())
    }

    fn synthesize(
        &self,
        config: ModelConfig,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        let inputs = self.witness.as_ref().map(|w| w.inputs.as_slice());
        let salt = self
            .witness
            .as_ref()
            .map_or(Value::unknown(), |w| Value::known(w.salt));
        graph::lay_out(&self.model, inputs, salt, &config, &mut layouter).map(|_| ())
    }
}

/// What integer inference does not check but a chip needs of the witness:
/// a layer norm's normalized values must be activations. Reported with the
/// node, before any proving starts, instead of as a proof that fails.
fn check_witness(model: &QuantizedModel, trace: &infer::Trace) -> Result<(), CircuitError> {
    for node in &model.nodes {
        if let Op::LayerNorm { gamma, beta, eps } = &node.op {
            let x = trace.tensor(node.inputs[0]);
            for row in x.chunks(gamma.len().max(1)) {
                LayerNormChip::check_row(
                    row,
                    gamma,
                    beta,
                    *eps,
                    model.scale_bits,
                    model.activation_bits,
                )
                .map_err(|e| CircuitError::Nonlinear {
                    node: node.name.clone(),
                    op: node.op.kind(),
                    reason: e.to_string(),
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use halo2_proofs::dev::MockProver;
    use zkinfer_quantizer::QuantizeError;

    use super::*;
    use crate::field::{fr_from_i64, pow2};
    use crate::testing::{assert_rejected, test_inputs, test_model, Kind};
    use halo2curves::ff::Field;

    fn mock(
        circuit: &ModelCircuit,
        instances: Vec<Fr>,
    ) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
        MockProver::run(circuit.layout().k, circuit, vec![instances])
            .expect("synthesis succeeds")
            .verify()
    }

    #[test]
    fn honest_inference_verifies() {
        let model = Arc::new(test_model());
        for seed in 0..3 {
            let inputs = test_inputs(seed);
            let trace = infer::run(&model, &inputs).expect("the test model stays in range");
            let circuit = ModelCircuit::with_inputs(model.clone(), inputs.clone()).unwrap();
            let expected: Vec<Vec<i64>> = model
                .outputs
                .iter()
                .map(|&o| trace.tensor(o).to_vec())
                .collect();
            assert_eq!(circuit.outputs(), expected);
            assert_eq!(
                circuit.instances(),
                instances_from(&model, &circuit.params(), &inputs, &expected).unwrap()
            );
            assert_eq!(mock(&circuit, circuit.instances()), Ok(()), "seed {seed}");
        }
    }

    #[test]
    fn wide_layers_get_more_accumulator_columns_and_verify() {
        let (model, inputs) = crate::testing::mlp(64, 64, 4, 3);
        let circuit = ModelCircuit::with_inputs(Arc::new(model), inputs).unwrap();
        let layout = circuit.layout();
        assert!(
            layout.advice_columns > crate::params::MIN_ADVICE_COLUMNS,
            "{layout}"
        );
        assert!(layout.k <= 11, "{layout}");
        assert_eq!(mock(&circuit, circuit.instances()), Ok(()));
    }

    #[test]
    fn wrong_public_output_is_rejected() {
        let circuit = ModelCircuit::with_inputs(Arc::new(test_model()), test_inputs(1)).unwrap();
        let mut instances = circuit.instances();
        *instances.last_mut().unwrap() += Fr::from(1u64);
        assert_rejected(mock(&circuit, instances), &[Kind::Copy]);
    }

    #[test]
    fn wrong_public_input_is_rejected() {
        let circuit = ModelCircuit::with_inputs(Arc::new(test_model()), test_inputs(1)).unwrap();
        let mut instances = circuit.instances();
        // The first word: the inputs.
        instances[0] += Fr::from(1u64);
        assert_rejected(mock(&circuit, instances), &[Kind::Copy]);
    }

    #[test]
    fn public_input_that_wraps_the_field_is_rejected() {
        // Input → Reshape → output: only the input range check stands
        // between the prover and the field element p − 2^12 ("−4096").
        let mut model = test_model();
        model.tensors.truncate(2);
        model.tensors[1].shape = vec![2, 4];
        model.inputs = vec![0];
        model.outputs = vec![1];
        model.nodes = vec![zkinfer_quantizer::Node {
            name: "view".into(),
            onnx_op: "Reshape".into(),
            op: zkinfer_quantizer::Op::Reshape,
            inputs: vec![0],
            output: 1,
        }];
        let honest = ModelCircuit::with_inputs(Arc::new(model.clone()), vec![vec![1; 8]]).unwrap();
        assert_eq!(mock(&honest, honest.instances()), Ok(()));
        let forged = vec![vec![-4096, 1, 1, 1, 1, 1, 1, 1]];
        // The words of the forged values, lanes computed in the field (the
        // honest packer refuses such a value).
        let bits = honest.params().activation_bits;
        let word = forged[0].iter().rev().fold(Fr::ZERO, |w, &v| {
            w * pow2(bits) + fr_from_i64(v) + pow2(bits - 1)
        });
        let witness = Witness {
            inputs: forged.clone(),
            outputs: forged.clone(),
            instances: vec![word, word],
            salt: Fr::zero(),
        };
        let circuit = ModelCircuit {
            witness: Some(Arc::new(witness)),
            ..honest
        };
        assert!(instances_from(&model, &circuit.params(), &forged, &forged).is_err());
        assert_rejected(mock(&circuit, circuit.instances()), &[Kind::Lookup]);
    }

    #[test]
    fn instances_are_inputs_then_outputs() {
        let model = test_model();
        let circuit = ModelCircuit::with_inputs(Arc::new(model.clone()), test_inputs(0)).unwrap();
        let layout = circuit.public_layout();
        assert_eq!(layout.lane_bits, model.activation_bits);
        assert_eq!((layout.num_inputs, layout.num_outputs), (8 + 6, 6 + 6));
        // 21 lanes of 12 bits a word: the 14 inputs fit one, the 12 outputs another.
        assert_eq!(circuit.instances().len(), circuit.layout().num_instances);
        assert_eq!(circuit.layout().num_instances, 2);
        let values = layout.unpack(&circuit.instances()).unwrap();
        assert_eq!(values.input, PublicInput::Values(test_inputs(0).concat()));
        assert_eq!(values.outputs, circuit.outputs().concat());
        assert_eq!(values.model_commitment, None);
        let lane = |v: i64| Fr::from((v + 2048) as u64);
        let word = (lane(5) * pow2(12) + lane(-2)) * pow2(12) + lane(1);
        let small = PublicLayout::values(12, 3, 0);
        assert_eq!(small.pack(None, &[1, -2, 5], &[]).unwrap(), vec![word]);
    }

    #[test]
    fn keygen_circuit_has_no_witness() {
        let circuit = ModelCircuit::for_keygen(Arc::new(test_model())).unwrap();
        assert!(circuit.instances().is_empty());
        assert!(circuit.outputs().is_empty());
        assert_eq!(circuit.params().k, circuit.layout().k);
    }

    #[test]
    fn out_of_range_input_is_a_witness_error() {
        let mut inputs = test_inputs(0);
        inputs[0][0] = 5000; // activations are 12-bit: |x| < 2048
        let err = ModelCircuit::with_inputs(Arc::new(test_model()), inputs).unwrap_err();
        assert!(
            matches!(err, CircuitError::Model(QuantizeError::OutOfRange { .. })),
            "{err}"
        );
        let err = ModelCircuit::with_inputs(Arc::new(test_model()), vec![vec![0; 8]]).unwrap_err();
        assert!(
            matches!(err, CircuitError::Model(QuantizeError::BadInput(_))),
            "{err}"
        );
    }

    /// A real SHPLONK proof (not MockProver): keys from the witness-less
    /// circuit, a verifying key re-read from `CircuitParams` alone, and a
    /// wrong public output rejected.
    #[test]
    fn real_proof_verifies_with_a_vk_rebuilt_from_params() {
        use halo2_proofs::plonk::{create_proof, keygen_pk, keygen_vk, verify_proof, VerifyingKey};
        use halo2_proofs::poly::commitment::ParamsProver;
        use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
        use halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
        use halo2_proofs::poly::kzg::strategy::SingleStrategy;
        use halo2_proofs::transcript::{
            Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
        };
        use halo2_proofs::SerdeFormat;
        use halo2curves::bn256::{Bn256, G1Affine};
        use halo2curves::ff::Field;
        use rand::SeedableRng;
        use rand_chacha::ChaCha20Rng;

        let model = Arc::new(test_model());
        let keygen = ModelCircuit::for_keygen(model.clone()).unwrap();
        let params = ParamsKZG::<Bn256>::setup(keygen.layout().k, ChaCha20Rng::seed_from_u64(1));
        let vk = keygen_vk(&params, &keygen).unwrap();
        let pk = keygen_pk(&params, vk, &keygen).unwrap();

        let circuit = ModelCircuit::with_inputs(model, test_inputs(2)).unwrap();
        let instances = circuit.instances();
        let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
        create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
            &params,
            &pk,
            &[circuit],
            &[&[&instances]],
            ChaCha20Rng::seed_from_u64(2),
            &mut transcript,
        )
        .unwrap();
        let proof = transcript.finalize();

        let mut vk_bytes = Vec::new();
        pk.get_vk()
            .write(&mut vk_bytes, SerdeFormat::RawBytes)
            .unwrap();
        let vk = VerifyingKey::<G1Affine>::read::<_, ModelCircuit>(
            &mut &vk_bytes[..],
            SerdeFormat::RawBytes,
            keygen.params(),
        )
        .unwrap();
        let verify = |instances: &[Fr]| {
            let mut transcript = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(&proof[..]);
            verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
                params.verifier_params(),
                &vk,
                SingleStrategy::new(&params),
                &[&[instances]],
                &mut transcript,
            )
        };
        assert!(verify(&instances).is_ok());
        let mut wrong = instances.clone();
        *wrong.last_mut().unwrap() += Fr::ONE;
        assert!(verify(&wrong).is_err());
    }
}
