//! The chips. Each owns its selectors and gates over the shared column pool
//! ([`crate::columns`]) and documents its constraint equations and why they
//! are sound; range checks all go through [`range::RangeChip`].

pub mod elementwise;
pub mod freivalds;
pub mod gather;
pub mod layernorm;
pub mod linear;
pub mod nonlinear;
pub mod pack;
pub mod pointwise;
pub mod poseidon;
pub mod private_gather;
pub mod range;
pub mod relu;
pub mod rescale;
pub mod softmax;
