//! End-to-end tests across the crates: the pipeline on the bundled model, the
//! soundness checks of `verify`, the CLI's handling of bad input, and the
//! bundled transformers (ONNX and Hugging Face folders) through the CLI, and
//! a model proved as a chain of parts.

mod chain;
mod cli_errors;
mod common;
mod hf;
mod multi_token;
mod node;
mod onchain;
mod pinned;
mod pipeline;
mod private;
mod ptau;
mod transformer;
