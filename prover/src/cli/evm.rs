use std::path::PathBuf;

use clap::{Args as ClapArgs, Subcommand};
use zkinfer_verifier_contract::evm::{Evm, MAX_CODE_SIZE};

use crate::evm::{call_verifier, check_proof_matches, EvmVerifier};
use crate::keys::VerifyingKeyFile;
use crate::progress::Progress;
use crate::proof_file::ProofFile;

use super::CliResult;

#[derive(Subcommand)]
pub enum Command {
    /// Generate the Solidity verifier of a vk, compile it (solc-js) and deploy it in an embedded EVM.
    ///
    /// Writes Verifier.sol, Verifier.bin (creation code, hex),
    /// Verifier.runtime.bin and Verifier.abi.json to the output folder, and
    /// prints the runtime size against EIP-170's 24,576 bytes and the
    /// deployment gas. The contract's calldata is the proof's public
    /// instances (32-byte words) followed by the proof bytes; it reverts
    /// unless the proof is valid.
    Verifier(VerifierArgs),
    /// Verify a proof file in the embedded EVM (revm): gas used, and exit 0 only if the contract accepts it.
    Verify(VerifyArgs),
}

#[derive(ClapArgs)]
pub struct VerifierArgs {
    /// The verifying key (`vk` from `zkinfer setup`).
    #[arg(long)]
    vk: PathBuf,
    /// Output folder.
    #[arg(short, long, default_value = "verifier")]
    out: PathBuf,
}

#[derive(ClapArgs)]
pub struct VerifyArgs {
    /// The verifying key the proof was made for.
    #[arg(long)]
    vk: PathBuf,
    /// The proof file (from `zkinfer prove`).
    proof: PathBuf,
}

pub fn run(c: Command) -> CliResult {
    match c {
        Command::Verifier(a) => verifier(a),
        Command::Verify(a) => verify(a),
    }
}

fn build(vk: &VerifyingKeyFile) -> Result<EvmVerifier, Box<dyn std::error::Error>> {
    let progress = Progress::spinner("evm");
    progress.stage("generating and compiling the Solidity verifier (solc-js)");
    let v = EvmVerifier::build(vk)?;
    progress.finish();
    Ok(v)
}

fn verifier(a: VerifierArgs) -> CliResult {
    let vk = VerifyingKeyFile::load(&a.vk)?;
    let v = build(&vk)?;
    std::fs::create_dir_all(&a.out)
        .map_err(|e| format!("cannot create {}: {e}", a.out.display()))?;
    let write = |name: &str, text: String| -> Result<(), String> {
        let path = a.out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    // The entry keeps the name Verifier.*; further parts are VerifierPartK.*.
    for (k, part) in v.parts.iter().enumerate() {
        let stem = if k == 0 {
            "Verifier".to_string()
        } else {
            format!("VerifierPart{k}")
        };
        write(&format!("{stem}.sol"), part.source.clone())?;
        write(
            &format!("{stem}.bin"),
            hex::encode(&part.compiled.bytecode) + "\n",
        )?;
        write(
            &format!("{stem}.runtime.bin"),
            hex::encode(&part.compiled.runtime) + "\n",
        )?;
        write(
            &format!("{stem}.abi.json"),
            serde_json::to_string_pretty(&part.compiled.abi)? + "\n",
        )?;
    }
    println!(
        "verifier of model {} (vk {}), {} public instances -> {}/Verifier.sol",
        vk.header.model_name,
        &vk.header.vk_id[..16],
        v.num_instances,
        a.out.display()
    );
    if v.parts.len() > 1 {
        println!(
            "  split into {} contracts to fit EIP-170 (VerifierPart1..{}): deploy the last first; each earlier part's constructor takes the next part's address",
            v.parts.len(),
            v.parts.len() - 1
        );
    }
    for (k, part) in v.parts.iter().enumerate() {
        let size = part.compiled.runtime.len();
        println!(
            "  {} runtime code {size} bytes of EIP-170's {MAX_CODE_SIZE} ({})",
            if v.parts.len() > 1 {
                format!("part {}:", k + 1)
            } else {
                String::new()
            },
            if size <= MAX_CODE_SIZE {
                "fits"
            } else {
                "TOO LARGE: it cannot be deployed"
            }
        );
    }
    let mut evm = Evm::new();
    match v.deploy(&mut evm) {
        Ok(d) => println!("  deployed in the embedded EVM: {} gas", d.gas_used),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    }
    Ok(0)
}

fn verify(a: VerifyArgs) -> CliResult {
    let vk = VerifyingKeyFile::load(&a.vk)?;
    let proof = ProofFile::load(&a.proof)?;
    check_proof_matches(&vk, &proof)?;
    // Malformed hex or instances are refused before any contract runs.
    crate::evm::proof_calldata(&proof)?;
    let v = build(&vk)?;
    let mut evm = Evm::new();
    let deployed = v.deploy(&mut evm)?;
    let check = call_verifier(&mut evm, deployed.address, &proof)?;
    if check.accepted {
        println!(
            "VALID in the EVM: the verifier ({} bytes in {} contract(s), deployed for {} gas) accepted the proof, {} gas ({} of it running the verifier, the rest the transaction's base and calldata)",
            deployed.part_sizes.iter().sum::<usize>(),
            deployed.part_sizes.len(),
            deployed.gas_used,
            check.gas_used,
            check.gas_used - check.intrinsic_gas
        );
        Ok(0)
    } else {
        eprintln!(
            "INVALID in the EVM: the verifier contract reverted ({} gas)",
            check.gas_used
        );
        Ok(1)
    }
}
