//! Subcommands, one file each. `run` returns the process exit code; every
//! error is a message, never a panic.

mod bench;
mod chain;
mod commit;
mod demo;
mod evm;
mod market;
mod prove;
mod quantize;
mod setup;
mod srs;
mod verify;
mod visibility;

use clap::{Parser, Subcommand};

/// The process exit code, or an error that `main` prints (exit code 1).
pub type CliResult = Result<u8, Box<dyn std::error::Error>>;

/// zkinfer: prove that an ML model's output came from a specific quantized
/// model on a specific input (halo2, KZG on BN254), and verify such proofs.
///
/// The usual path: quantize -> srs -> setup -> prove -> verify.
/// `zkinfer demo` runs all of it on a bundled model.
#[derive(Parser)]
#[command(name = "zkinfer", version, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Turn an ONNX model or a Hugging Face checkpoint into a fixed-point model (.zkq) and print the accuracy report.
    ///
    /// MODEL is an .onnx file, or a Hugging Face model folder (config.json and
    /// model.safetensors; model_type gpt2 or bert) that zkinfer builds itself
    /// for --seq-len token ids. An ONNX model's accuracy is measured against
    /// tract running the file; a Hugging Face model's against zkinfer's own
    /// f64 evaluation of the float graph.
    Quantize(quantize::Args),
    /// Make (insecure, for testing) or import (from a ceremony) a KZG structured reference string.
    #[command(subcommand)]
    Srs(srs::Command),
    /// Build the circuit for a .zkq and write its proving key, verifying key and settings.
    Setup(setup::Args),
    /// Run the model on an input and prove the result.
    Prove(prove::Args),
    /// Check a proof against a verifying key. Exit code 0 only for a valid proof.
    Verify(verify::Args),
    /// Print the model commitment of a .zkq: what a creator with private weights publishes and registers.
    Commit(commit::CommitArgs),
    /// Print the input commitment of an input: what a request to a model with a hashed input carries.
    CommitInput(commit::CommitInputArgs),
    /// Print a verifying key's id, read from a key file or rebuilt from a .zkq and an SRS.
    VkId(commit::VkIdArgs),
    /// Everything above on a bundled model, in one command.
    Demo(demo::Args),
    /// Measure setup, prove and verify on the bundled models and print the figures.
    Bench(bench::Args),
    /// Cut a .zkq into consecutive parts proved separately (models too large for one circuit).
    ///
    /// Prints each part's circuit size and estimated setup memory and time.
    /// The parts are bound to each other by their public values: `zkinfer
    /// chain verify` checks every part's proof and that each part's inputs
    /// are exactly the outputs of the part that produced them.
    Split(chain::SplitArgs),
    /// Set up, prove and verify a model cut by `zkinfer split`, part by part.
    #[command(subcommand)]
    Chain(chain::Command),
    /// The model's Solidity verifier, and proofs checked by it in an embedded EVM (revm).
    #[command(subcommand)]
    Evm(evm::Command),
    /// The royalty market on a real node over JSON-RPC (alloy): deploy, register, request, fulfill, withdraw, refund, output.
    #[command(subcommand)]
    Market(market::Command),
}

pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Quantize(a) => quantize::run(a),
        Command::Srs(c) => srs::run(c),
        Command::Setup(a) => setup::run(a),
        Command::Prove(a) => prove::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Commit(a) => commit::commit(a),
        Command::CommitInput(a) => commit::commit_input(a),
        Command::VkId(a) => commit::vk_id(a),
        Command::Demo(a) => demo::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Split(a) => chain::split(a),
        Command::Chain(c) => chain::run(c),
        Command::Evm(c) => evm::run(c),
        Command::Market(c) => market::run(c),
    }
}

/// Entry point of the `zkinfer` binary: parse, run, print errors with their
/// causes, and exit with a non-zero code on any failure.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            std::process::ExitCode::from(1)
        }
    }
}
