use std::path::PathBuf;

use crate::keys::VerifyingKeyFile;
use crate::measure::timed;
use crate::proof_file::ProofFile;
use crate::verify::verify;
use clap::Args as ClapArgs;

use super::CliResult;

#[derive(ClapArgs)]
pub struct Args {
    /// The verifying key (`vk` from `zkinfer setup`).
    #[arg(long)]
    vk: PathBuf,
    /// The proof file (from `zkinfer prove`).
    proof: PathBuf,
}

pub fn run(a: Args) -> CliResult {
    let vk = VerifyingKeyFile::load(&a.vk)?;
    let proof = ProofFile::load(&a.proof)?;
    let (result, took) = timed(|| verify(&vk.view(), &proof));
    match result {
        Ok(()) => {
            println!(
                "VALID: proof of model {} ({}), {} outputs, verified in {:.1} ms",
                vk.header.model_name,
                &vk.header.model_id[..16],
                proof.num_outputs,
                took.as_secs_f64() * 1e3
            );
            if vk.header.srs_insecure {
                println!("note: the key was made with an INSECURE dev SRS; this proof is only meaningful for testing");
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("INVALID: {e}");
            Ok(1)
        }
    }
}
