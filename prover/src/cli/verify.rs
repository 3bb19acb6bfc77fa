use std::path::PathBuf;

use crate::keys::{fr_from_hex, fr_to_hex, VerifyingKeyFile};
use crate::measure::timed;
use crate::proof_file::ProofFile;
use crate::verify::{verify, verify_commitment, verify_input_commitment};
use clap::Args as ClapArgs;
use zkinfer_circuits::public::{PublicInput, PublicValues};

use super::CliResult;

#[derive(ClapArgs)]
pub struct Args {
    /// The verifying key (`vk` from `zkinfer setup`).
    #[arg(long)]
    vk: PathBuf,
    /// The proof file (from `zkinfer prove`).
    proof: PathBuf,
    /// The model commitment the proof must carry (private weights; from
    /// `zkinfer commit`, as the creator published it).
    #[arg(long)]
    commitment: Option<String>,
    /// The input commitment the proof must carry (hashed input; from
    /// `zkinfer commit-input`).
    #[arg(long)]
    input_commitment: Option<String>,
}

pub fn run(a: Args) -> CliResult {
    let vk = VerifyingKeyFile::load(&a.vk)?;
    let proof = ProofFile::load(&a.proof)?;
    let expected = match &a.commitment {
        Some(c) => Some(fr_from_hex(c, "--commitment")?),
        None => None,
    };
    let expected_input = match &a.input_commitment {
        Some(c) => Some(fr_from_hex(c, "--input-commitment")?),
        None => None,
    };
    let (result, took) = timed(|| {
        verify(&vk.view(), &proof)?;
        if let Some(c) = &expected {
            verify_commitment(&proof, c)?;
        }
        if let Some(c) = &expected_input {
            verify_input_commitment(&proof, c)?;
        }
        Ok::<_, crate::ProverError>(())
    });
    match result {
        Ok(()) => {
            let private = vk.header.circuit.private_weights();
            let model = if private {
                format!(
                    "a {} model with commitment {}",
                    vk.header.model_name, proof.model_id
                )
            } else {
                format!(
                    "model {} ({})",
                    vk.header.model_name,
                    &vk.header.model_id[..16]
                )
            };
            println!(
                "VALID: proof of {model}, {} outputs, verified in {:.1} ms",
                proof.num_outputs,
                took.as_secs_f64() * 1e3
            );
            if private && expected.is_none() {
                println!(
                    "note: the key holds no weights; pass --commitment with the creator's published \
                     commitment to check these are its weights"
                );
            }
            if let Ok(PublicValues {
                input: PublicInput::Commitment(c),
                ..
            }) = proof.public_values()
            {
                println!("input commitment {}", fr_to_hex(&c));
            }
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
