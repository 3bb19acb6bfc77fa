//! Integer semantics of the transformer nonlinearities: pointwise functions
//! by lookup table, softmax and layer normalization.
//!
//! These functions are the specification the circuits prove: integer
//! inference calls them, and each chip's witness generation must reproduce
//! them exactly. Every rounding is a floor with an explicit remainder, so a
//! chip proves it with one equation and one range check.

pub mod layernorm;
pub mod softmax;
pub mod table;

pub use layernorm::{layernorm_row, LayerNormWitness};
pub use softmax::{softmax_row, SoftmaxWitness};
pub use table::{Nonlinearity, PointwiseTable, Saturation};
