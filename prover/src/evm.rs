//! A model's verifier contract and proof checks in the embedded EVM:
//! `zkinfer evm verifier`, `zkinfer evm verify`, the demo and the bench.

use zkinfer_verifier_contract::evm::{Evm, MAX_CODE_SIZE};
use zkinfer_verifier_contract::verifier::{
    calldata, compile_verifier, verifier_solidity, VerifierPart,
};
use zkinfer_verifier_contract::{Address, U256};

use crate::error::ProverError;
use crate::keys::VerifyingKeyFile;
use crate::proof_file::ProofFile;

/// Who deploys contracts in the embedded EVM (any address works there).
pub const DEPLOYER: Address = Address::repeat_byte(0xde);

/// A verifier for one vk: its Solidity and its compiled contracts (one,
/// or a chain of parts where one contract would be over EIP-170).
pub struct EvmVerifier {
    pub vk_id: String,
    pub num_instances: usize,
    pub source: String,
    /// Entry part first; callers only ever call the entry.
    pub parts: Vec<VerifierPart>,
}

/// A deployed verifier: the entry's address and the whole deployment's
/// figures.
#[derive(Clone, Debug)]
pub struct DeployedVerifier {
    pub address: Address,
    pub gas_used: u64,
    /// Runtime size of each part as deployed.
    pub part_sizes: Vec<usize>,
}

impl EvmVerifier {
    /// Generates and compiles the verifier of `vk` (seconds: solc-js runs
    /// on tens of KB of generated Yul).
    pub fn build(vk: &VerifyingKeyFile) -> Result<Self, ProverError> {
        let num_instances = vk.header.num_instances;
        let source = verifier_solidity(&vk.params, &vk.vk, num_instances)
            .map_err(|e| ProverError::Evm(e.to_string()))?;
        let parts = compile_verifier(&source).map_err(|e| ProverError::Evm(e.to_string()))?;
        Ok(EvmVerifier {
            vk_id: vk.header.vk_id.clone(),
            num_instances,
            source,
            parts,
        })
    }

    /// Runtime code size of the largest part: what EIP-170 limits.
    pub fn runtime_size(&self) -> usize {
        self.parts
            .iter()
            .map(|p| p.compiled.runtime.len())
            .max()
            .unwrap_or(0)
    }

    /// Runtime code of all parts together.
    pub fn total_runtime_size(&self) -> usize {
        self.parts.iter().map(|p| p.compiled.runtime.len()).sum()
    }

    pub fn fits_eip170(&self) -> bool {
        self.runtime_size() <= MAX_CODE_SIZE
    }

    /// Deploys every part, last first (each learns its successor's
    /// address); an error if the chain refuses one (over EIP-170).
    pub fn deploy(&self, evm: &mut Evm) -> Result<DeployedVerifier, ProverError> {
        self.deploy_with(|code| {
            evm.deploy(DEPLOYER, code)
                .map(|d| (d.address, d.gas_used))
                .map_err(|e| e.to_string())
        })
    }

    /// Deploys the parts with `deploy` (creation code to address and gas):
    /// the embedded EVM or a real node.
    pub fn deploy_with(
        &self,
        mut deploy: impl FnMut(Vec<u8>) -> Result<(Address, u64), String>,
    ) -> Result<DeployedVerifier, ProverError> {
        let mut next = None;
        let mut gas_used = 0;
        for (k, part) in self.parts.iter().enumerate().rev() {
            let (address, gas) = deploy(part.creation_code(next)).map_err(|e| {
                ProverError::Evm(format!(
                    "deploying the verifier of vk {}{}: {e}",
                    short(&self.vk_id),
                    if self.parts.len() > 1 {
                        format!(" (part {} of {})", k + 1, self.parts.len())
                    } else {
                        String::new()
                    }
                ))
            })?;
            gas_used += gas;
            next = Some(address);
        }
        Ok(DeployedVerifier {
            address: next.unwrap_or_default(),
            gas_used,
            // Filling in the immutable keeps each runtime's length.
            part_sizes: self
                .parts
                .iter()
                .map(|p| p.compiled.runtime.len())
                .collect(),
        })
    }
}

/// The outcome of calling a deployed verifier with one proof file.
#[derive(Clone, Copy, Debug)]
pub struct EvmCheck {
    pub accepted: bool,
    /// Gas of the whole transaction (21,000 base and calldata included).
    pub gas_used: u64,
    /// What the transaction pays before any code runs: 21,000 plus 4 gas
    /// per zero and 16 per non-zero calldata byte. `gas_used` minus this is
    /// the verifier's execution, what a contract calling it pays.
    pub intrinsic_gas: u64,
}

/// The proof's instances as EVM words and its proof bytes; errors for a
/// malformed file (bad hex, a value outside the field).
pub fn proof_calldata(proof: &ProofFile) -> Result<(Vec<U256>, Vec<u8>), ProverError> {
    let instances = proof.instance_values()?;
    let bytes = proof.proof_bytes()?;
    let words = instances
        .iter()
        .map(|x| U256::from_be_bytes(zkinfer_verifier_contract::verifier::fr_to_be_bytes(x)))
        .collect();
    Ok((words, bytes))
}

/// Sends `proof` to the verifier at `verifier` as a transaction.
pub fn call_verifier(
    evm: &mut Evm,
    verifier: Address,
    proof: &ProofFile,
) -> Result<EvmCheck, ProverError> {
    let instances = proof.instance_values()?;
    let bytes = proof.proof_bytes()?;
    let data = calldata(&instances, &bytes);
    let intrinsic_gas = intrinsic_gas(&data);
    let out = evm
        .transact(DEPLOYER, verifier, U256::ZERO, data)
        .map_err(|e| ProverError::Evm(e.to_string()))?;
    Ok(EvmCheck {
        accepted: out.success,
        gas_used: out.gas_used,
        intrinsic_gas,
    })
}

/// A transaction's base cost and calldata cost (EIP-2028).
pub fn intrinsic_gas(data: &[u8]) -> u64 {
    let zeros = data.iter().filter(|&&b| b == 0).count() as u64;
    21_000 + 4 * zeros + 16 * (data.len() as u64 - zeros)
}

/// Refuses a proof made for another key before spending gas on it.
pub fn check_proof_matches(vk: &VerifyingKeyFile, proof: &ProofFile) -> Result<(), ProverError> {
    if proof.vk_id != vk.header.vk_id {
        return Err(ProverError::WrongKey {
            proof_vk: proof.vk_id.clone(),
            key_vk: vk.header.vk_id.clone(),
        });
    }
    if proof.instances.len() != vk.header.num_instances {
        return Err(ProverError::InstanceCount {
            got: proof.instances.len(),
            expected: vk.header.num_instances,
        });
    }
    Ok(())
}

fn short(id: &str) -> &str {
    &id[..id.len().min(16)]
}
