//! End-to-end tests across the crates: the pipeline on the bundled model, the
//! soundness checks of `verify`, and the CLI's handling of bad input.

mod cli_errors;
mod common;
mod multi_token;
mod pinned;
mod pipeline;
mod ptau;
