//! Native verification of a proof file against a verifying key.

use halo2_proofs::{
    plonk::{verify_proof, VerifyingKey},
    poly::kzg::{
        commitment::{KZGCommitmentScheme, ParamsKZG},
        multiopen::VerifierSHPLONK,
        strategy::SingleStrategy,
    },
    transcript::TranscriptReadBuffer,
};
use halo2curves::bn256::{Bn256, Fr, G1Affine};
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;

use zkinfer_circuits::public::PublicInput;

use crate::error::ProverError;
use crate::keys::{fr_to_hex, KeyHeader};
use crate::proof_file::ProofFile;

/// What verification needs from a key file (borrowed, so a proving key file
/// can verify its own proofs without a copy).
pub struct VerifierView<'a> {
    pub header: &'a KeyHeader,
    pub params: &'a ParamsKZG<Bn256>,
    pub vk: &'a VerifyingKey<G1Affine>,
}

/// Ok only for a valid proof of these instances under this key. The metadata
/// checks come first only to explain a mismatch; soundness rests on the
/// cryptographic check, which always runs.
pub fn verify(key: &VerifierView<'_>, proof: &ProofFile) -> Result<(), ProverError> {
    // With private weights the key is shared by every model of its
    // architecture: the model is the commitment the proof carries, which
    // `verify_commitment` compares with the one a caller expects.
    let private = key.header.circuit.private_weights();
    if !private && proof.model_id != key.header.model_id {
        return Err(ProverError::WrongModel {
            proof_model: proof.model_id.clone(),
            key_model: key.header.model_id.clone(),
        });
    }
    if proof.vk_id != key.header.vk_id {
        return Err(ProverError::WrongKey {
            proof_vk: proof.vk_id.clone(),
            key_vk: key.header.vk_id.clone(),
        });
    }
    // The verifier reads only the instances, but people and contracts read
    // the values through this layout: it must be the key's.
    if proof.public_layout() != key.header.public_layout() {
        return Err(ProverError::BadProofFile(format!(
            "its public values are laid out as {:?}, the key's as {:?}",
            proof.public_layout(),
            key.header.public_layout()
        )));
    }
    let instances = proof.instance_values()?;
    if private && proof.model_commitment()?.map(|c| fr_to_hex(&c)) != Some(proof.model_id.clone()) {
        return Err(ProverError::BadProofFile(format!(
            "its model id {} is not the model commitment its first instance carries",
            proof.model_id
        )));
    }
    if instances.len() != key.header.num_instances {
        return Err(ProverError::InstanceCount {
            got: instances.len(),
            expected: key.header.num_instances,
        });
    }
    let bytes = proof.proof_bytes()?;
    // halo2 reports malformed proofs as errors, but a verifier must never
    // crash on attacker-supplied bytes: treat any panic as a rejection.
    let accepted = std::panic::catch_unwind(|| {
        let mut transcript = EvmTranscript::<G1Affine, _, _, _>::init(bytes.as_slice());
        verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
            key.params,
            key.vk,
            SingleStrategy::new(key.params),
            &[&[instances.as_slice()]],
            &mut transcript,
        )
        .is_ok()
    })
    .unwrap_or(false);
    if accepted {
        Ok(())
    } else {
        Err(ProverError::Invalid)
    }
}

/// Ok when `proof` carries `expected` as its model commitment (private
/// weights): together with [`verify`], the output came from the weights the
/// creator committed to. A fixed-weights proof has no commitment: its model
/// is its key.
pub fn verify_commitment(proof: &ProofFile, expected: &Fr) -> Result<(), ProverError> {
    match proof.model_commitment()? {
        None => Err(ProverError::BadInput(
            "the proof is for a model with fixed weights: it carries no model commitment (its \
             verifying key is the model; compare vk ids with `zkinfer vk-id`)"
                .into(),
        )),
        Some(c) if c == *expected => Ok(()),
        Some(c) => Err(ProverError::WrongCommitment {
            proof: fr_to_hex(&c),
            expected: fr_to_hex(expected),
        }),
    }
}

/// Ok when `proof` carries `expected` as its input commitment (hashed
/// input): the proof is about the input whose commitment a requester holds.
pub fn verify_input_commitment(proof: &ProofFile, expected: &Fr) -> Result<(), ProverError> {
    match proof.public_values()?.input {
        PublicInput::Values(_) => Err(ProverError::BadInput(
            "the proof's input is public, not hashed: compare its input values instead".into(),
        )),
        PublicInput::Commitment(c) if c == *expected => Ok(()),
        PublicInput::Commitment(c) => Err(ProverError::BadInput(format!(
            "the proof is about the input with commitment {}, not {}",
            fr_to_hex(&c),
            fr_to_hex(expected)
        ))),
    }
}
