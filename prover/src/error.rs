use thiserror::Error;

/// Every failure the prover library reports. Messages say what to fix.
#[derive(Debug, Error)]
pub enum ProverError {
    #[error(transparent)]
    Quantize(#[from] zkinfer_quantizer::QuantizeError),
    #[error(transparent)]
    Circuit(#[from] zkinfer_circuits::CircuitError),
    #[error(transparent)]
    Srs(#[from] crate::srs::SrsError),
    #[error(transparent)]
    File(#[from] crate::container::ContainerError),
    #[error(transparent)]
    Backend(#[from] zkinfer_gpu::BackendError),
    #[error("invalid key: {0}")]
    BadKey(String),
    #[error("invalid proof file: {0}")]
    BadProofFile(String),
    #[error(
        "the SRS has k = {srs_k} but the circuit needs k = {needed}; make one with \
         `zkinfer srs dev --k {needed}` (testing) or import a ceremony file with at least 2^{needed} powers"
    )]
    SrsTooSmall { srs_k: u32, needed: u32 },
    #[error("the proof was made for model {proof_model} but this key is for model {key_model}")]
    WrongModel {
        proof_model: String,
        key_model: String,
    },
    #[error(
        "the proof does not match this verifying key (proof for vk {proof_vk}, key is vk {key_vk})"
    )]
    WrongKey { proof_vk: String, key_vk: String },
    #[error("this key is for model {key_model} but the .zkq is model {zkq_model}")]
    ModelKeyMismatch {
        key_model: String,
        zkq_model: String,
    },
    #[error("the proof has {got} public instances, the verifying key expects {expected}")]
    InstanceCount { got: usize, expected: usize },
    #[error(
        "proof verification failed: the proof is invalid for these public instances and this key"
    )]
    Invalid,
    #[error("{0}")]
    BadInput(String),
    #[error(
        "the proof carries model commitment {proof}, not the expected {expected}: it was made \
         with other weights"
    )]
    WrongCommitment { proof: String, expected: String },
    #[error("proof chain: {0}")]
    BadChain(String),
    #[error("key generation failed: {0}")]
    Keygen(String),
    #[error("EVM: {0}")]
    Evm(String),
    #[error("cannot read or write {0}: {1}")]
    Io(String, #[source] std::io::Error),
}
