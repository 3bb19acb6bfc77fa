//! An in-process Ethereum chain (revm) for deploying and calling contracts
//! without a node: what `zkinfer evm`, the demo and the tests run on.
//!
//! The chain follows Prague rules with EIP-170's 24,576-byte code limit
//! enforced, so a contract that deploys here deploys on mainnet. Gas is free
//! (base fee and gas price 0) so that balances move only by the values the
//! contracts transfer, which keeps the royalty accounting checkable to the wei.

use revm::context::result::{ExecutionResult, Output};
use revm::context::{Context, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{Address, Bytes, Log, TxKind, U256};
use revm::state::AccountInfo;
use revm::{DatabaseRef, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

/// EIP-170: the largest runtime code a contract may have.
pub const MAX_CODE_SIZE: usize = 24_576;

/// Every transaction gets this much gas: enough for any verifier, below
/// Osaka's per-transaction cap so a figure measured here is reachable.
pub const TX_GAS_LIMIT: u64 = 16_000_000;

/// Start of the chain's clock (a plausible unix time; tests move it on).
const GENESIS_TIMESTAMP: u64 = 1_700_000_000;

#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    #[error("the transaction is invalid: {0}")]
    Invalid(String),
    #[error("deployment failed: {0}")]
    DeployFailed(String),
}

/// What one transaction did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub success: bool,
    /// Return data, or revert data when `success` is false.
    pub output: Bytes,
    /// Gas the transaction used, intrinsic cost (calldata) included.
    pub gas_used: u64,
    pub logs: Vec<Log>,
    /// Why execution halted without a revert (out of gas, invalid opcode, ...).
    pub halt: Option<String>,
}

impl Outcome {
    /// The revert data's Solidity custom-error selector, if any.
    pub fn revert_selector(&self) -> Option<[u8; 4]> {
        (!self.success && self.output.len() >= 4).then(|| {
            let mut s = [0u8; 4];
            s.copy_from_slice(&self.output[..4]);
            s
        })
    }
}

/// A deployed contract.
#[derive(Clone, Copy, Debug)]
pub struct Deployed {
    pub address: Address,
    pub gas_used: u64,
    pub runtime_size: usize,
}

pub struct Evm {
    db: CacheDB<EmptyDB>,
    timestamp: u64,
    block_number: u64,
}

impl Default for Evm {
    fn default() -> Self {
        Self::new()
    }
}

impl Evm {
    pub fn new() -> Self {
        Evm {
            db: CacheDB::new(EmptyDB::default()),
            timestamp: GENESIS_TIMESTAMP,
            block_number: 1,
        }
    }

    /// Sets an account's balance (a faucet: tests and the demo fund their actors).
    pub fn fund(&mut self, who: Address, wei: U256) {
        let mut info = self.account(who);
        info.balance = wei;
        self.db.insert_account_info(who, info);
    }

    pub fn balance(&self, who: Address) -> U256 {
        self.account(who).balance
    }

    /// Runtime code size of an account (0 for an account without code).
    pub fn code_size(&self, who: Address) -> usize {
        let info = self.account(who);
        match info.code {
            Some(code) => code.original_bytes().len(),
            None => self
                .db
                .code_by_hash_ref(info.code_hash)
                .map(|c| c.original_bytes().len())
                .unwrap_or(0),
        }
    }

    fn account(&self, who: Address) -> AccountInfo {
        self.db.basic_ref(who).ok().flatten().unwrap_or_default()
    }

    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// Moves the chain's clock forward (one block per call).
    pub fn advance_time(&mut self, seconds: u64) {
        self.timestamp += seconds;
        self.block_number += 1;
    }

    /// Deploys `creation_code` (constructor arguments appended, if any).
    /// A constructor that reverts, or runtime code over EIP-170's limit, is an
    /// error that says so.
    pub fn deploy(&mut self, from: Address, creation_code: Vec<u8>) -> Result<Deployed, EvmError> {
        let result = self.execute(from, TxKind::Create, U256::ZERO, creation_code, true)?;
        match result {
            ExecutionResult::Success {
                output: Output::Create(_, Some(address)),
                gas,
                ..
            } => Ok(Deployed {
                address,
                gas_used: gas.tx_gas_used(),
                runtime_size: self.code_size(address),
            }),
            ExecutionResult::Success { .. } => Err(EvmError::DeployFailed(
                "creation returned no address".into(),
            )),
            ExecutionResult::Revert { output, .. } => Err(EvmError::DeployFailed(format!(
                "the constructor reverted (0x{})",
                hex::encode(output)
            ))),
            ExecutionResult::Halt { reason, .. } => {
                let reason = format!("{reason:?}");
                let hint = if reason.contains("CreateContractSizeLimit") {
                    format!(" (runtime code over EIP-170's {MAX_CODE_SIZE} bytes)")
                } else {
                    String::new()
                };
                Err(EvmError::DeployFailed(format!("halted: {reason}{hint}")))
            }
        }
    }

    /// A transaction from `from` to `to`, committed to the chain whether it
    /// succeeds or reverts (as on a real chain; a revert changes no state).
    pub fn transact(
        &mut self,
        from: Address,
        to: Address,
        value: U256,
        data: Vec<u8>,
    ) -> Result<Outcome, EvmError> {
        let result = self.execute(from, TxKind::Call(to), value, data, true)?;
        Ok(outcome(result))
    }

    /// A call whose state changes are thrown away (`eth_call`): for views.
    pub fn call(&mut self, from: Address, to: Address, data: Vec<u8>) -> Result<Outcome, EvmError> {
        let result = self.execute(from, TxKind::Call(to), U256::ZERO, data, false)?;
        Ok(outcome(result))
    }

    fn execute(
        &mut self,
        from: Address,
        kind: TxKind,
        value: U256,
        data: Vec<u8>,
        commit: bool,
    ) -> Result<ExecutionResult, EvmError> {
        let (timestamp, number) = (self.timestamp, self.block_number);
        let mut evm = Context::mainnet()
            .modify_cfg_chained(|cfg| {
                cfg.spec = SpecId::PRAGUE;
                cfg.limit_contract_code_size = Some(MAX_CODE_SIZE);
                // Callers are plain test accounts: their nonces are not tracked here.
                cfg.disable_nonce_check = true;
            })
            .modify_block_chained(|block| {
                block.timestamp = U256::from(timestamp);
                block.number = U256::from(number);
                block.gas_limit = 30_000_000;
                block.basefee = 0;
            })
            .with_db(&mut self.db)
            .build_mainnet();
        let nonce = evm
            .ctx
            .journaled_state
            .database
            .basic_ref(from)
            .ok()
            .flatten();
        let tx = TxEnv::builder()
            .caller(from)
            .kind(kind)
            .value(value)
            .data(Bytes::from(data))
            .gas_limit(TX_GAS_LIMIT)
            .gas_price(0)
            .nonce(nonce.map(|a| a.nonce).unwrap_or(0))
            .build_fill();
        let result = if commit {
            evm.transact_commit(tx)
        } else {
            evm.transact(tx).map(|r| r.result)
        };
        result.map_err(|e| EvmError::Invalid(format!("{e:?}")))
    }
}

fn outcome(result: ExecutionResult) -> Outcome {
    match result {
        ExecutionResult::Success {
            gas, logs, output, ..
        } => Outcome {
            success: true,
            output: output.into_data(),
            gas_used: gas.tx_gas_used(),
            logs,
            halt: None,
        },
        ExecutionResult::Revert { gas, logs, output } => Outcome {
            success: false,
            output,
            gas_used: gas.tx_gas_used(),
            logs,
            halt: None,
        },
        ExecutionResult::Halt { reason, gas, logs } => Outcome {
            success: false,
            output: Bytes::new(),
            gas_used: gas.tx_gas_used(),
            logs,
            halt: Some(format!("{reason:?}")),
        },
    }
}
