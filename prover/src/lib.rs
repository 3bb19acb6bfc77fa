//! zkinfer's prover: keys, proofs and their verification, and the CLI's steps.
//!
//! Proofs are KZG (BN254) with SHPLONK multi-opening and snark-verifier's
//! Keccak `EvmTranscript`, so a proof verifies natively here and, unchanged,
//! in the generated Solidity verifier.

pub mod accuracy;
pub mod bundled;
pub mod chain;
pub mod cli;
pub mod commit;
pub mod container;
pub mod error;
pub mod evm;
pub mod keys;
pub mod measure;
pub mod onchain;
pub mod pipeline;
pub mod progress;
pub mod proof_file;
pub mod prove;
pub mod report;
pub mod setup;
pub mod srs;
pub mod tamper;
pub mod verify;

pub use error::ProverError;
