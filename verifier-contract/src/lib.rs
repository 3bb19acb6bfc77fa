//! On-chain side of zkinfer: the Solidity verifier of a model's verifying
//! key, the royalty market contracts, their compilation with solc-js, and an
//! embedded EVM (revm) that deploys and calls them without a node.

mod compact_memory;
pub mod evm;
pub mod instance_loop;
pub mod market;
#[cfg(test)]
mod market_tests;
pub mod rpc;
pub mod solc;
pub mod split;
pub mod verifier;

pub use alloy_sol_types;
pub use revm::primitives::{Address, U256};
