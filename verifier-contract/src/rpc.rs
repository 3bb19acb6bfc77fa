//! A real Ethereum node over JSON-RPC (alloy): what `zkinfer market` talks
//! to, where `evm` is the in-process chain.
//!
//! The client is blocking: it owns a current-thread tokio runtime and runs
//! each request to completion, so the CLI and the tests stay synchronous.
//! Every HTTP request has a timeout, so a node that is down or hung is an
//! error within seconds, never a wait. Transactions are signed locally with
//! one private key; nonce, gas limit, fees and chain id are filled in from
//! the node (alloy's recommended fillers).
//!
//! A transaction that would revert is refused by the node's gas estimate,
//! before anything is signed or sent: it costs nothing, and its revert data
//! names the market's custom error (`ProofRejected()`, `NotOpen()`, ...).
//!
//! Plain `http://` only: the build leaves TLS out (no rustls/aws-lc C build);
//! reach a remote node through a local proxy or a local node of its chain.

use std::str::FromStr;
use std::time::Duration;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, Bytes, Log, TxHash, U256};
use alloy::providers::{DynProvider, PendingTransactionError, Provider, ProviderBuilder};
use alloy::rpc::client::RpcClient;
use alloy::rpc::types::{BlockId, BlockNumberOrTag, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::http::{reqwest, Http};
use alloy::transports::{RpcError as TransportError, TransportErrorKind};
use alloy_sol_types::{SolCall, SolError};

use crate::market::IZkinferMarket::IZkinferMarketErrors;

/// Where a local dev node (hardhat, anvil) listens by default.
pub const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8545";

/// Account #0 of hardhat's and anvil's default dev mnemonic ("test test ...
/// junk"): 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266. A DEV KEY, published
/// everywhere: anything sent to it on a real network is taken at once.
pub const DEV_PRIVATE_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// One JSON-RPC round trip, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Opening the TCP connection: a node that is not there fails this fast.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Waiting for a sent transaction to be mined.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("invalid RPC URL '{url}': {why}")]
    BadUrl { url: String, why: String },
    #[error("invalid private key: {0} (expected 32 bytes as hex, 0x optional)")]
    BadKey(String),
    #[error(
        "cannot reach an Ethereum node at {url}: {detail}. Is a node running there? \
         Start a local one (e.g. `npx hardhat node` or `anvil`) or pass --rpc-url"
    )]
    Unreachable { url: String, detail: String },
    #[error("the node at {url} answered, but not as a JSON-RPC endpoint: {detail}")]
    NotJsonRpc { url: String, detail: String },
    #[error("the transaction reverted: {reason}{}", spent(.gas_used))]
    Reverted {
        /// The market's custom error (`ProofRejected()`), a `require`
        /// message, or the revert data in hex.
        reason: String,
        /// Signature of the market error it reverted with, if it is one.
        market_error: Option<&'static str>,
        /// None when the node refused it at gas estimation and nothing was sent.
        gas_used: Option<u64>,
    },
    #[error("the call reverted: {reason}")]
    CallReverted {
        reason: String,
        market_error: Option<&'static str>,
    },
    #[error("deployment failed: {0}")]
    Deploy(String),
    #[error("timed out after {0:?} waiting for the transaction to be mined")]
    Timeout(Duration),
    #[error("JSON-RPC error from {url}: {detail}")]
    Rpc { url: String, detail: String },
}

fn spent(gas_used: &Option<u64>) -> String {
    match gas_used {
        Some(g) => format!(" (mined and reverted: {g} gas spent)"),
        None => " (refused at gas estimation: nothing was sent, no gas spent)".into(),
    }
}

impl RpcError {
    /// The market error's signature (`"ProofRejected()"`) if this is a revert with one.
    pub fn market_error(&self) -> Option<&'static str> {
        match self {
            RpcError::Reverted { market_error, .. }
            | RpcError::CallReverted { market_error, .. } => *market_error,
            _ => None,
        }
    }
}

/// A mined transaction that succeeded.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub tx_hash: TxHash,
    pub block_number: Option<u64>,
    pub status: bool,
    pub gas_used: u64,
    /// Wei paid per gas; the sender paid `gas_used * effective_gas_price`.
    pub effective_gas_price: u128,
    pub logs: Vec<Log>,
}

impl Receipt {
    /// What the transaction cost its sender in fees, in wei.
    pub fn fee_wei(&self) -> U256 {
        U256::from(self.gas_used) * U256::from(self.effective_gas_price)
    }

    fn from_rpc(r: &TransactionReceipt) -> Self {
        Receipt {
            tx_hash: r.transaction_hash,
            block_number: r.block_number,
            status: r.status(),
            gas_used: r.gas_used,
            effective_gas_price: r.effective_gas_price,
            logs: r.inner.logs().iter().map(|l| l.inner.clone()).collect(),
        }
    }
}

/// A deployed contract.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub address: Address,
    pub receipt: Receipt,
}

/// A blocking client of one node, signing with one key.
pub struct NodeClient {
    rt: tokio::runtime::Runtime,
    provider: DynProvider,
    url: String,
    from: Address,
    chain_id: u64,
}

impl NodeClient {
    /// Connects to the node at `url` and checks that it answers (its chain id).
    /// `private_key` is 32 bytes of hex, 0x optional.
    pub fn connect(url: &str, private_key: &str) -> Result<Self, RpcError> {
        let signer = parse_private_key(private_key)?;
        let from = signer.address();
        let parsed = reqwest::Url::parse(url).map_err(|e| RpcError::BadUrl {
            url: url.into(),
            why: e.to_string(),
        })?;
        match parsed.scheme() {
            "http" => {}
            "https" => {
                return Err(RpcError::BadUrl {
                    url: url.into(),
                    why:
                        "https is not built in (plain http only); use a local node or an http proxy"
                            .into(),
                })
            }
            s => {
                return Err(RpcError::BadUrl {
                    url: url.into(),
                    why: format!("scheme '{s}' is not http"),
                })
            }
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // No idle keep-alive connections: a node closes an idle one on
            // its own schedule (hardhat after 5 s), and a request sent on it
            // as it closes fails with "connection closed before message
            // completed". A fresh connection per request costs little.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| RpcError::Rpc {
                url: url.into(),
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RpcError::Rpc {
                url: url.into(),
                detail: format!("cannot start the async runtime: {e}"),
            })?;
        let is_local = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        let client = RpcClient::new(Http::with_client(http, parsed), is_local);
        let provider = {
            // reqwest's timers and sockets need the runtime to be current.
            let _guard = rt.enter();
            ProviderBuilder::new()
                .wallet(EthereumWallet::from(signer))
                .connect_client(client)
                .erased()
        };
        let mut node = NodeClient {
            rt,
            provider,
            url: url.into(),
            from,
            chain_id: 0,
        };
        node.chain_id = node.block_on(|p| async move { p.get_chain_id().await })?;
        Ok(node)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The account that signs and pays.
    pub fn address(&self) -> Address {
        self.from
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    pub fn balance(&self, who: Address) -> Result<U256, RpcError> {
        self.block_on(|p| async move { p.get_balance(who).await })
    }

    /// The runtime code at `who` (empty for an account without code).
    pub fn code(&self, who: Address) -> Result<Bytes, RpcError> {
        self.block_on(|p| async move { p.get_code_at(who).await })
    }

    /// The outputs a market published for `request_id` (its
    /// `InferenceOutputs` event), from the first block on; None if there is
    /// no such event.
    pub fn published_outputs(
        &self,
        market: Address,
        request_id: U256,
    ) -> Result<Option<Vec<U256>>, RpcError> {
        use crate::market::IZkinferMarket::InferenceOutputs;
        use alloy::rpc::types::Filter;
        use alloy_sol_types::SolEvent;
        let filter = Filter::new()
            .address(market)
            .event_signature(InferenceOutputs::SIGNATURE_HASH)
            .topic1(request_id)
            .from_block(BlockNumberOrTag::Earliest);
        let logs = self.block_on(|p| {
            let filter = filter.clone();
            async move { p.get_logs(&filter).await }
        })?;
        Ok(logs.iter().find_map(|log| {
            InferenceOutputs::decode_log(&log.inner)
                .ok()
                .map(|e| e.data.outputs.clone())
        }))
    }

    /// Timestamp of the latest block: the clock deadlines are measured against.
    pub fn block_timestamp(&self) -> Result<u64, RpcError> {
        let block = self
            .block_on(|p| async move { p.get_block_by_number(BlockNumberOrTag::Latest).await })?;
        block
            .map(|b| b.header.timestamp)
            .ok_or_else(|| RpcError::Rpc {
                url: self.url.clone(),
                detail: "the node has no latest block".into(),
            })
    }

    /// Deploys `creation_code` from this account.
    pub fn deploy(&self, creation_code: Vec<u8>) -> Result<Deployment, RpcError> {
        let tx = TransactionRequest::default()
            .with_from(self.from)
            .with_deploy_code(creation_code);
        let (receipt, rpc_receipt) = self.submit(tx)?;
        let address = rpc_receipt
            .contract_address
            .ok_or_else(|| RpcError::Deploy("the receipt has no contract address".into()))?;
        if self.code(address)?.is_empty() {
            return Err(RpcError::Deploy(format!(
                "no code at {address} after deployment"
            )));
        }
        Ok(Deployment { address, receipt })
    }

    /// Sends a transaction and waits for it to be mined. A revert is an error
    /// ([`RpcError::Reverted`]) that names the market's custom error.
    pub fn send(&self, to: Address, value: U256, calldata: Vec<u8>) -> Result<Receipt, RpcError> {
        let tx = TransactionRequest::default()
            .with_from(self.from)
            .with_to(to)
            .with_value(value)
            .with_input(calldata);
        self.submit(tx).map(|(r, _)| r)
    }

    /// `eth_call` from this account at the latest block: for views.
    pub fn call(&self, to: Address, calldata: Vec<u8>) -> Result<Bytes, RpcError> {
        let tx = TransactionRequest::default()
            .with_from(self.from)
            .with_to(to)
            .with_input(calldata);
        self.block_on(|p| async move { p.call(tx).await })
            .map_err(|e| match e {
                RpcError::Reverted {
                    reason,
                    market_error,
                    ..
                } => RpcError::CallReverted {
                    reason,
                    market_error,
                },
                e => e,
            })
    }

    /// A typed view call: ABI-encodes `call` and decodes its return.
    pub fn view<C: SolCall>(&self, to: Address, call: &C) -> Result<C::Return, RpcError> {
        let out = self.call(to, call.abi_encode()).map_err(|e| match e {
            RpcError::CallReverted {
                reason,
                market_error: None,
            } => RpcError::CallReverted {
                reason: format!(
                    "{reason} ({} at {to}; is that the contract you think?)",
                    C::SIGNATURE
                ),
                market_error: None,
            },
            e => e,
        })?;
        C::abi_decode_returns(&out).map_err(|e| RpcError::Rpc {
            url: self.url.clone(),
            detail: format!(
                "{} returned data that does not decode ({e}); is {to} the contract you think?",
                C::SIGNATURE
            ),
        })
    }

    /// Moves a dev node's clock forward and mines a block (hardhat, anvil;
    /// real networks refuse it). For tests of deadlines and refunds.
    pub fn dev_advance_time(&self, seconds: u64) -> Result<(), RpcError> {
        self.block_on(|p| async move {
            p.raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (seconds,))
                .await?;
            p.raw_request::<_, serde_json::Value>("evm_mine".into(), Vec::<u64>::new())
                .await
        })?;
        Ok(())
    }

    fn submit(&self, tx: TransactionRequest) -> Result<(Receipt, TransactionReceipt), RpcError> {
        let replay = tx.clone();
        let rpc_receipt = self.rt.block_on(async {
            let pending = self
                .provider
                .send_transaction(tx)
                .await
                .map_err(|e| self.map_err(e))?;
            pending
                .with_timeout(Some(RECEIPT_TIMEOUT))
                .get_receipt()
                .await
                .map_err(|e| match e {
                    PendingTransactionError::TransportError(e) => self.map_err(e),
                    PendingTransactionError::TxWatcher(_) => RpcError::Timeout(RECEIPT_TIMEOUT),
                    e => RpcError::Rpc {
                        url: self.url.clone(),
                        detail: format!("waiting for the receipt: {e}"),
                    },
                })
        })?;
        let receipt = Receipt::from_rpc(&rpc_receipt);
        if !receipt.status {
            // Mined but reverted (the estimate passed, the state changed in
            // between): replay it on the block before to learn why.
            let at = receipt.block_number.map(|n| n.saturating_sub(1));
            let data = self.rt.block_on(async {
                let call = self.provider.call(replay);
                match at {
                    Some(n) => call.block(BlockId::number(n)).await,
                    None => call.await,
                }
            });
            let (reason, market_error) = match data {
                Err(e) => match self.map_err(e) {
                    RpcError::Reverted {
                        reason,
                        market_error,
                        ..
                    } => (reason, market_error),
                    _ => ("reason unknown".into(), None),
                },
                Ok(_) => ("reason unknown (the replay succeeded)".into(), None),
            };
            return Err(RpcError::Reverted {
                reason,
                market_error,
                gas_used: Some(receipt.gas_used),
            });
        }
        Ok((receipt, rpc_receipt))
    }

    fn block_on<'a, F, Fut, T>(&'a self, f: F) -> Result<T, RpcError>
    where
        F: FnOnce(&'a DynProvider) -> Fut,
        Fut: std::future::Future<Output = Result<T, TransportError<TransportErrorKind>>>,
    {
        self.rt
            .block_on(f(&self.provider))
            .map_err(|e| self.map_err(e))
    }

    fn map_err(&self, e: TransportError<TransportErrorKind>) -> RpcError {
        let url = self.url.clone();
        match e {
            TransportError::ErrorResp(payload) => {
                if let Some(data) = payload.as_revert_data() {
                    let (reason, market_error) = revert_reason(&data);
                    return RpcError::Reverted {
                        reason,
                        market_error,
                        gas_used: None,
                    };
                }
                if payload.message.contains("revert") {
                    return RpcError::Reverted {
                        reason: payload.message.to_string(),
                        market_error: None,
                        gas_used: None,
                    };
                }
                RpcError::Rpc {
                    url,
                    detail: format!("{} (code {})", payload.message, payload.code),
                }
            }
            TransportError::Transport(TransportErrorKind::HttpError(h)) => RpcError::NotJsonRpc {
                url,
                detail: format!("HTTP status {}: {}", h.status, truncate(&h.body, 200)),
            },
            TransportError::Transport(kind) => RpcError::Unreachable {
                url,
                detail: error_chain(&kind),
            },
            TransportError::DeserError { err, text } => RpcError::NotJsonRpc {
                url,
                detail: format!("{err}: {}", truncate(&text, 200)),
            },
            e => RpcError::Rpc {
                url,
                detail: error_chain(&e),
            },
        }
    }
}

fn parse_private_key(key: &str) -> Result<PrivateKeySigner, RpcError> {
    let hex_part = key.trim().strip_prefix("0x").unwrap_or(key.trim());
    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RpcError::BadKey(format!(
            "{} characters{}",
            hex_part.len(),
            if hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
                ""
            } else {
                ", not all hex digits"
            }
        )));
    }
    // Never echo the key itself in a message.
    PrivateKeySigner::from_str(hex_part).map_err(|e| RpcError::BadKey(e.to_string()))
}

/// What revert data means: the market's custom error by signature, a
/// `require` string, a panic code, or the raw hex.
pub fn revert_reason(data: &[u8]) -> (String, Option<&'static str>) {
    if data.is_empty() {
        return ("reverted without data".into(), None);
    }
    if data.len() >= 4 {
        let selector: [u8; 4] = data[..4].try_into().expect("4 bytes");
        if let Some(sig) = IZkinferMarketErrors::signature_by_selector(selector) {
            return (format!("{sig} (the market's custom error)"), Some(sig));
        }
        if let Ok(r) = alloy_sol_types::Revert::abi_decode(data) {
            return (format!("'{}'", r.reason), None);
        }
        if let Ok(p) = alloy_sol_types::Panic::abi_decode(data) {
            return (format!("panic {p}"), None);
        }
    }
    (format!("revert data 0x{}", hex::encode(data)), None)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s = s.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        source = source.and_then(|x| x.source());
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "..."
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::IZkinferMarket;

    #[test]
    fn revert_data_names_the_market_error() {
        let data = IZkinferMarket::ProofRejected {}.abi_encode();
        assert_eq!(revert_reason(&data).1, Some("ProofRejected()"));
        let data = alloy_sol_types::Revert::from("no").abi_encode();
        assert_eq!(revert_reason(&data), ("'no'".to_string(), None));
        assert_eq!(revert_reason(&[]).0, "reverted without data");
    }

    #[test]
    fn the_dev_key_is_hardhat_account_zero_and_bad_keys_are_refused() {
        let a = parse_private_key(DEV_PRIVATE_KEY).unwrap().address();
        assert_eq!(
            a,
            Address::from_str("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266").unwrap()
        );
        assert!(matches!(
            parse_private_key("0x1234"),
            Err(RpcError::BadKey(_))
        ));
        let not_hex = "zz".repeat(32);
        assert!(matches!(
            parse_private_key(&not_hex),
            Err(RpcError::BadKey(_))
        ));
    }

    #[test]
    fn a_closed_port_is_unreachable_within_seconds() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let start = std::time::Instant::now();
        let err = NodeClient::connect(&url, DEV_PRIVATE_KEY)
            .err()
            .expect("nothing listens there");
        assert!(start.elapsed() < Duration::from_secs(10));
        let msg = err.to_string();
        assert!(matches!(err, RpcError::Unreachable { .. }), "{msg}");
        assert!(msg.contains(&url), "{msg}");
    }
}
