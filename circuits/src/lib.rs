//! halo2 chips for quantized inference and the graph compiler that lays a
//! `.zkq` model out as one circuit (KZG on BN254, halo2-axiom).
//!
//! - [`chips`]: range checks (one shared lookup table), rescale, linear,
//!   ReLU, elementwise arithmetic, all over one shared pool of columns
//!   ([`columns`]);
//! - [`graph`](crate::compiler): [`ModelCircuit`] walks the model and wires
//!   the chips; [`plan`] sizes the circuit.

pub mod cell;
pub mod chips;
pub mod columns;
pub mod compiler;
pub mod config;
pub mod error;
pub mod field;
mod graph;
mod measure;
pub mod params;
pub mod plan;
pub mod rows;
#[cfg(test)]
mod testing;

pub use cell::QCell;
pub use compiler::{instances_from, ModelCircuit};
pub use error::CircuitError;
pub use halo2curves::bn256::Fr;
pub use params::CircuitParams;
pub use plan::{plan, Layout};
