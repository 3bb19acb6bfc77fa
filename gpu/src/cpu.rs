use halo2_proofs::{
    plonk::{create_proof, Circuit, ProvingKey},
    poly::kzg::{
        commitment::{KZGCommitmentScheme, ParamsKZG},
        multiopen::ProverSHPLONK,
    },
    transcript::{EncodedChallenge, TranscriptWrite},
};
use halo2curves::bn256::{Bn256, Fr, G1Affine};
use rand::RngCore;

use crate::BackendError;

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
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, E, R, T, C>(
        params,
        pk,
        &[circuit],
        &[instances],
        rng,
        transcript,
    )
    .map_err(|e| BackendError::Proving(format!("{e:?}")))
}
