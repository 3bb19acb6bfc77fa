//! `zkinfer market`: the royalty market (`ZkinferMarket.sol`) on a real
//! node over JSON-RPC (alloy): deploy, register, request, fulfill, withdraw,
//! refund, output. Every command prints the gas it used; every failure (bad
//! hex, a node that is down, a reverted transaction) is a message naming the
//! cause, with the market's custom error when the contract refused.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Subcommand};
use zkinfer_circuits::public::PublicLayout;
use zkinfer_verifier_contract::alloy_sol_types::{SolCall, SolEvent};
use zkinfer_verifier_contract::market::{
    compile_market, fulfill_call, register_call, request_commitment, IZkinferMarket as abi,
    Registration,
};
use zkinfer_verifier_contract::rpc::{
    NodeClient, Receipt, RpcError, DEFAULT_RPC_URL, DEV_PRIVATE_KEY,
};
use zkinfer_verifier_contract::{Address, U256};

use crate::evm::{proof_calldata, EvmVerifier};
use crate::keys::{fr_from_hex, VerifyingKeyFile};
use crate::progress::Progress;
use crate::proof_file::ProofFile;

use super::CliResult;

/// Where the signing key comes from when --private-key is not given.
pub const PRIVATE_KEY_ENV: &str = "ZKINFER_PRIVATE_KEY";

#[derive(Subcommand)]
pub enum Command {
    /// Deploy a model's verifier contract and, unless --market is given, the market.
    Deploy(DeployArgs),
    /// Register a model on the market: its id, instance counts and layout come from the vk
    /// (and, with private weights, from --commitment).
    Register(RegisterArgs),
    /// Escrow the model's fee for an inference on one input; prints the request id.
    Request(RequestArgs),
    /// Submit a proof for a request: the output is recorded and the fee credited.
    Fulfill(FulfillArgs),
    /// Withdraw this account's credited balance from the market.
    Withdraw(WithdrawArgs),
    /// Credit an expired, unfulfilled request's fee back to its requester.
    Refund(RefundArgs),
    /// Print a fulfilled request's verified outputs (dequantized with --vk).
    Output(OutputArgs),
}

#[derive(ClapArgs)]
pub struct Node {
    /// JSON-RPC endpoint of the node (plain http).
    #[arg(long, default_value = DEFAULT_RPC_URL)]
    rpc_url: String,
    /// Private key that signs and pays (32 bytes hex). Default: $ZKINFER_PRIVATE_KEY,
    /// else hardhat/anvil dev account #0 (0xf39F...2266): a PUBLICLY KNOWN DEV KEY,
    /// for local dev nodes only.
    #[arg(long)]
    private_key: Option<String>,
}

#[derive(ClapArgs)]
pub struct DeployArgs {
    #[command(flatten)]
    node: Node,
    /// The verifying key (`vk` from `zkinfer setup`) whose verifier to deploy.
    #[arg(long)]
    vk: PathBuf,
    /// An already deployed market: deploy only the verifier.
    #[arg(long, value_parser = parse_address)]
    market: Option<Address>,
}

#[derive(ClapArgs)]
pub struct RegisterArgs {
    #[command(flatten)]
    node: Node,
    #[arg(long, value_parser = parse_address)]
    market: Address,
    /// The model's verifier contract (from `zkinfer market deploy`).
    #[arg(long, value_parser = parse_address)]
    verifier: Address,
    /// The model's verifying key: model id, input/output counts, weights and input visibility.
    #[arg(long)]
    vk: PathBuf,
    /// The model commitment (0x-hex, from `zkinfer commit`): required when the vk has private
    /// weights, which many models of one architecture share; it is then also the model's id.
    /// Refused for a vk with fixed weights (the vk itself is the model).
    #[arg(long)]
    commitment: Option<String>,
    /// Fee per inference, in wei.
    #[arg(long, value_parser = parse_wei)]
    fee: U256,
    /// The creator side's part of the fee in basis points (the prover gets the rest).
    #[arg(long, default_value_t = 8000)]
    royalty_bps: u16,
    /// Who receives the royalty (or its remainder after contributors). Default: this account.
    #[arg(long, value_parser = parse_address)]
    payout: Option<Address>,
    /// A contributor and its share of the royalty, ADDR:BPS (repeat; when given, the shares
    /// must sum to exactly 10000; `payout` then gets only the rounding dust).
    #[arg(long = "contributor", value_parser = parse_contributor)]
    contributors: Vec<(Address, u16)>,
}

#[derive(ClapArgs)]
pub struct RequestArgs {
    #[command(flatten)]
    node: Node,
    #[arg(long, value_parser = parse_address)]
    market: Address,
    /// The model id (hex SHA-256 of its .zkq with fixed weights, its model commitment with
    /// private weights: the proof file's model_id).
    #[arg(long, value_parser = parse_bytes32)]
    model_id: [u8; 32],
    /// Commit to the input of this proof file (the instances carrying its input: its words, or
    /// for a hashed-input model its commitment).
    #[arg(
        long,
        conflicts_with = "input_commitment",
        required_unless_present = "input_commitment"
    )]
    proof: Option<PathBuf>,
    /// The input commitment itself: for a hashed-input model the Poseidon commitment that
    /// `zkinfer commit-input` prints; otherwise keccak256 of the input words as 32-byte words.
    #[arg(long, value_parser = parse_bytes32)]
    input_commitment: Option<[u8; 32]>,
    /// Seconds from the latest block until the request may be refunded.
    #[arg(long, default_value_t = 3600)]
    deadline_secs: u64,
}

#[derive(ClapArgs)]
pub struct FulfillArgs {
    #[command(flatten)]
    node: Node,
    #[arg(long, value_parser = parse_address)]
    market: Address,
    #[arg(long, value_parser = parse_wei)]
    request_id: U256,
    /// The proof file (from `zkinfer prove`).
    proof: PathBuf,
}

#[derive(ClapArgs)]
pub struct WithdrawArgs {
    #[command(flatten)]
    node: Node,
    #[arg(long, value_parser = parse_address)]
    market: Address,
}

#[derive(ClapArgs)]
pub struct RefundArgs {
    #[command(flatten)]
    node: Node,
    #[arg(long, value_parser = parse_address)]
    market: Address,
    #[arg(long, value_parser = parse_wei)]
    request_id: U256,
}

#[derive(ClapArgs)]
pub struct OutputArgs {
    #[command(flatten)]
    node: Node,
    #[arg(long, value_parser = parse_address)]
    market: Address,
    #[arg(long, value_parser = parse_wei)]
    request_id: U256,
    /// The model's verifying key: dequantize the outputs (value / 2^scale_bits).
    #[arg(long)]
    vk: Option<PathBuf>,
}

pub fn run(c: Command) -> CliResult {
    match c {
        Command::Deploy(a) => deploy(a),
        Command::Register(a) => register(a),
        Command::Request(a) => request(a),
        Command::Fulfill(a) => fulfill(a),
        Command::Withdraw(a) => withdraw(a),
        Command::Refund(a) => refund(a),
        Command::Output(a) => output(a),
    }
}

impl Node {
    fn connect(&self) -> Result<NodeClient, Box<dyn std::error::Error>> {
        let key = match &self.private_key {
            Some(k) => k.clone(),
            None => match std::env::var(PRIVATE_KEY_ENV) {
                Ok(k) if !k.trim().is_empty() => k,
                _ => {
                    eprintln!(
                        "note: signing with the publicly known hardhat/anvil dev key (account #0); \
                         pass --private-key or set {PRIVATE_KEY_ENV} for any other chain"
                    );
                    DEV_PRIVATE_KEY.to_string()
                }
            },
        };
        Ok(NodeClient::connect(&self.rpc_url, &key)?)
    }
}

/// What the market owes this client's account.
fn credit_of(node: &NodeClient, market: Address) -> Result<U256, RpcError> {
    node.view(
        market,
        &abi::balanceOfCall {
            account: node.address(),
        },
    )
}

/// Refuses an address without a contract before a call decodes garbage.
fn require_contract(node: &NodeClient, at: Address, what: &str) -> Result<(), String> {
    match node.code(at) {
        Ok(code) if !code.is_empty() => Ok(()),
        Ok(_) => Err(format!(
            "there is no contract at {at} on chain {} ({}): is that the {what}? \
             Deploy one with `zkinfer market deploy`",
            node.chain_id(),
            node.url()
        )),
        Err(e) => Err(e.to_string()),
    }
}

fn gas_line(r: &Receipt) -> String {
    format!(
        "{} gas ({} wei at {} wei/gas), tx {}",
        r.gas_used,
        r.fee_wei(),
        r.effective_gas_price,
        r.tx_hash
    )
}

fn deploy(a: DeployArgs) -> CliResult {
    let vk = VerifyingKeyFile::load(&a.vk)?;
    let node = a.node.connect()?;
    if let Some(m) = a.market {
        require_contract(&node, m, "market")?;
    }
    let progress = Progress::spinner("market");
    progress.stage("generating and compiling the Solidity verifier (solc-js)");
    let verifier = EvmVerifier::build(&vk)?;
    progress.finish();
    if !verifier.fits_eip170() {
        return Err(format!(
            "the verifier's runtime code is {} bytes, over EIP-170's 24,576: it cannot be deployed",
            verifier.runtime_size()
        )
        .into());
    }
    println!(
        "chain {} at {}, deployer {}",
        node.chain_id(),
        node.url(),
        node.address()
    );
    let mut receipts = Vec::new();
    let v = verifier.deploy_with(|code| {
        let d = node.deploy(code).map_err(|e| e.to_string())?;
        let gas = d.receipt.gas_used;
        receipts.push(d.receipt);
        Ok((d.address, gas))
    })?;
    println!(
        "verifier of model {} (vk {}, {} bytes{}) deployed at {}: {}",
        vk.header.model_name,
        &vk.header.vk_id[..16.min(vk.header.vk_id.len())],
        verifier.total_runtime_size(),
        if verifier.parts.len() > 1 {
            format!(" in {} contracts", verifier.parts.len())
        } else {
            String::new()
        },
        v.address,
        receipts.iter().map(gas_line).collect::<Vec<_>>().join("; ")
    );
    let market = match a.market {
        Some(m) => m,
        None => {
            let compiled = compile_market().map_err(|e| format!("compiling the market: {e}"))?;
            let m = node.deploy(compiled.bytecode.clone())?;
            println!(
                "market deployed at {} ({} bytes): {}",
                m.address,
                compiled.runtime.len(),
                gas_line(&m.receipt)
            );
            m.address
        }
    };
    println!(
        "next: zkinfer market register --market {market} --verifier {} --vk {} --fee WEI{}",
        v.address,
        a.vk.display(),
        if vk.header.public_layout().model_commitment {
            " --commitment 0x... (private weights: the model's, from `zkinfer commit`)"
        } else {
            ""
        }
    );
    Ok(0)
}

fn register(a: RegisterArgs) -> CliResult {
    let vk = VerifyingKeyFile::load(&a.vk)?;
    let layout = vk.header.public_layout();
    let weights_commitment = match (layout.model_commitment, &a.commitment) {
        (true, Some(c)) => Some(field_bytes(c, "--commitment")?),
        (true, None) => {
            return Err(format!(
                "{}: the key has private weights, so it does not say which model this is: \
                 pass the model's commitment with --commitment 0x... (`zkinfer commit MODEL.zkq` \
                 prints it)",
                a.vk.display()
            )
            .into())
        }
        (false, Some(_)) => {
            return Err(format!(
                "{}: the key has fixed weights, so its verifier is the model and takes no \
                 model commitment: drop --commitment",
                a.vk.display()
            )
            .into())
        }
        (false, None) => None,
    };
    // With private weights the model is its commitment (the proofs' model
    // id); with fixed weights, the .zkq's hash in the vk header.
    let model_id = match weights_commitment {
        Some(c) => c,
        None => parse_bytes32(&vk.header.model_id)
            .map_err(|e| format!("{}: model_id in the header: {e}", a.vk.display()))?,
    };
    let (num_inputs, num_outputs) = (layout.num_inputs, layout.num_outputs);
    if num_outputs == 0 {
        return Err(format!("{}: the key has no outputs", a.vk.display()).into());
    }
    let lane_bits = crate::onchain::market_lane_bits(&layout)
        .map_err(|e| format!("{}: {e}", a.vk.display()))?;
    let node = a.node.connect()?;
    require_contract(&node, a.market, "market")?;
    let reg = Registration {
        model_id,
        verifier: a.verifier,
        fee: a.fee,
        royalty_bps: a.royalty_bps,
        payout: a.payout.unwrap_or(node.address()),
        num_inputs: num_inputs as u32,
        num_outputs: num_outputs as u32,
        lane_bits,
        weights_commitment: weights_commitment.unwrap_or([0; 32]),
        input_hashed: layout.hashed_input,
        contributors: a.contributors.clone(),
    };
    let r = node.send(a.market, U256::ZERO, register_call(&reg).abi_encode())?;
    println!(
        "registered model 0x{} ({}, {} weights, {} input) on market {}: verifier {}, fee {} wei, royalty {} bps to {}{}, {} inputs, {} outputs",
        hex::encode(model_id),
        vk.header.model_name,
        if weights_commitment.is_some() { "private" } else { "fixed" },
        if layout.hashed_input { "hashed" } else { "public" },
        a.market,
        a.verifier,
        a.fee,
        a.royalty_bps,
        reg.payout,
        if a.contributors.is_empty() {
            String::new()
        } else {
            format!(" and {} contributor(s)", a.contributors.len())
        },
        num_inputs,
        num_outputs
    );
    println!("  {}", gas_line(&r));
    Ok(0)
}

fn request(a: RequestArgs) -> CliResult {
    let proof = a.proof.as_ref().map(|p| ProofFile::load(p)).transpose()?;
    let node = a.node.connect()?;
    require_contract(&node, a.market, "market")?;
    let model = node.view(
        a.market,
        &abi::modelOfCall {
            modelId: a.model_id.into(),
        },
    )?;
    if model.verifier == Address::ZERO {
        return Err(format!(
            "model 0x{} is not registered on market {}: register it with `zkinfer market register`",
            hex::encode(a.model_id),
            a.market
        )
        .into());
    }
    let commitment = match (&proof, a.input_commitment) {
        (_, Some(c)) => {
            // The contract refuses it too (BadInputCommitment), after the
            // node has charged for the attempt.
            if model.inputHashed {
                field_bytes(&format!("0x{}", hex::encode(c)), "--input-commitment").map_err(
                    |e| {
                        format!(
                            "model 0x{} takes a hashed input, whose commitment is a field \
                             element (`zkinfer commit-input` prints it): {e}",
                            hex::encode(a.model_id)
                        )
                    },
                )?;
            }
            c
        }
        (Some(p), None) => {
            let proof_model = p.model_id.trim_start_matches("0x").to_ascii_lowercase();
            if proof_model != hex::encode(a.model_id) {
                return Err(format!(
                    "the proof is for model {}, not 0x{}",
                    p.model_id,
                    hex::encode(a.model_id)
                )
                .into());
            }
            let layout = p.public_layout();
            if layout.num_inputs != model.numInputs as usize
                || layout.lane_bits != u32::from(model.laneBits)
                || layout.num_instances() != p.instances.len()
            {
                return Err(format!(
                    "the proof has {} input values in {}-bit lanes, the model is registered with {} in {}-bit lanes",
                    layout.num_inputs, layout.lane_bits, model.numInputs, model.laneBits
                )
                .into());
            }
            let (instances, _) = proof_calldata(p)?;
            let proved = visibility(layout.model_commitment, layout.hashed_input);
            let registered = visibility(model.weightsCommitment.0 != [0; 32], model.inputHashed);
            if proved != registered {
                return Err(format!(
                    "the proof has {} weights and a {} input, the model is registered with {} weights and a {} input",
                    proved.0, proved.1, registered.0, registered.1
                )
                .into());
            }
            crate::onchain::market_weights_commitment(&layout, &instances)?
                .filter(|c| *c != model.weightsCommitment.0)
                .map_or(Ok(()), |c| {
                    Err(format!(
                        "the proof is for the weights with commitment 0x{}, the model is registered with 0x{}",
                        hex::encode(c),
                        hex::encode(model.weightsCommitment)
                    ))
                })?;
            request_commitment(&instances[layout.input_range()], layout.hashed_input)
        }
        (None, None) => unreachable!("clap requires --proof or --input-commitment"),
    };
    let deadline = node.block_timestamp()? + a.deadline_secs;
    let call = abi::requestInferenceCall {
        modelId: a.model_id.into(),
        commitment: commitment.into(),
        deadline,
    };
    let r = node.send(a.market, model.fee, call.abi_encode())?;
    let id = r
        .logs
        .iter()
        .filter(|l| l.address == a.market)
        .find_map(|l| abi::InferenceRequested::decode_log(l).ok())
        .map(|l| l.data.requestId)
        .ok_or("the request was mined but emitted no InferenceRequested event")?;
    println!(
        "request {id}: {} wei escrowed for model 0x{}, input commitment 0x{}, deadline {deadline} (block time + {} s)",
        model.fee,
        hex::encode(a.model_id),
        hex::encode(commitment),
        a.deadline_secs
    );
    println!("  {}", gas_line(&r));
    Ok(0)
}

fn fulfill(a: FulfillArgs) -> CliResult {
    let proof = ProofFile::load(&a.proof)?;
    let (instances, bytes) = proof_calldata(&proof)?;
    let node = a.node.connect()?;
    require_contract(&node, a.market, "market")?;
    let before = credit_of(&node, a.market)?;
    let r = node.send(
        a.market,
        U256::ZERO,
        fulfill_call(a.request_id, &instances, &bytes).abi_encode(),
    )?;
    let after = credit_of(&node, a.market)?;
    println!(
        "request {} fulfilled: proof verified on-chain, {} outputs recorded, prover {} credited {} wei (withdraw with `zkinfer market withdraw`)",
        a.request_id,
        proof.num_outputs,
        node.address(),
        after.saturating_sub(before)
    );
    println!("  {}", gas_line(&r));
    Ok(0)
}

fn withdraw(a: WithdrawArgs) -> CliResult {
    let node = a.node.connect()?;
    require_contract(&node, a.market, "market")?;
    let credit = credit_of(&node, a.market)?;
    let r = node.send(a.market, U256::ZERO, abi::withdrawCall {}.abi_encode())?;
    println!(
        "withdrew {credit} wei from market {} to {}",
        a.market,
        node.address()
    );
    println!("  {}", gas_line(&r));
    Ok(0)
}

fn refund(a: RefundArgs) -> CliResult {
    let node = a.node.connect()?;
    require_contract(&node, a.market, "market")?;
    let req = node.view(
        a.market,
        &abi::requestOfCall {
            requestId: a.request_id,
        },
    )?;
    let r = node.send(
        a.market,
        U256::ZERO,
        abi::refundCall {
            requestId: a.request_id,
        }
        .abi_encode(),
    )?;
    println!(
        "request {} refunded: {} wei credited to requester {} (withdraw with `zkinfer market withdraw`)",
        a.request_id, req.fee, req.requester
    );
    println!("  {}", gas_line(&r));
    Ok(0)
}

fn output(a: OutputArgs) -> CliResult {
    let vk =
        a.vk.as_ref()
            .map(|p| VerifyingKeyFile::load(p))
            .transpose()?;
    let node = a.node.connect()?;
    require_contract(&node, a.market, "market")?;
    let req = node.view(
        a.market,
        &abi::requestOfCall {
            requestId: a.request_id,
        },
    )?;
    match req.status {
        0 => {
            return Err(format!(
                "there is no request {} on market {}",
                a.request_id, a.market
            )
            .into())
        }
        1 => {
            return Err(format!(
                "request {} is still open: no proof has been accepted for it yet",
                a.request_id
            )
            .into())
        }
        3 => return Err(format!("request {} was refunded: it has no output", a.request_id).into()),
        _ => {}
    }
    let model = node.view(
        a.market,
        &abi::modelOfCall {
            modelId: req.modelId,
        },
    )?;
    if let Some(vk) = &vk {
        check_output_key(vk, req.modelId.0, &model)
            .map_err(|e| format!("request {}: {e}", a.request_id))?;
    }
    // Outputs too many to store are only in the fulfilment's event; the
    // market vouches for them with matchesOutput.
    let (values, source) =
        if model.numOutputs as usize > zkinfer_verifier_contract::market::MAX_STORED_OUTPUTS {
            let published = node
                .published_outputs(a.market, a.request_id)?
                .ok_or_else(|| {
                    format!(
                        "request {} is fulfilled but the node has no InferenceOutputs event for it",
                        a.request_id
                    )
                })?;
            let vouched = node.view(
                a.market,
                &abi::matchesOutputCall {
                    requestId: a.request_id,
                    outputs: published.clone(),
                },
            )?;
            if !vouched {
                return Err(format!(
                    "the market does not vouch for the outputs published for request {}",
                    a.request_id
                )
                .into());
            }
            let layout = PublicLayout {
                lane_bits: model.laneBits.into(),
                num_inputs: model.numInputs as usize,
                num_outputs: model.numOutputs as usize,
                model_commitment: model.weightsCommitment.0 != [0; 32],
                hashed_input: model.inputHashed,
            };
            let values: Vec<String> = crate::onchain::published_values(&layout, &published)?
                .iter()
                .map(|v| v.to_string())
                .collect();
            (
                values,
                "published in InferenceOutputs, checked with matchesOutput",
            )
        } else {
            let stored = node.view(
                a.market,
                &abi::signedOutputOfCall {
                    requestId: a.request_id,
                },
            )?;
            (stored.iter().map(|v| v.to_string()).collect(), "stored")
        };
    println!(
        "request {} (model 0x{}), proved by {}: {} outputs ({source})",
        a.request_id,
        hex::encode(req.modelId),
        req.prover,
        values.len()
    );
    for (i, text) in values.iter().enumerate() {
        match &vk {
            Some(vk) => {
                let x: f64 = text
                    .parse()
                    .map_err(|_| format!("output {i} ({text}) is not a number"))?;
                let scale = 2f64.powi(vk.header.scale_bits as i32);
                println!("  [{i}] {text}  = {}", x / scale);
            }
            None => println!("  [{i}] {text}"),
        }
    }
    Ok(0)
}

fn parse_address(s: &str) -> Result<Address, String> {
    s.parse::<Address>().map_err(|e| {
        format!("'{s}' is not an address (0x and 40 hex digits, checksum if mixed case): {e}")
    })
}

fn parse_wei(s: &str) -> Result<U256, String> {
    U256::from_str_radix(s, 10).map_err(|e| format!("'{s}' is not a decimal number: {e}"))
}

/// Whether `vk` is a key of the registered model `model_id` (`model`),
/// whose output scale it then knows. A key with private weights serves
/// every model of its architecture: it matches a model registered with
/// private weights and its layout.
fn check_output_key(
    vk: &VerifyingKeyFile,
    model_id: [u8; 32],
    model: &abi::modelOfReturn,
) -> Result<(), String> {
    let layout = vk.header.public_layout();
    if !layout.model_commitment {
        let key_model = vk.header.model_id.trim_start_matches("0x");
        return match key_model.eq_ignore_ascii_case(&hex::encode(model_id)) {
            true => Ok(()),
            false => Err(format!(
                "it is for model 0x{}, the vk is for model {}",
                hex::encode(model_id),
                vk.header.model_id
            )),
        };
    }
    let registered = (
        model.weightsCommitment.0 != [0; 32],
        model.inputHashed,
        model.numInputs as usize,
        model.numOutputs as usize,
    );
    let key = (
        true,
        layout.hashed_input,
        layout.num_inputs,
        layout.num_outputs,
    );
    if registered != key {
        let (w, i) = visibility(registered.0, registered.1);
        let (kw, ki) = visibility(key.0, key.1);
        return Err(format!(
            "model 0x{} is registered with {w} weights, a {i} input, {} inputs and {} outputs; \
             the vk has {kw} weights, a {ki} input, {} inputs and {} outputs",
            hex::encode(model_id),
            registered.2,
            registered.3,
            key.2,
            key.3
        ));
    }
    Ok(())
}

/// How a layout's weights and input are named in messages.
fn visibility(private_weights: bool, hashed_input: bool) -> (&'static str, &'static str) {
    (
        if private_weights { "private" } else { "fixed" },
        if hashed_input { "hashed" } else { "public" },
    )
}

/// A 0x-hex field element (a commitment, as `zkinfer commit` prints it) as
/// the contract's big-endian bytes32.
fn field_bytes(s: &str, what: &str) -> Result<[u8; 32], String> {
    let x = fr_from_hex(s, what).map_err(|e| e.to_string())?;
    Ok(crate::keys::fr_to_be_bytes(&x))
}

fn parse_bytes32(s: &str) -> Result<[u8; 32], String> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(h).map_err(|e| format!("'{s}' is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("'{s}' is {} bytes, expected 32", b.len()))
}

fn parse_contributor(s: &str) -> Result<(Address, u16), String> {
    let (addr, bps) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not ADDR:BPS"))?;
    let bps = bps
        .parse::<u16>()
        .ok()
        .filter(|&b| b <= 10_000)
        .ok_or_else(|| format!("'{bps}' in '{s}' is not basis points (0..=10000)"))?;
    Ok((parse_address(addr)?, bps))
}
