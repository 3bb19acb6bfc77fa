//! halo2 chips for quantized inference and the graph compiler that lays a
//! `.zkq` model out as one circuit (KZG on BN254, halo2-axiom).
//!
//! - [`chips`]: range checks (one shared lookup table), rescale, linear
//!   (direct, or Freivalds' check with a halo2 challenge for multi-token
//!   layers, see [`linear_layout`]), ReLU, elementwise arithmetic, all over
//!   one shared pool of columns ([`columns`]) with explicit row allocation
//!   ([`rows`]);
//! - [`ModelCircuit`] ([`compiler`]): the circuit of a model; its synthesis
//!   walks the nodes and wires the chips;
//! - [`plan()`]: chooses `k`, the table size and the number of columns, and
//!   reports them as a [`Layout`].

pub mod cell;
pub mod chips;
pub mod columns;
pub mod commitment;
pub mod compiler;
pub mod config;
pub mod error;
pub mod field;
mod graph;
pub mod linear_layout;
mod measure;
#[cfg(test)]
mod multi_token_tests;
pub mod params;
pub mod plan;
pub mod poseidon;
#[cfg(test)]
mod private_tests;
pub mod public;
pub mod rows;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod transformer_tests;

pub use cell::QCell;
pub use compiler::{instances_from, ModelCircuit};
pub use error::CircuitError;
pub use halo2curves::bn256::Fr;
pub use params::{CircuitParams, InputVisibility, Visibility, WeightVisibility};
pub use plan::{plan, plan_visible, Layout};
