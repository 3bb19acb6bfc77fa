//! `zkinfer market` against a real Ethereum node over JSON-RPC: hardhat's
//! node (EDR) from the npm registry, installed into .tools/ by
//! scripts/test.sh, started on a free loopback port for the test and killed
//! when it ends. Without the package, or if it does not start, the flow test
//! prints "skipped: ..." and passes.
//!
//! The bundled MLP's verifier and the market are deployed and driven
//! through the CLI; balances are read with the library's client, and money
//! is checked to the wei: credits against the market's split, withdrawals
//! against the ETH they move minus the gas their receipts say was paid.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zkinfer_prover::tamper::flip_proof_byte;
use zkinfer_verifier_contract::alloy_sol_types::SolCall;
use zkinfer_verifier_contract::market::IZkinferMarket as abi;
use zkinfer_verifier_contract::rpc::{NodeClient, RpcError};
use zkinfer_verifier_contract::{Address, U256};

use crate::common::{mlp_run, path_str, zkinfer};

/// Dev accounts #0..#4 of the "test ... junk" mnemonic (tests/node/hardhat.config.js).
const KEYS: [&str; 5] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
];
const CREATOR: usize = 0;
const REQUESTER: usize = 1;
const PROVER: usize = 2;
const CONTRIBUTOR: usize = 3;
const PAYOUT: usize = 4;

/// How long hardhat may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(30);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A hardhat node on 127.0.0.1, killed on drop.
struct HardhatNode {
    child: Child,
    url: String,
    _log_dir: tempfile::TempDir,
}

impl HardhatNode {
    /// The node, or why it could not be started (the test is then skipped).
    fn start() -> Result<Self, String> {
        let root = repo_root();
        let tools = root.join(".tools");
        let cli = tools.join("node_modules/hardhat/internal/cli/cli.js");
        if !cli.exists() {
            return Err(format!(
                "hardhat is not installed ({} is missing; scripts/test.sh installs it into .tools/)",
                cli.display()
            ));
        }
        let config = root.join("tests/node/hardhat.config.js");
        let log_dir = tempfile::tempdir().unwrap();
        let log_path = log_dir.path().join("hardhat.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let port = free_port();
        // Hardhat refuses to run unless it resolves from the working folder.
        let child = Command::new("node")
            .current_dir(&tools)
            .arg(&cli)
            .args([
                "node",
                "--hostname",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .arg("--config")
            .arg(&config)
            .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run `node` (Node.js) for hardhat: {e}"))?;
        let mut node = HardhatNode {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _log_dir: log_dir,
        };
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = node.child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!(
                    "hardhat exited ({status}) before answering:\n{}",
                    tail(&log)
                ));
            }
            match NodeClient::connect(&node.url, KEYS[0]) {
                Ok(c) if c.chain_id() == 31337 => return Ok(node),
                Ok(c) => return Err(format!("the node has chain id {}, not 31337", c.chain_id())),
                Err(_) if start.elapsed() < START_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                Err(e) => {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    return Err(format!(
                        "hardhat did not answer within {START_TIMEOUT:?}: {e}\n{}",
                        tail(&log)
                    ));
                }
            }
        }
    }

    fn client(&self, account: usize) -> NodeClient {
        NodeClient::connect(&self.url, KEYS[account]).expect("the node answered before")
    }
}

impl Drop for HardhatNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// `zkinfer market <args> --rpc-url URL --private-key KEY`.
fn market(node: &HardhatNode, account: usize, args: &[&str]) -> (u8, String) {
    let mut argv = vec!["market"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--rpc-url", &node.url, "--private-key", KEYS[account]]);
    zkinfer(&argv)
}

/// A started node, or None after saying why the test is skipped.
fn hardhat_or_skip() -> Option<HardhatNode> {
    HardhatNode::start()
        .map_err(|why| eprintln!("skipped: the real-node market test needs hardhat's node: {why}"))
        .ok()
}

fn ok(out: (u8, String), what: &str) {
    assert_eq!(out.0, 0, "{what} failed: {}", out.1);
}

fn fails_with(out: (u8, String), error: &str, what: &str) {
    assert_eq!(out.0, 1, "{what} should have failed; message: {}", out.1);
    assert!(
        out.1.contains(error),
        "{what}: expected {error} in: {}",
        out.1
    );
}

fn credit(c: &NodeClient, market: Address, who: Address) -> U256 {
    c.view(market, &abi::balanceOfCall { account: who })
        .unwrap()
}

#[test]
fn the_market_pays_for_a_verified_inference_on_a_real_node() {
    let Some(node) = hardhat_or_skip() else {
        return;
    };
    let (dir, run) = mlp_run();
    let vk = run.artifacts.keys.join("vk");
    let proof = path_str(&run.artifacts.proof);
    let c: Vec<NodeClient> = (0..KEYS.len()).map(|i| node.client(i)).collect();
    let addr = |i: usize| c[i].address();
    let addr_s = |i: usize| addr(i).to_string();

    // Deploy: the verifier (creator's nonce 0), then the market (nonce 1).
    ok(
        market(&node, CREATOR, &["deploy", "--vk", path_str(&vk)]),
        "deploy",
    );
    let verifier = addr(CREATOR).create(0);
    let market_addr = addr(CREATOR).create(1);
    assert!(!c[0].code(verifier).unwrap().is_empty(), "no verifier code");
    assert!(
        !c[0].code(market_addr).unwrap().is_empty(),
        "no market code"
    );
    let m = market_addr.to_string();

    // Register with one contributor, who gets the whole royalty; an odd fee
    // exercises the rounding down of the royalty.
    let fee = U256::from(1_000_000_000_000_007u64);
    let contributor = format!("{}:10000", addr_s(CONTRIBUTOR));
    let register = |contrib: &str| {
        market(
            &node,
            CREATOR,
            &[
                "register",
                "--market",
                &m,
                "--verifier",
                &verifier.to_string(),
                "--vk",
                path_str(&vk),
                "--fee",
                &fee.to_string(),
                "--payout",
                &addr_s(PAYOUT),
                "--contributor",
                contrib,
            ],
        )
    };
    let half = format!("{}:5000", addr_s(CONTRIBUTOR));
    fails_with(
        register(&half),
        "BadShares()",
        "shares that do not sum to 10000",
    );
    ok(register(&contributor), "register");
    fails_with(
        register(&contributor),
        "ModelExists()",
        "a second registration",
    );
    let model_id = run.proof.model_id.clone();
    let model = c[0]
        .view(
            market_addr,
            &abi::modelOfCall {
                modelId: hex_bytes32(&model_id).into(),
            },
        )
        .unwrap();
    assert_eq!(
        (model.verifier, model.fee, model.creator),
        (verifier, fee, addr(CREATOR))
    );
    assert_eq!(model.numInputs as usize, run.proof.num_inputs);
    assert_eq!(model.numOutputs as usize, run.proof.num_outputs);

    // Request: the requester pays the fee into escrow.
    ok(
        market(
            &node,
            REQUESTER,
            &[
                "request",
                "--market",
                &m,
                "--model-id",
                &model_id,
                "--proof",
                proof,
            ],
        ),
        "request",
    );
    let count = c[0].view(market_addr, &abi::requestCountCall {}).unwrap();
    assert_eq!(count, U256::from(1));
    assert_eq!(c[0].balance(market_addr).unwrap(), fee);
    fails_with(
        market(
            &node,
            CREATOR,
            &["output", "--market", &m, "--request-id", "1"],
        ),
        "still open",
        "the output of an open request",
    );

    // A tampered proof is rejected on-chain, and no money moves.
    let tampered = dir.path().join("node-tampered-proof.json");
    flip_proof_byte(&run.proof).save(&tampered).unwrap();
    let prover_eth = c[PROVER].balance(addr(PROVER)).unwrap();
    fails_with(
        market(
            &node,
            PROVER,
            &[
                "fulfill",
                "--market",
                &m,
                "--request-id",
                "1",
                path_str(&tampered),
            ],
        ),
        "ProofRejected()",
        "a tampered proof",
    );
    assert_eq!(
        c[PROVER].balance(addr(PROVER)).unwrap(),
        prover_eth,
        "a refused fulfil cost gas"
    );
    assert_eq!(c[0].balance(market_addr).unwrap(), fee);
    for who in [PROVER, CONTRIBUTOR, PAYOUT] {
        assert_eq!(credit(&c[0], market_addr, addr(who)), U256::ZERO);
    }
    let open = c[0]
        .view(
            market_addr,
            &abi::requestOfCall {
                requestId: U256::from(1),
            },
        )
        .unwrap();
    assert_eq!(open.status, 1, "the request must stay open");

    // The real proof: output recorded, fee split to the wei.
    ok(
        market(
            &node,
            PROVER,
            &["fulfill", "--market", &m, "--request-id", "1", proof],
        ),
        "fulfill",
    );
    assert!(c[0]
        .view(
            market_addr,
            &abi::isFulfilledCall {
                requestId: U256::from(1)
            }
        )
        .unwrap());
    let outputs: Vec<String> = c[0]
        .view(
            market_addr,
            &abi::signedOutputOfCall {
                requestId: U256::from(1),
            },
        )
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
    let expected: Vec<String> = run
        .outputs
        .iter()
        .flatten()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(outputs, expected);
    ok(
        market(
            &node,
            CREATOR,
            &[
                "output",
                "--market",
                &m,
                "--request-id",
                "1",
                "--vk",
                path_str(&vk),
            ],
        ),
        "output",
    );
    let royalty = fee * U256::from(8000) / U256::from(10_000);
    assert_eq!(credit(&c[0], market_addr, addr(PROVER)), fee - royalty);
    assert_eq!(credit(&c[0], market_addr, addr(CONTRIBUTOR)), royalty);
    assert_eq!(credit(&c[0], market_addr, addr(PAYOUT)), U256::ZERO);

    // A replayed fulfil is refused: the request is no longer open.
    fails_with(
        market(
            &node,
            PROVER,
            &["fulfill", "--market", &m, "--request-id", "1", proof],
        ),
        "NotOpen()",
        "a replayed proof",
    );

    // Withdrawals move exactly the credit, less the gas the receipt says was paid.
    for (who, amount) in [(PROVER, fee - royalty), (CONTRIBUTOR, royalty)] {
        let before = c[who].balance(addr(who)).unwrap();
        let r = c[who]
            .send(market_addr, U256::ZERO, abi::withdrawCall {}.abi_encode())
            .unwrap();
        let after = c[who].balance(addr(who)).unwrap();
        assert_eq!(after, before + amount - r.fee_wei(), "account #{who}");
        assert_eq!(credit(&c[0], market_addr, addr(who)), U256::ZERO);
    }
    fails_with(
        market(&node, PAYOUT, &["withdraw", "--market", &m]),
        "NothingToWithdraw()",
        "a withdrawal of nothing",
    );
    let err = c[PROVER]
        .send(market_addr, U256::ZERO, abi::withdrawCall {}.abi_encode())
        .unwrap_err();
    assert_eq!(err.market_error(), Some("NothingToWithdraw()"), "{err}");

    // An unfulfilled request is refunded only after its deadline.
    let commitment = format!("0x{}", "05".repeat(32));
    ok(
        market(
            &node,
            REQUESTER,
            &[
                "request",
                "--market",
                &m,
                "--model-id",
                &model_id,
                "--input-commitment",
                &commitment,
                "--deadline-secs",
                "60",
            ],
        ),
        "a second request",
    );
    fails_with(
        market(
            &node,
            CREATOR,
            &["refund", "--market", &m, "--request-id", "2"],
        ),
        "NotExpired()",
        "a refund before the deadline",
    );
    c[0].dev_advance_time(120).unwrap();
    fails_with(
        market(
            &node,
            PROVER,
            &["fulfill", "--market", &m, "--request-id", "2", proof],
        ),
        "Expired()",
        "a fulfil after the deadline",
    );
    ok(
        market(
            &node,
            CREATOR,
            &["refund", "--market", &m, "--request-id", "2"],
        ),
        "refund",
    );
    assert_eq!(credit(&c[0], market_addr, addr(REQUESTER)), fee);
    let before = c[REQUESTER].balance(addr(REQUESTER)).unwrap();
    ok(
        market(&node, REQUESTER, &["withdraw", "--market", &m]),
        "the requester's withdrawal",
    );
    let after = c[REQUESTER].balance(addr(REQUESTER)).unwrap();
    assert!(
        after > before && after <= before + fee,
        "{before} -> {after}"
    );
    // Everything escrowed has been paid out.
    assert_eq!(c[0].balance(market_addr).unwrap(), U256::ZERO);
}

#[test]
fn an_unreachable_node_is_a_clear_error_within_seconds() {
    let port = free_port(); // bound and released: nothing listens there
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    let (code, msg) = zkinfer(&[
        "market",
        "withdraw",
        "--rpc-url",
        &url,
        "--market",
        "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    ]);
    assert_eq!(code, 1, "{msg}");
    assert!(
        msg.contains("cannot reach an Ethereum node") && msg.contains(&url),
        "{msg}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );

    let (code, msg) = zkinfer(&["market", "withdraw", "--market", "0x12"]);
    assert_eq!(code, 2, "a bad address is a usage error: {msg}");
    assert!(msg.contains("not an address"), "{msg}");
    let (code, msg) = zkinfer(&[
        "market",
        "withdraw",
        "--rpc-url",
        &url,
        "--private-key",
        "0xnothex",
        "--market",
        "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    ]);
    assert_eq!(code, 1, "{msg}");
    assert!(
        msg.contains("invalid private key") && !msg.contains("nothex"),
        "{msg}"
    );
    let err = NodeClient::connect(&url, zkinfer_verifier_contract::rpc::DEV_PRIVATE_KEY)
        .err()
        .unwrap();
    assert!(matches!(err, RpcError::Unreachable { .. }), "{err}");
}

fn hex_bytes32(s: &str) -> [u8; 32] {
    hex::decode(s.trim_start_matches("0x"))
        .unwrap()
        .try_into()
        .unwrap()
}

/// A transformer block on the real node: its verifier is a chain of
/// contracts (deployed by `zkinfer market deploy`), and its 1,024 outputs,
/// too many to store, are published in the fulfilment's event, vouched for
/// by the market and read back by `zkinfer market output`.
#[test]
fn a_transformer_block_is_verified_and_paid_for_on_a_real_node() {
    use zkinfer_prover::evm::EvmVerifier;
    use zkinfer_prover::keys::VerifyingKeyFile;
    use zkinfer_prover::proof_file::ProofFile;

    let Some(node) = hardhat_or_skip() else {
        return;
    };
    let run = crate::transformer::gpt2_block();
    let (vk, proof) = (path_str(&run.vk), path_str(&run.proof));
    let proof_file = ProofFile::load(&run.proof).unwrap();
    let parts = EvmVerifier::build(&VerifyingKeyFile::load(&run.vk).unwrap())
        .unwrap()
        .parts
        .len();
    let c = node.client(CREATOR);

    ok(market(&node, CREATOR, &["deploy", "--vk", vk]), "deploy");
    // Parts are deployed last first: the entry is the last of them, then
    // the market.
    let verifier = c.address().create(parts as u64 - 1);
    let market_addr = c.address().create(parts as u64);
    let m = market_addr.to_string();
    ok(
        market(
            &node,
            CREATOR,
            &[
                "register",
                "--market",
                &m,
                "--verifier",
                &verifier.to_string(),
                "--vk",
                vk,
                "--fee",
                "1000",
            ],
        ),
        "register",
    );
    ok(
        market(
            &node,
            REQUESTER,
            &[
                "request",
                "--market",
                &m,
                "--model-id",
                &proof_file.model_id,
                "--proof",
                proof,
            ],
        ),
        "request",
    );
    ok(
        market(
            &node,
            PROVER,
            &["fulfill", "--market", &m, "--request-id", "1", proof],
        ),
        "fulfill",
    );
    let layout = proof_file.public_layout();
    let outputs: Vec<U256> = proof_file.instances[layout.output_start()..]
        .iter()
        .map(|s| U256::from_str_radix(s, 10).unwrap())
        .collect();
    assert_eq!(layout.num_outputs, 1024);
    assert_eq!(outputs.len(), layout.output_words());
    let published = c
        .published_outputs(market_addr, U256::from(1))
        .unwrap()
        .expect("the fulfilment published its outputs");
    assert_eq!(published, outputs);
    let vouched = c
        .view(
            market_addr,
            &abi::matchesOutputCall {
                requestId: U256::from(1),
                outputs: outputs.clone(),
            },
        )
        .unwrap();
    assert!(vouched);
    ok(
        market(
            &node,
            REQUESTER,
            &["output", "--market", &m, "--request-id", "1", "--vk", vk],
        ),
        "output",
    );
    fails_with(
        market(
            &node,
            PROVER,
            &["fulfill", "--market", &m, "--request-id", "1", proof],
        ),
        "NotOpen()",
        "a replayed proof",
    );
    assert_eq!(
        credit(&c, market_addr, c.address()),
        U256::from(800),
        "the creator's royalty (8,000 bps of 1,000 wei)"
    );
}
