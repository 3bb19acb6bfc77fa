//! `prove`: witness by integer inference, then a SHPLONK proof with the
//! Keccak-based transcript that snark-verifier's EVM verifier replays, so the
//! same proof bytes verify natively and on-chain.

use std::sync::Arc;
use std::time::{Duration, Instant};

use halo2_proofs::transcript::TranscriptWriterBuffer;
use halo2curves::bn256::{Fr, G1Affine};
use rand::rngs::OsRng;
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;
use zkinfer_circuits::ModelCircuit;
use zkinfer_gpu::{create_shplonk_proof, Backend};
use zkinfer_quantizer::{fixed::dequantize, QuantizedModel};

use crate::error::ProverError;
use crate::keys::{fr_to_hex, ProvingKeyFile};
use crate::progress::Progress;
use crate::proof_file::{fr_to_decimal, ProofFile, PROOF_FORMAT};
use crate::verify::verify;

pub const SCHEME: &str = "kzg-bn254-shplonk, keccak256 evm transcript";

pub struct ProveOutput {
    pub proof: ProofFile,
    /// Integer outputs, one flat vector per model output.
    pub outputs: Vec<Vec<i64>>,
    pub elapsed: Duration,
}

/// Proves one inference on already-quantized inputs.
pub fn prove(
    model: &QuantizedModel,
    pk: &ProvingKeyFile,
    inputs: Vec<Vec<i64>>,
    backend: Backend,
    progress: &Progress,
) -> Result<ProveOutput, ProverError> {
    prove_salted(model, pk, inputs, Fr::zero(), backend, progress)
}

/// [`prove`] where a hashed input's commitment takes `salt` (the
/// requester's, from `zkinfer commit-input`; ignored for a public input).
pub fn prove_salted(
    model: &QuantizedModel,
    pk: &ProvingKeyFile,
    inputs: Vec<Vec<i64>>,
    salt: Fr,
    backend: Backend,
    progress: &Progress,
) -> Result<ProveOutput, ProverError> {
    let visibility = pk.header.circuit.visibility();
    // A private-weights key holds no weight: it proves any model of its
    // architecture, and the proof names the model by its commitment. A
    // fixed-weights key proves its own model only.
    let private = pk.header.circuit.private_weights();
    if !private && pk.header.model_id != model.id() {
        return Err(ProverError::ModelKeyMismatch {
            key_model: pk.header.model_id.clone(),
            zkq_model: model.id(),
        });
    }
    let start = Instant::now();
    progress.stage("integer inference (witness)");
    let circuit =
        ModelCircuit::with_inputs_salted(Arc::new(model.clone()), inputs, visibility, salt)?;
    // A key from another zkinfer (before packed public values, say) is for
    // another constraint system: say so rather than fail inside the prover.
    if pk.header.circuit != circuit.params() {
        return Err(ProverError::BadKey(format!(
            "the proving key was made for circuit parameters {:?}, this zkinfer lays the model out \
             with {:?}: run `zkinfer setup` again (with private weights, the key is for models \
             of one architecture whose weights fit the same lane widths)",
            pk.header.circuit,
            circuit.params()
        )));
    }
    let instances = circuit.instances();
    // The commitment the circuit's instances already carry.
    let model_id = match instances.first() {
        Some(commitment) if private => fr_to_hex(commitment),
        _ => model.id(),
    };
    let outputs = circuit.outputs();
    let circuit_layout = circuit.public_layout();
    progress.stage(&format!("proving on {backend}"));
    let mut transcript = EvmTranscript::<G1Affine, _, _, _>::init(Vec::new());
    create_shplonk_proof(
        backend,
        &pk.params,
        &pk.pk,
        circuit,
        &[&instances],
        OsRng,
        &mut transcript,
    )?;
    let proof_bytes = transcript.finalize();
    let layout = circuit_layout;
    let proof = ProofFile {
        format: PROOF_FORMAT.to_string(),
        zkinfer_version: env!("CARGO_PKG_VERSION").to_string(),
        model_id,
        vk_id: pk.header.vk_id.clone(),
        scheme: SCHEME.to_string(),
        insecure_srs: pk.header.srs_insecure,
        proof: format!("0x{}", hex::encode(&proof_bytes)),
        instances: instances.iter().map(fr_to_decimal).collect(),
        num_inputs: layout.num_inputs,
        num_outputs: layout.num_outputs,
        lane_bits: layout.lane_bits,
        weights: visibility.weights,
        input_visibility: visibility.input,
        output: outputs
            .iter()
            .map(|o| o.iter().map(|&v| dequantize(v, model.scale_bits)).collect())
            .collect(),
    };
    let elapsed = start.elapsed();
    // A proof that does not verify must never be written: check it here, in
    // milliseconds, with the same code path `zkinfer verify` uses.
    progress.stage("verifying the new proof");
    verify(&pk.verifier_view(), &proof)?;
    Ok(ProveOutput {
        proof,
        outputs,
        elapsed,
    })
}
