use std::path::PathBuf;

use crate::measure::human_bytes;
use crate::srs::{insecure_warning, Srs};
use clap::Subcommand;

use super::CliResult;

#[derive(Subcommand)]
pub enum Command {
    /// Generate an SRS locally. INSECURE: whoever ran this knows the toxic
    /// secret and can forge proofs. For tests and demos only.
    Dev {
        /// log2 of the number of powers (the largest circuit it can serve has 2^k rows).
        #[arg(long)]
        k: u32,
        /// Make it reproducible from this seed (still insecure).
        #[arg(long)]
        seed: Option<u64>,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Convert a snarkjs Powers of Tau file (.ptau, BN254) into zkinfer's format,
    /// checking its structure and the consistency of its powers. Fully offline.
    Import {
        ptau: PathBuf,
        /// log2 of the number of powers to keep (at most the ceremony's power).
        #[arg(long)]
        k: u32,
        #[arg(short, long)]
        output: PathBuf,
    },
}

pub fn run(cmd: Command) -> CliResult {
    match cmd {
        Command::Dev { k, seed, output } => {
            let srs = Srs::try_dev(k, seed)?;
            eprintln!("{}", insecure_warning());
            srs.save(&output)?;
            println!(
                "wrote {} (k = {k}, {}) — INSECURE dev SRS",
                output.display(),
                file_size(&output)
            );
        }
        Command::Import { ptau, k, output } => {
            let srs = Srs::import_ptau(&ptau, k)?;
            srs.save(&output)?;
            println!(
                "wrote {} (k = {k}, {}) from {}",
                output.display(),
                file_size(&output),
                srs.meta.origin
            );
        }
    }
    Ok(0)
}

fn file_size(p: &std::path::Path) -> String {
    std::fs::metadata(p)
        .map(|m| human_bytes(m.len()))
        .unwrap_or_default()
}
