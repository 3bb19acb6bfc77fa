//! Proving backends behind one seam, chosen at run time.
//!
//! The CPU backend is halo2-axiom's own prover (multi-threaded with rayon) and
//! is always built. The CUDA backend (`halo2-axiom-gpu`, feature `cuda`) takes
//! the same proving key, circuit and transcript and writes a byte-identical
//! proof format, so a proof never depends on which backend made it. The CUDA
//! path needs `nvcc` to build and a GPU to run; it is not in the default build
//! and has never been run by this project's CI (no GPU there).

mod backend;
mod cpu;
#[cfg(feature = "cuda")]
mod cuda;

pub use backend::{Backend, BackendChoice, BackendError};

use halo2_proofs::{
    plonk::{Circuit, ProvingKey},
    poly::kzg::commitment::ParamsKZG,
    transcript::{EncodedChallenge, TranscriptWrite},
};
use halo2curves::bn256::{Bn256, Fr, G1Affine};
use rand::RngCore;

/// Creates a KZG/SHPLONK proof for one circuit with one set of instance
/// columns, on the given backend, writing it into `transcript`.
pub fn create_shplonk_proof<C, E, T, R>(
    backend: Backend,
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
    match backend {
        Backend::Cpu => cpu::create_shplonk_proof(params, pk, circuit, instances, rng, transcript),
        #[cfg(feature = "cuda")]
        Backend::Cuda => {
            cuda::create_shplonk_proof(params, pk, circuit, instances, rng, transcript)
        }
    }
}
