//! `zkinfer commit`, `zkinfer commit-input` and `zkinfer vk-id`: the
//! identities a creator publishes and anyone can recompute.

use std::path::PathBuf;

use clap::Args as ClapArgs;
use zkinfer_quantizer::{inputs, QuantizedModel};

use crate::commit::{input_commitment, summary};
use crate::keys::{fr_from_hex, fr_to_hex, VerifyingKeyFile};
use crate::setup::setup_vk_visible;
use crate::srs::Srs;
use halo2curves::bn256::Fr;
use halo2curves::ff::Field;
use zkinfer_circuits::commitment::model_commitment;

use super::visibility::VisibilityArgs;
use super::CliResult;

#[derive(ClapArgs)]
pub struct CommitArgs {
    /// The quantized model (.zkq).
    model: PathBuf,
}

/// Prints the model commitment: what a creator with private weights
/// publishes and registers, and what every proof of the model carries.
pub fn commit(a: CommitArgs) -> CliResult {
    let model = QuantizedModel::load(&a.model)?;
    let s = summary(&model);
    eprintln!(
        "model {}: {} parameters in {} words ({}-bit weight lanes, {}-bit bias lanes), Poseidon over BN254",
        model.name, s.parameters, s.words, s.weight_bits, s.bias_bits
    );
    println!("{}", fr_to_hex(&model_commitment(&model)));
    Ok(0)
}

#[derive(ClapArgs)]
pub struct CommitInputArgs {
    /// The input (JSON: {"input": [...]}).
    input: PathBuf,
    /// The quantized model (.zkq) the input is for: its scale and lane width.
    #[arg(long)]
    model: PathBuf,
    /// The salt (0x-hex) to commit with; give the prover the same with
    /// `prove --salt`.
    #[arg(long, conflicts_with = "random_salt")]
    salt: Option<String>,
    /// Draw a random salt and print it: the commitment then hides the input.
    #[arg(long)]
    random_salt: bool,
}

/// Prints the input commitment a request to a hashed-input model carries.
pub fn commit_input(a: CommitInputArgs) -> CliResult {
    let model = QuantizedModel::load(&a.model)?;
    let q = inputs::quantize_inputs(&model, &inputs::load_input(&a.input)?)?;
    let salt = match (&a.salt, a.random_salt) {
        (Some(s), _) => fr_from_hex(s, "--salt")?,
        (None, true) => {
            let salt = Fr::random(rand::rngs::OsRng);
            eprintln!(
                "salt {} (give it to the prover with `prove --salt`, and to no one else)",
                fr_to_hex(&salt)
            );
            salt
        }
        (None, false) => {
            eprintln!(
                "note: without a salt the commitment hides the input only as well as the input \
                 is hard to guess (anyone who can list the likely inputs can hash each one and \
                 compare); --random-salt hides it"
            );
            Fr::zero()
        }
    };
    println!("{}", fr_to_hex(&input_commitment(&model, &q, salt)?));
    Ok(0)
}

#[derive(ClapArgs)]
pub struct VkIdArgs {
    /// A verifying key file: print its id.
    #[arg(long, conflicts_with_all = ["model", "srs"])]
    vk: Option<PathBuf>,
    /// A quantized model: rebuild its verifying key from it and the SRS, and
    /// print the id (with fixed weights, the id a published key must have).
    #[arg(requires = "srs")]
    model: Option<PathBuf>,
    /// The SRS the key was made with.
    #[arg(long)]
    srs: Option<PathBuf>,
    #[command(flatten)]
    visibility: VisibilityArgs,
}

pub fn vk_id(a: VkIdArgs) -> CliResult {
    let header = match (&a.vk, &a.model, &a.srs) {
        (Some(vk), _, _) => VerifyingKeyFile::load(vk)?.header,
        (None, Some(model), Some(srs)) => {
            let model = QuantizedModel::load(model)?;
            let srs = Srs::load(srs)?;
            setup_vk_visible(&model, &srs, a.visibility.get()?)?.header
        }
        _ => return Err("give --vk FILE, or a .zkq and --srs".into()),
    };
    eprintln!(
        "{} weights, {} input; model {}",
        header.circuit.weights, header.circuit.input, header.model_id
    );
    println!("{}", header.vk_id);
    Ok(0)
}
