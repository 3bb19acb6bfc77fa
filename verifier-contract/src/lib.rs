//! Solidity verifier generation and the royalty contracts.
//!
//! Not built yet: this crate is reserved by the workspace layout for the
//! on-chain issue (verifier generation with snark-verifier, solc-js, revm).
//! Proofs made today already use the EVM (Keccak) transcript that the
//! generated verifier will replay.
