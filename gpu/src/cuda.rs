//! CUDA proving through `halo2-axiom-gpu`. Its keys and transcript types are
//! halo2-axiom's own (re-exported), so the proving key made by `zkinfer setup`
//! is used as is and the proof verifies with the CPU verifier.
//!
//! Not compiled by CI and never run by this project on a GPU (none available).

use halo2_axiom_gpu::{
    plonk::create_proof,
    poly::kzg::{
        commitment::{KZGCommitmentScheme, ParamsKZG as GpuParamsKZG},
        multiopen::ProverSHPLONK,
    },
};
use halo2_proofs::{
    plonk::{Circuit, ProvingKey},
    poly::kzg::commitment::ParamsKZG,
    transcript::{EncodedChallenge, TranscriptWrite},
    SerdeFormat,
};
use halo2curves::bn256::{Bn256, Fr, G1Affine};
use rand::RngCore;

use crate::BackendError;

/// Fails unless a CUDA device answers.
pub(crate) fn probe() -> Result<(), BackendError> {
    match std::process::Command::new("nvidia-smi").arg("-L").output() {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => Ok(()),
        Ok(out) => Err(BackendError::NoDevice(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )),
        Err(e) => Err(BackendError::NoDevice(format!("nvidia-smi: {e}"))),
    }
}

pub(crate) fn create_shplonk_proof<C, E, T, R>(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    instances: &[&[Fr]],
    rng: R,
    transcript: &mut T,
) -> Result<(), BackendError>
where
    C: Circuit<Fr>,
    E: EncodedChallenge<G1Affine>,
    T: TranscriptWrite<G1Affine, E>,
    R: RngCore + Send,
{
    // halo2-axiom-gpu 1.0.1 proves single-phase circuits only (it asserts
    // so); circuits with a verifier challenge (Freivalds matmuls) stay on CPU.
    if pk.get_vk().cs().num_challenges() > 0 {
        return Err(BackendError::Proving(
            "the CUDA prover does not support circuits with challenges (this model's multi-token \
             matmuls use Freivalds' check); prove with --backend cpu"
                .into(),
        ));
    }
    // The GPU crate keeps its own params type (it caches device copies of the
    // bases); the serialized form is shared, so convert through bytes.
    let mut bytes = Vec::new();
    params
        .write_custom(&mut bytes, SerdeFormat::RawBytes)
        .map_err(|e| BackendError::Proving(format!("serializing the SRS: {e}")))?;
    let gpu_params =
        GpuParamsKZG::<Bn256>::read_custom(&mut bytes.as_slice(), SerdeFormat::RawBytesUnchecked)
            .map_err(|e| BackendError::Proving(format!("loading the SRS for the GPU: {e}")))?;
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, E, R, T, C>(
        &gpu_params,
        pk,
        &[circuit],
        &[instances],
        rng,
        transcript,
    )
    .map_err(|e| BackendError::Proving(format!("{e:?}")))
}
