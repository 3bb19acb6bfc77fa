//! The royalty market on the embedded EVM: every wei of every fee reaches the
//! account the money flow in `contracts/README.md` names, and no rejected
//! call, replayed proof or reentrant withdrawal moves any.
//!
//! Gas is free on the embedded chain, so an account's ether balance moves
//! only by the values the contracts transfer: the tests compare balances to
//! the wei. Expected payouts are computed here from the README's formulas,
//! never read back from the contract. `MockVerifier` stands in for a
//! generated verifier: in its default mode it accepts iff the calldata's last
//! byte is 0x01, which is the proof's last byte.

use std::sync::OnceLock;

use alloy_sol_types::{sol, SolCall, SolError, SolEvent, SolValue};
use revm::primitives::{keccak256, Address, FixedBytes, Log, U256};

use crate::evm::{Evm, Outcome, MAX_CODE_SIZE};
use crate::market::{
    compile_market, failure_reason, input_commitment, register_call, reverted_with, IZkinferMarket,
    Market, Registration,
};
use crate::solc::{self, Compiled, Optimizer};
use halo2curves::ff::PrimeField;
use zkinfer_circuits::public::pack_words;

sol! {
    interface IMockVerifier {
        function setMode(uint8 newMode) external;
        function mode() external view returns (uint8);
    }

    interface IReentrantReceiver {
        function setMaxReentries(uint256 maxReentries_) external;
        function setRejectPayments(bool reject) external;
        function requestInference(bytes32 modelId, bytes32 commitment, uint64 deadline) external payable returns (uint256);
        function fulfill(uint256 requestId, uint256[] instances, bytes proof) external;
        function refund(uint256 requestId) external;
        function withdraw() external;
        function reentryAttempts() external view returns (uint256);
        function reentrySuccesses() external view returns (uint256);
        function lastReentrySucceeded() external view returns (bool);
        function lastRevertSelector() external view returns (bytes4);
        function totalReceived() external view returns (uint256);
    }

    interface IMarketConstants {
        function SCALAR_FIELD() external view returns (uint256);
        function MAX_CONTRIBUTORS() external view returns (uint256);
    }
}

// MockVerifier's modes.
const MODE_LAST_BYTE: u8 = 0;
const MODE_ACCEPT_ALL: u8 = 1;
const MODE_REJECT_ALL: u8 = 2;

/// A fee that leaves a remainder at every division: the royalty
/// (fee * 2500 / 10000) rounds down by 0.75 wei and the 3333/3333/3334 split
/// of it leaves 1 wei of dust for the payout address.
const FEE: u128 = 1_000_000_000_000_007;
const ROYALTY_BPS: u16 = 2_500;
const SHARES: [u16; 3] = [3_333, 3_333, 3_334];
const NUM_INPUTS: u32 = 2;
const NUM_OUTPUTS: u32 = 3;
/// 15 values a word: the inputs take one word, the outputs another.
const LANE_BITS: u8 = 16;
/// Seconds from a request to its deadline.
const TTL: u64 = 3_600;
const START_BALANCE: u128 = 1_000 * 1_000_000_000_000_000_000;

/// Ends in 0x01: MockVerifier (mode 0) accepts it.
const VALID_PROOF: &[u8] = &[0xde, 0xad, 0xbe, 0xef, 0x01];
/// Ends in 0x00: MockVerifier (mode 0) rejects it.
const INVALID_PROOF: &[u8] = &[0xde, 0xad, 0xbe, 0xef, 0x00];

fn market_compiled() -> &'static Compiled {
    static MARKET: OnceLock<Compiled> = OnceLock::new();
    MARKET.get_or_init(|| compile_market().expect("ZkinferMarket.sol compiles"))
}

struct TestContracts {
    mock_verifier: Compiled,
    reentrant_receiver: Compiled,
}

fn test_contracts() -> &'static TestContracts {
    static CONTRACTS: OnceLock<TestContracts> = OnceLock::new();
    CONTRACTS.get_or_init(|| {
        let all = solc::compile(
            &[
                (
                    "MockVerifier.sol",
                    include_str!("../contracts/test/MockVerifier.sol"),
                ),
                (
                    "ReentrantReceiver.sol",
                    include_str!("../contracts/test/ReentrantReceiver.sol"),
                ),
            ],
            Optimizer::On { runs: 200 },
        )
        .expect("the test contracts compile");
        let take = |name: &str| {
            all.iter()
                .find(|c| c.name == name)
                .cloned()
                .unwrap_or_else(|| panic!("no contract {name} in the output"))
        };
        TestContracts {
            mock_verifier: take("MockVerifier"),
            reentrant_receiver: take("ReentrantReceiver"),
        }
    })
}

/// The BN254 scalar field modulus r.
fn scalar_field() -> U256 {
    U256::from_str_radix(
        "21888242871839275222246405745257275088548364400416034343698204186575808495617",
        10,
    )
    .unwrap()
}

/// A signed fixed-point value as an instance: x mod r.
fn field(x: i64) -> U256 {
    if x < 0 {
        scalar_field() - U256::from(x.unsigned_abs())
    } else {
        U256::from(x as u64)
    }
}

fn wei(x: u128) -> U256 {
    U256::from(x)
}

fn model_id(tag: u8) -> [u8; 32] {
    [tag; 32]
}

/// `values` packed into `LANE_BITS`-bit lanes, as zkinfer's circuits do.
fn words(values: &[i64]) -> Vec<U256> {
    words_of(values, LANE_BITS)
}

fn words_of(values: &[i64], bits: u8) -> Vec<U256> {
    let packed = pack_words(values, bits.into()).expect("test values fit their lanes");
    (packed.iter())
        .map(|w| U256::from_le_slice(w.to_repr().as_ref()))
        .collect()
}

/// Request `k`'s input words: distinct per k, with a negative value.
fn input(k: u64) -> Vec<U256> {
    words(&[k as i64, -(k as i64) - 1])
}

/// The outputs every test proves: a positive, a negative and a zero value.
const OUTPUT_VALUES: [i64; 3] = [7, -42, 0];

/// Their words, as a proof carries them.
fn outputs() -> Vec<U256> {
    words(&OUTPUT_VALUES)
}

/// Them as field elements, as outputOf returns them.
fn output_fields() -> Vec<U256> {
    OUTPUT_VALUES.iter().map(|&x| field(x)).collect()
}

fn instances(inputs: &[U256], outputs: &[U256]) -> Vec<U256> {
    inputs.iter().chain(outputs).copied().collect()
}

/// A field element that fills every byte of a word, derived from `tag`:
/// a check that compared less than the whole instance would miss a change.
fn element(tag: &str) -> U256 {
    let x = U256::from_be_bytes(keccak256(tag.as_bytes()).0) % scalar_field();
    // As the verifier's calldata begins with the first instance, one
    // starting with a selector of MockVerifier's own would reach that
    // function rather than its fallback.
    let head: [u8; 4] = x.to_be_bytes::<32>()[..4].try_into().unwrap();
    let own = [
        IMockVerifier::modeCall::SELECTOR,
        IMockVerifier::setModeCall::SELECTOR,
    ];
    assert!(!own.contains(&head), "{tag}: pick another tag");
    x
}

/// The model commitment of weights `k` of one architecture (private
/// weights): what a proof carries as instance 0.
fn weights(k: u64) -> U256 {
    element(&format!("weights {k}"))
}

/// The Poseidon commitment to request `k`'s input, as a hashed-input proof
/// carries it and `zkinfer commit-input` prints it.
fn hashed_input(k: u64) -> U256 {
    element(&format!("input {k}"))
}

/// `instances` behind the model commitment `c`.
fn committed(c: U256, instances: &[U256]) -> Vec<U256> {
    [&[c], instances].concat()
}

/// What the README's money flow pays for one fulfilled request.
#[derive(Debug, PartialEq, Eq)]
struct Split {
    prover: u128,
    payout: u128,
    contributors: Vec<u128>,
}

fn expected_split(fee: u128, royalty_bps: u16, shares: &[u16]) -> Split {
    let royalty = fee * u128::from(royalty_bps) / 10_000;
    let contributors: Vec<u128> = shares
        .iter()
        .map(|&s| royalty * u128::from(s) / 10_000)
        .collect();
    Split {
        prover: fee - royalty,
        payout: royalty - contributors.iter().sum::<u128>(),
        contributors,
    }
}

/// Ether balances and market credits of every actor, and the request count:
/// what a rejected call must leave exactly as it was.
#[derive(Debug, PartialEq, Eq)]
struct Ledger {
    eth: Vec<(Address, U256)>,
    credits: Vec<(Address, U256)>,
    request_count: U256,
}

/// A deployed market and MockVerifier, and funded actors.
struct World {
    evm: Evm,
    market: Market,
    verifier: Address,
    deployer: Address,
    creator: Address,
    payout: Address,
    consumer: Address,
    prover: Address,
    stranger: Address,
    contributors: [Address; 3],
}

impl World {
    fn new() -> World {
        let mut evm = Evm::new();
        let deployer = Address::repeat_byte(0xd0);
        let creator = Address::repeat_byte(0xc0);
        let payout = Address::repeat_byte(0xa0);
        let consumer = Address::repeat_byte(0xb0);
        let prover = Address::repeat_byte(0xe0);
        let stranger = Address::repeat_byte(0x50);
        let contributors = [
            Address::repeat_byte(0x71),
            Address::repeat_byte(0x72),
            Address::repeat_byte(0x73),
        ];
        for who in [deployer, creator, payout, consumer, prover, stranger]
            .into_iter()
            .chain(contributors)
        {
            evm.fund(who, wei(START_BALANCE));
        }
        let (market, _) =
            Market::deploy(&mut evm, deployer, market_compiled()).expect("market deploys");
        let verifier = evm
            .deploy(deployer, test_contracts().mock_verifier.bytecode.clone())
            .expect("MockVerifier deploys")
            .address;
        World {
            evm,
            market,
            verifier,
            deployer,
            creator,
            payout,
            consumer,
            prover,
            stranger,
            contributors,
        }
    }

    fn actors(&self) -> Vec<Address> {
        let mut all = vec![
            self.market.address,
            self.creator,
            self.payout,
            self.consumer,
            self.prover,
            self.stranger,
        ];
        all.extend(self.contributors);
        all
    }

    fn registration(&self, tag: u8, contributors: &[(Address, u16)]) -> Registration {
        Registration {
            model_id: model_id(tag),
            verifier: self.verifier,
            fee: wei(FEE),
            royalty_bps: ROYALTY_BPS,
            payout: self.payout,
            num_inputs: NUM_INPUTS,
            num_outputs: NUM_OUTPUTS,
            lane_bits: LANE_BITS,
            weights_commitment: [0; 32],
            input_hashed: false,
            contributors: contributors.to_vec(),
        }
    }

    /// Model `tag` without contributors, with the model commitment
    /// `weights` (zero: fixed weights) and its input hashed or not.
    fn layout_registration(&self, tag: u8, weights: U256, input_hashed: bool) -> Registration {
        Registration {
            weights_commitment: weights.to_be_bytes(),
            input_hashed,
            ..self.registration(tag, &[])
        }
    }

    fn three_contributors(&self) -> Vec<(Address, u16)> {
        self.contributors.iter().copied().zip(SHARES).collect()
    }

    fn register(&mut self, reg: &Registration) {
        let out = self
            .market
            .register(&mut self.evm, self.creator, reg)
            .unwrap();
        assert!(
            out.success,
            "registerModel failed: {}",
            failure_reason(&out)
        );
    }

    /// Registers model `tag` with the three contributors.
    fn register_split_model(&mut self, tag: u8) -> [u8; 32] {
        let reg = self.registration(tag, &self.three_contributors());
        self.register(&reg);
        reg.model_id
    }

    /// The consumer requests an inference on `inputs`, deadline TTL from now.
    fn request(&mut self, model: [u8; 32], inputs: &[U256]) -> U256 {
        self.request_committed(model, input_commitment(inputs))
    }

    /// The consumer requests an inference on the input with `commitment`
    /// (a hashed input's Poseidon commitment, say), deadline TTL from now.
    fn request_committed(&mut self, model: [u8; 32], commitment: [u8; 32]) -> U256 {
        let deadline = self.evm.timestamp() + TTL;
        let (out, id) = self
            .market
            .request(
                &mut self.evm,
                self.consumer,
                model,
                commitment,
                deadline,
                wei(FEE),
            )
            .unwrap();
        assert!(
            out.success,
            "requestInference failed: {}",
            failure_reason(&out)
        );
        id.expect("a request id")
    }

    fn fulfill(&mut self, id: U256, instances: &[U256], proof: &[u8]) -> Outcome {
        self.market
            .fulfill(&mut self.evm, self.prover, id, instances, proof)
            .unwrap()
    }

    fn fulfill_ok(&mut self, id: U256, inputs: &[U256]) -> Outcome {
        let out = self.fulfill(id, &instances(inputs, &outputs()), VALID_PROOF);
        assert!(out.success, "fulfill failed: {}", failure_reason(&out));
        out
    }

    fn credit(&mut self, who: Address) -> U256 {
        self.market.balance_of(&mut self.evm, who).unwrap()
    }

    fn eth(&self, who: Address) -> U256 {
        self.evm.balance(who)
    }

    fn status(&mut self, id: U256) -> u8 {
        self.market.request_of(&mut self.evm, id).unwrap().status
    }

    fn ledger(&mut self) -> Ledger {
        let actors = self.actors();
        Ledger {
            eth: actors.iter().map(|&a| (a, self.eth(a))).collect(),
            credits: actors.iter().map(|&a| (a, self.credit(a))).collect(),
            request_count: self.market.request_count(&mut self.evm).unwrap(),
        }
    }

    /// `who` has `expected` credited, withdraws it, and its ether balance
    /// grows by exactly that.
    fn withdraw_exact(&mut self, who: Address, expected: u128) {
        assert_eq!(self.credit(who), wei(expected), "credit of {who}");
        let before = self.eth(who);
        let out = self.market.withdraw(&mut self.evm, who).unwrap();
        assert!(
            out.success,
            "withdraw by {who} failed: {}",
            failure_reason(&out)
        );
        assert_eq!(
            self.eth(who) - before,
            wei(expected),
            "ether received by {who}"
        );
        assert_eq!(
            self.credit(who),
            U256::ZERO,
            "credit of {who} after withdrawing"
        );
    }

    fn set_verifier_mode(&mut self, mode: u8) {
        let call = IMockVerifier::setModeCall { newMode: mode };
        let out = self
            .evm
            .transact(self.deployer, self.verifier, U256::ZERO, call.abi_encode())
            .unwrap();
        assert!(out.success, "setMode failed");
    }

    fn deploy_receiver(&mut self, max_reentries: u64) -> Address {
        let mut code = test_contracts().reentrant_receiver.bytecode.clone();
        code.extend((self.market.address, U256::from(max_reentries)).abi_encode_params());
        self.evm
            .deploy(self.deployer, code)
            .expect("ReentrantReceiver deploys")
            .address
    }

    /// A transaction to a test contract from the deployer (any EOA will do:
    /// what matters is that the contract is msg.sender in the market).
    fn drive<C: SolCall>(&mut self, contract: Address, value: U256, call: C) -> Outcome {
        self.evm
            .transact(self.deployer, contract, value, call.abi_encode())
            .unwrap()
    }

    fn read<C: SolCall>(&mut self, contract: Address, call: C) -> C::Return {
        let out = self
            .evm
            .call(self.deployer, contract, call.abi_encode())
            .unwrap();
        assert!(out.success, "view call failed");
        C::abi_decode_returns(&out.output).unwrap()
    }
}

/// The call failed with the custom error `E` and changed no balance, credit
/// or request count.
fn assert_rejected<E: SolError>(w: &mut World, before: &Ledger, out: &Outcome, what: &str) {
    assert!(
        reverted_with::<E>(out),
        "{what}: expected {}, got {}",
        E::SIGNATURE,
        failure_reason(out)
    );
    assert_eq!(&w.ledger(), before, "{what}: a rejected call moved money");
}

/// The single log of event `E` the market emitted in `out`.
fn market_event<E: SolEvent>(w: &World, out: &Outcome) -> E {
    let logs: Vec<&Log> = out
        .logs
        .iter()
        .filter(|l| l.address == w.market.address && l.topics().first() == Some(&E::SIGNATURE_HASH))
        .collect();
    assert_eq!(logs.len(), 1, "expected one {} log", E::SIGNATURE);
    E::decode_log(logs[0]).expect("the log decodes").data
}

fn output_hash(outputs: &[U256]) -> FixedBytes<32> {
    let words: Vec<u8> = outputs.iter().flat_map(|x| x.to_be_bytes::<32>()).collect();
    keccak256(words)
}

// -------------------------------------------------------------------------
// Royalty accounting
// -------------------------------------------------------------------------

#[test]
fn royalties_are_split_to_the_wei_and_the_market_ends_empty() {
    const N: u64 = 3;
    let mut w = World::new();
    let model = w.register_split_model(1);
    assert_eq!(
        w.market.contributors_of(&mut w.evm, model).unwrap(),
        w.three_contributors()
    );

    let split = expected_split(FEE, ROYALTY_BPS, &SHARES);
    // The case under test leaves rounding dust, worked out by hand:
    // royalty = floor(FEE / 4) = 250_000_000_000_001, parts 3333/3333/3334 of it.
    assert_eq!(
        split,
        Split {
            prover: 750_000_000_000_006,
            payout: 1,
            contributors: vec![83_325_000_000_000, 83_325_000_000_000, 83_350_000_000_000],
        }
    );

    let consumer_before = w.eth(w.consumer);
    let ids: Vec<U256> = (0..N).map(|k| w.request(model, &input(k))).collect();
    assert_eq!(
        ids,
        (1..=N).map(U256::from).collect::<Vec<_>>(),
        "ids start at 1"
    );
    assert_eq!(
        consumer_before - w.eth(w.consumer),
        wei(FEE * u128::from(N))
    );
    assert_eq!(
        w.eth(w.market.address),
        wei(FEE * u128::from(N)),
        "escrow held"
    );
    for (k, &id) in ids.iter().enumerate() {
        w.fulfill_ok(id, &input(k as u64));
        assert_eq!(w.status(id), 2, "request {id} fulfilled");
    }

    let n = u128::from(N);
    assert_eq!(
        w.credit(w.creator),
        U256::ZERO,
        "the creator is paid only as payout"
    );
    assert_eq!(w.credit(w.consumer), U256::ZERO);
    let contributors = w.contributors;
    for (c, part) in contributors.into_iter().zip(&split.contributors) {
        w.withdraw_exact(c, n * part);
    }
    w.withdraw_exact(w.payout, n * split.payout);
    w.withdraw_exact(w.prover, n * split.prover);
    assert_eq!(
        w.eth(w.market.address),
        U256::ZERO,
        "every wei of every fee paid out"
    );
}

#[test]
fn royalty_without_contributors_goes_to_payout() {
    let mut w = World::new();
    for (tag, bps) in [(10u8, 0u16), (11, ROYALTY_BPS), (12, 10_000)] {
        let mut reg = w.registration(tag, &[]);
        reg.royalty_bps = bps;
        w.register(&reg);
        assert!(w
            .market
            .contributors_of(&mut w.evm, reg.model_id)
            .unwrap()
            .is_empty());
        for k in 0..2 {
            let id = w.request(reg.model_id, &input(k));
            w.fulfill_ok(id, &input(k));
        }
        let royalty = FEE * u128::from(bps) / 10_000;
        for (who, owed) in [(w.payout, 2 * royalty), (w.prover, 2 * (FEE - royalty))] {
            if owed == 0 {
                assert_eq!(w.credit(who), U256::ZERO, "royaltyBps {bps}");
            } else {
                w.withdraw_exact(who, owed);
            }
        }
        assert_eq!(w.eth(w.market.address), U256::ZERO, "royaltyBps {bps}");
    }
}

#[test]
fn a_free_model_pays_nobody_and_records_outputs() {
    let mut w = World::new();
    let mut reg = w.registration(13, &w.three_contributors());
    reg.fee = U256::ZERO;
    w.register(&reg);
    let deadline = w.evm.timestamp() + TTL;
    let (out, id) = w
        .market
        .request(
            &mut w.evm,
            w.consumer,
            reg.model_id,
            input_commitment(&input(0)),
            deadline,
            U256::ZERO,
        )
        .unwrap();
    assert!(out.success, "{}", failure_reason(&out));
    let id = id.unwrap();
    let before = w.ledger();
    w.fulfill_ok(id, &input(0));
    assert_eq!(w.ledger(), before, "a free inference credits nothing");
    assert_eq!(
        w.market.output_of(&mut w.evm, id).unwrap(),
        Some(output_fields())
    );
}

// -------------------------------------------------------------------------
// Outputs
// -------------------------------------------------------------------------

#[test]
fn outputs_are_recorded_only_after_fulfil() {
    let mut w = World::new();
    let model = w.register_split_model(1);
    let r = w.read(w.market.address, IMarketConstants::SCALAR_FIELDCall {});
    assert_eq!(r, scalar_field(), "the test's r is the contract's");

    let id = w.request(model, &input(0));
    assert_eq!(
        w.market.output_of(&mut w.evm, id).unwrap(),
        None,
        "open request"
    );
    assert_eq!(w.market.signed_output_of(&mut w.evm, id).unwrap(), None);
    assert_eq!(
        w.market.output_of(&mut w.evm, U256::from(99)).unwrap(),
        None,
        "no such request"
    );
    assert_eq!(w.market.output_hash_of(&mut w.evm, id).unwrap(), [0; 32]);

    w.fulfill_ok(id, &input(0));
    let recorded = w
        .market
        .output_of(&mut w.evm, id)
        .unwrap()
        .expect("outputs after fulfil");
    assert_eq!(recorded, output_fields());
    assert_eq!(
        recorded[1],
        scalar_field() - U256::from(42),
        "-42 is stored as r - 42"
    );
    let signed = w
        .market
        .signed_output_of(&mut w.evm, id)
        .unwrap()
        .expect("signed outputs");
    let want: Vec<i128> = OUTPUT_VALUES.iter().map(|&x| i128::from(x)).collect();
    assert_eq!(signed, want);
    assert_eq!(
        w.market.output_hash_of(&mut w.evm, id).unwrap(),
        output_hash(&outputs()).0
    );

    let record = w.market.request_of(&mut w.evm, id).unwrap();
    assert_eq!(record.prover, w.prover);
    assert_eq!(record.requester, w.consumer);
    assert_eq!(record.commitment.0, input_commitment(&input(0)));
    assert_eq!(record.fee, wei(FEE));
}

// -------------------------------------------------------------------------
// Rejections: each with its error, and no money moving
// -------------------------------------------------------------------------

#[test]
fn an_invalid_proof_is_rejected() {
    let mut w = World::new();
    let model = w.register_split_model(1);
    let id = w.request(model, &input(0));
    let good = instances(&input(0), &outputs());
    let before = w.ledger();

    let out = w.fulfill(id, &good, INVALID_PROOF);
    assert_rejected::<IZkinferMarket::ProofRejected>(&mut w, &before, &out, "proof ending in 0x00");
    let out = w.fulfill(id, &good, &[]);
    assert_rejected::<IZkinferMarket::ProofRejected>(&mut w, &before, &out, "empty proof");
    w.set_verifier_mode(MODE_REJECT_ALL);
    let out = w.fulfill(id, &good, VALID_PROOF);
    assert_rejected::<IZkinferMarket::ProofRejected>(
        &mut w,
        &before,
        &out,
        "verifier rejecting all",
    );
    assert_eq!(w.status(id), 1, "still open");
    assert_eq!(w.market.output_of(&mut w.evm, id).unwrap(), None);

    // The verifier's verdict is what decides: one that accepts everything
    // accepts the proof ending in 0x00 too.
    w.set_verifier_mode(MODE_ACCEPT_ALL);
    let out = w.fulfill(id, &good, INVALID_PROOF);
    assert!(out.success, "{}", failure_reason(&out));
    w.set_verifier_mode(MODE_LAST_BYTE);
}

#[test]
fn a_proof_for_another_input_is_rejected() {
    let mut w = World::new();
    let model = w.register_split_model(1);
    let a = w.request(model, &input(0));
    let b = w.request(model, &input(1));
    let before = w.ledger();

    let out = w.fulfill(b, &instances(&input(0), &outputs()), VALID_PROOF);
    assert_rejected::<IZkinferMarket::InputMismatch>(
        &mut w,
        &before,
        &out,
        "request a's input for b",
    );
    // Request b's input values [1, -2], in the other order.
    let swapped = words(&[-2, 1]);
    let out = w.fulfill(b, &instances(&swapped, &outputs()), VALID_PROOF);
    assert_rejected::<IZkinferMarket::InputMismatch>(&mut w, &before, &out, "inputs reordered");
    // Shifting one output word into the inputs keeps the count but not the input.
    let shifted: Vec<U256> = instances(&input(1), &outputs())[1..]
        .iter()
        .copied()
        .chain([U256::ZERO])
        .collect();
    let out = w.fulfill(b, &shifted, VALID_PROOF);
    assert_rejected::<IZkinferMarket::InputMismatch>(&mut w, &before, &out, "instances shifted");
    assert_eq!((w.status(a), w.status(b)), (1, 1), "both still open");

    w.fulfill_ok(b, &input(1));
    w.fulfill_ok(a, &input(0));
}

#[test]
fn a_wrong_instance_count_is_rejected() {
    let mut w = World::new();
    let model = w.register_split_model(1);
    let id = w.request(model, &input(0));
    let good = instances(&input(0), &outputs());
    let before = w.ledger();

    for len in [0, good.len() - 1] {
        let out = w.fulfill(id, &good[..len], VALID_PROOF);
        assert_rejected::<IZkinferMarket::WrongInstanceCount>(
            &mut w,
            &before,
            &out,
            &format!("{len} instances"),
        );
    }
    let mut longer = good.clone();
    longer.push(U256::from(1));
    let out = w.fulfill(id, &longer, VALID_PROOF);
    assert_rejected::<IZkinferMarket::WrongInstanceCount>(
        &mut w,
        &before,
        &out,
        "one instance too many",
    );
    assert_eq!(w.status(id), 1);
    w.fulfill_ok(id, &input(0));
}

#[test]
fn a_replayed_proof_is_rejected() {
    let mut w = World::new();
    let model = w.register_split_model(1);
    let id = w.request(model, &input(0));
    w.fulfill_ok(id, &input(0));
    let before = w.ledger();

    let good = instances(&input(0), &outputs());
    let out = w.fulfill(id, &good, VALID_PROOF);
    assert_rejected::<IZkinferMarket::NotOpen>(&mut w, &before, &out, "the same proof again");
    let other_outputs = instances(&input(0), &words(&[1, 2, 3]));
    let out = w.fulfill(id, &other_outputs, VALID_PROOF);
    assert_rejected::<IZkinferMarket::NotOpen>(&mut w, &before, &out, "another answer");
    assert_eq!(
        w.market.output_of(&mut w.evm, id).unwrap(),
        Some(output_fields()),
        "first answer kept"
    );

    // Nor can a fulfilled request be refunded once its deadline passes.
    w.evm.advance_time(TTL + 1);
    let out = w.market.refund(&mut w.evm, w.consumer, id).unwrap();
    assert_rejected::<IZkinferMarket::NotOpen>(&mut w, &before, &out, "refund after fulfil");
    let out = w.fulfill(U256::from(99), &good, VALID_PROOF);
    assert_rejected::<IZkinferMarket::UnknownRequest>(&mut w, &before, &out, "no such request");
}

#[test]
fn fulfil_after_the_deadline_is_rejected() {
    let mut w = World::new();
    let model = w.register_split_model(1);
    let on_time = w.request(model, &input(0));
    let late = w.request(model, &input(1));

    // At the deadline itself a proof is still accepted.
    w.evm.advance_time(TTL);
    w.fulfill_ok(on_time, &input(0));
    w.evm.advance_time(1);
    let before = w.ledger();
    let out = w.fulfill(late, &instances(&input(1), &outputs()), VALID_PROOF);
    assert_rejected::<IZkinferMarket::Expired>(&mut w, &before, &out, "one second late");
    assert_eq!(w.status(late), 1, "still open, hence refundable");
}

#[test]
fn bad_requests_are_rejected() {
    let mut w = World::new();
    let model = w.register_split_model(1);
    let commitment = input_commitment(&input(0));
    let deadline = w.evm.timestamp() + TTL;
    let before = w.ledger();

    for fee in [0, FEE - 1, FEE + 1, 2 * FEE] {
        let (out, id) = w
            .market
            .request(
                &mut w.evm,
                w.consumer,
                model,
                commitment,
                deadline,
                wei(fee),
            )
            .unwrap();
        assert_eq!(id, None);
        assert_rejected::<IZkinferMarket::WrongFee>(&mut w, &before, &out, &format!("fee {fee}"));
    }
    let (out, _) = w
        .market
        .request(
            &mut w.evm,
            w.consumer,
            model_id(77),
            commitment,
            deadline,
            wei(FEE),
        )
        .unwrap();
    assert_rejected::<IZkinferMarket::UnknownModel>(&mut w, &before, &out, "unregistered model");
    let now = w.evm.timestamp();
    let (out, _) = w
        .market
        .request(&mut w.evm, w.consumer, model, commitment, now, wei(FEE))
        .unwrap();
    assert_rejected::<IZkinferMarket::BadDeadline>(&mut w, &before, &out, "deadline now");
    assert_eq!(w.status(U256::from(1)), 0, "no request was made");

    let (out, id) = w
        .market
        .request(
            &mut w.evm,
            w.consumer,
            model,
            commitment,
            deadline,
            wei(FEE),
        )
        .unwrap();
    assert!(
        out.success && id == Some(U256::from(1)),
        "{}",
        failure_reason(&out)
    );
}

#[test]
fn a_model_cannot_be_registered_twice() {
    let mut w = World::new();
    let model = w.register_split_model(1);
    let before = w.ledger();
    let original = w.market.model_of(&mut w.evm, model).unwrap();
    assert_eq!(
        (
            original.creator,
            original.verifier,
            original.payout,
            original.fee
        ),
        (w.creator, w.verifier, w.payout, wei(FEE))
    );
    assert_eq!(
        (
            original.royaltyBps,
            original.numInputs,
            original.numOutputs,
            original.laneBits
        ),
        (ROYALTY_BPS, NUM_INPUTS, NUM_OUTPUTS, LANE_BITS)
    );
    assert_eq!(
        (original.weightsCommitment.0, original.inputHashed),
        ([0; 32], false),
        "fixed weights, input words"
    );

    let mut hijack = w.layout_registration(1, weights(9), true);
    hijack.payout = w.stranger;
    hijack.fee = wei(1);
    for from in [w.creator, w.stranger] {
        let out = w.market.register(&mut w.evm, from, &hijack).unwrap();
        assert_rejected::<IZkinferMarket::ModelExists>(
            &mut w,
            &before,
            &out,
            "second registration",
        );
    }
    assert_eq!(
        w.market.model_of(&mut w.evm, model).unwrap(),
        original,
        "the record is unchanged"
    );
    assert_eq!(
        w.market.contributors_of(&mut w.evm, model).unwrap(),
        w.three_contributors()
    );
}

#[test]
fn bad_shares_and_bad_models_are_rejected() {
    let mut w = World::new();
    let before = w.ledger();
    let [c0, c1, c2] = w.contributors;
    let many = |n: usize, first_extra: u16| -> Vec<(Address, u16)> {
        let each = (10_000 / n) as u16;
        (0..n)
            .map(|i| {
                // Away from the precompiles' low addresses.
                let mut a = [0x99; 20];
                a[19] = i as u8;
                (
                    Address::from(a),
                    each + if i == 0 { first_extra } else { 0 },
                )
            })
            .collect()
    };
    let bad_shares: Vec<(&str, Vec<(Address, u16)>)> = vec![
        ("sum 9999", vec![(c0, 3_333), (c1, 3_333), (c2, 3_333)]),
        ("sum 10001", vec![(c0, 3_333), (c1, 3_334), (c2, 3_334)]),
        ("one contributor at 5000", vec![(c0, 5_000)]),
        ("shares of 0 only", vec![(c0, 0), (c1, 0)]),
        (
            "zero-address contributor",
            vec![(c0, 5_000), (Address::ZERO, 5_000)],
        ),
        ("65 contributors", many(65, (10_000 % 65) as u16)),
    ];
    for (what, contributors) in bad_shares {
        let reg = w.registration(2, &contributors);
        let out = w.market.register(&mut w.evm, w.creator, &reg).unwrap();
        assert_rejected::<IZkinferMarket::BadShares>(&mut w, &before, &out, what);
    }
    // Lengths that differ cannot be written as pairs: edit the calldata.
    let mut call = register_call(&w.registration(2, &w.three_contributors()));
    call.sharesBps.pop();
    let out = w
        .evm
        .transact(w.creator, w.market.address, U256::ZERO, call.abi_encode())
        .unwrap();
    assert_rejected::<IZkinferMarket::BadShares>(&mut w, &before, &out, "one share short");

    let base = w.registration(2, &[]);
    let bad_models: Vec<(&str, Registration)> = vec![
        (
            "royalty above 100%",
            Registration {
                royalty_bps: 10_001,
                ..base.clone()
            },
        ),
        (
            "no payout",
            Registration {
                payout: Address::ZERO,
                ..base.clone()
            },
        ),
        (
            "verifier without code",
            Registration {
                verifier: w.stranger,
                ..base.clone()
            },
        ),
        (
            "no inputs",
            Registration {
                num_inputs: 0,
                ..base.clone()
            },
        ),
        (
            "no outputs",
            Registration {
                num_outputs: 0,
                ..base.clone()
            },
        ),
        (
            "0-bit lanes",
            Registration {
                lane_bits: 0,
                ..base.clone()
            },
        ),
        (
            "65-bit lanes",
            Registration {
                lane_bits: 65,
                ..base.clone()
            },
        ),
    ];
    for (what, reg) in bad_models {
        let out = w.market.register(&mut w.evm, w.creator, &reg).unwrap();
        assert_rejected::<IZkinferMarket::BadModel>(&mut w, &before, &out, what);
    }
    assert_eq!(
        w.market.model_of(&mut w.evm, model_id(2)).unwrap().verifier,
        Address::ZERO
    );

    // The bounds themselves are accepted: 64 contributors, a repeated one, a 0 share.
    let max = w.read(w.market.address, IMarketConstants::MAX_CONTRIBUTORSCall {});
    assert_eq!(max, U256::from(64));
    let reg = w.registration(3, &many(64, (10_000 % 64) as u16));
    w.register(&reg);
    assert_eq!(
        w.market
            .contributors_of(&mut w.evm, reg.model_id)
            .unwrap()
            .len(),
        64
    );
    let reg = w.registration(4, &[(c0, 4_000), (c0, 6_000), (c1, 0)]);
    w.register(&reg);
    let id = w.request(reg.model_id, &input(0));
    w.fulfill_ok(id, &input(0));
    let split = expected_split(FEE, ROYALTY_BPS, &[4_000, 6_000, 0]);
    w.withdraw_exact(c0, split.contributors[0] + split.contributors[1]);
    assert_eq!(w.credit(c1), U256::ZERO, "a 0 share is paid nothing");
    w.withdraw_exact(w.payout, split.payout);
}

// -------------------------------------------------------------------------
// Model commitments (private weights) and hashed inputs
// -------------------------------------------------------------------------

#[test]
fn a_proof_for_other_weights_is_refused_with_model_mismatch() {
    let mut w = World::new();
    // Only the market's check can refuse: the verifier accepts anything,
    // as a verifier shared by every model of one architecture would
    // accept a valid proof for any of their weights.
    w.set_verifier_mode(MODE_ACCEPT_ALL);
    let mine = w.layout_registration(1, weights(1), false);
    let theirs = w.layout_registration(2, weights(2), false);
    w.register(&mine);
    w.register(&theirs);
    let record = w.market.model_of(&mut w.evm, mine.model_id).unwrap();
    assert_eq!(
        (
            U256::from_be_bytes(record.weightsCommitment.0),
            record.inputHashed
        ),
        (weights(1), false)
    );
    assert_eq!(record.verifier, w.verifier, "one verifier for both models");

    let id = w.request(mine.model_id, &input(0));
    let other = w.request(theirs.model_id, &input(0));
    let before = w.ledger();
    let body = instances(&input(0), &outputs());
    for (what, c) in [
        ("the other model's weights", weights(2)),
        ("the commitment off by one", weights(1) + U256::from(1)),
        (
            "the commitment plus r (unreduced)",
            weights(1) + scalar_field(),
        ),
        ("a zero commitment", U256::ZERO),
    ] {
        let out = w.fulfill(id, &committed(c, &body), INVALID_PROOF);
        assert_rejected::<IZkinferMarket::ModelMismatch>(&mut w, &before, &out, what);
        assert_eq!(w.status(id), 1, "{what}: still open");
    }
    // The right weights for the other model's request, too.
    let out = w.fulfill(other, &committed(weights(1), &body), INVALID_PROOF);
    assert_rejected::<IZkinferMarket::ModelMismatch>(&mut w, &before, &out, "mine for theirs");
    assert_eq!(w.market.output_of(&mut w.evm, id).unwrap(), None);

    let out = w.fulfill(id, &committed(weights(1), &body), INVALID_PROOF);
    assert!(out.success, "{}", failure_reason(&out));
    assert_eq!((w.status(id), w.status(other)), (2, 1));
    assert_eq!(
        w.market.output_of(&mut w.evm, id).unwrap(),
        Some(output_fields())
    );
    let split = expected_split(FEE, ROYALTY_BPS, &[]);
    w.withdraw_exact(w.prover, split.prover);
    w.withdraw_exact(w.payout, split.payout);
    assert_eq!(w.eth(w.market.address), wei(FEE), "the other escrow stays");
}

#[test]
fn a_hashed_input_binds_the_request_by_its_commitment() {
    let mut w = World::new();
    w.set_verifier_mode(MODE_ACCEPT_ALL);
    let reg = w.layout_registration(1, U256::ZERO, true);
    w.register(&reg);
    let record = w.market.model_of(&mut w.evm, reg.model_id).unwrap();
    assert_eq!(
        (record.weightsCommitment.0, record.inputHashed),
        ([0; 32], true)
    );

    let id = w.request_committed(reg.model_id, hashed_input(0).to_be_bytes());
    let before = w.ledger();
    // The model's two inputs are one word, so their words take the place
    // of the commitment with the same instance count.
    assert_eq!(input(0).len(), 1);
    for (what, x) in [
        ("another input's commitment", hashed_input(1)),
        ("the commitment off by one", hashed_input(0) + U256::from(1)),
        (
            "the commitment plus r (unreduced)",
            hashed_input(0) + scalar_field(),
        ),
        ("the input words instead of their commitment", input(0)[0]),
        (
            "the keccak commitment of the words",
            U256::from_be_bytes(input_commitment(&input(0))),
        ),
    ] {
        let out = w.fulfill(id, &instances(&[x], &outputs()), INVALID_PROOF);
        assert_rejected::<IZkinferMarket::InputMismatch>(&mut w, &before, &out, what);
        assert_eq!(w.status(id), 1, "{what}: still open");
    }

    let out = w.fulfill(
        id,
        &instances(&[hashed_input(0)], &outputs()),
        INVALID_PROOF,
    );
    assert!(out.success, "{}", failure_reason(&out));
    let signed = w.market.signed_output_of(&mut w.evm, id).unwrap().unwrap();
    let want: Vec<i128> = OUTPUT_VALUES.iter().map(|&x| i128::from(x)).collect();
    assert_eq!(signed, want);
    let split = expected_split(FEE, ROYALTY_BPS, &[]);
    w.withdraw_exact(w.prover, split.prover);
    w.withdraw_exact(w.payout, split.payout);
    assert_eq!(w.eth(w.market.address), U256::ZERO);
}

/// Values no instance can be: the scalar field's modulus `r` and above.
fn outside_the_field(r: U256) -> [(&'static str, U256); 3] {
    [
        ("r", r),
        ("r + 1", r + U256::from(1)),
        ("2^256 - 1", U256::MAX),
    ]
}

#[test]
fn a_weights_commitment_outside_the_field_is_refused() {
    let mut w = World::new();
    let before = w.ledger();
    let r = scalar_field();
    for (what, c) in outside_the_field(r) {
        for hashed in [false, true] {
            let reg = w.layout_registration(1, c, hashed);
            let out = w.market.register(&mut w.evm, w.creator, &reg).unwrap();
            assert_rejected::<IZkinferMarket::BadModel>(&mut w, &before, &out, what);
        }
    }
    assert_eq!(
        w.market.model_of(&mut w.evm, model_id(1)).unwrap().verifier,
        Address::ZERO,
        "not registered"
    );
    // The largest element is a commitment like any other.
    let reg = w.layout_registration(1, r - U256::from(1), false);
    w.register(&reg);
    let id = w.request(reg.model_id, &input(0));
    let good = committed(r - U256::from(1), &instances(&input(0), &outputs()));
    let out = w.fulfill(id, &good, VALID_PROOF);
    assert!(out.success, "{}", failure_reason(&out));
}

#[test]
fn a_hashed_input_commitment_outside_the_field_cannot_be_requested() {
    let mut w = World::new();
    let hashed = w.layout_registration(1, weights(1), true);
    let plain = w.registration(2, &[]);
    w.register(&hashed);
    w.register(&plain);
    let deadline = w.evm.timestamp() + TTL;
    let before = w.ledger();
    let r = scalar_field();
    for (what, c) in outside_the_field(r) {
        let (out, id) = w
            .market
            .request(
                &mut w.evm,
                w.consumer,
                hashed.model_id,
                c.to_be_bytes(),
                deadline,
                wei(FEE),
            )
            .unwrap();
        assert_eq!(id, None);
        assert_rejected::<IZkinferMarket::BadInputCommitment>(&mut w, &before, &out, what);
    }
    assert_eq!(w.status(U256::from(1)), 0, "no request was made");
    // A keccak commitment is any 32 bytes: the same value is a fine
    // commitment to input words.
    let id = w.request_committed(plain.model_id, U256::MAX.to_be_bytes());
    assert_eq!((id, w.status(id)), (U256::from(1), 1));
    let id = w.request_committed(hashed.model_id, (r - U256::from(1)).to_be_bytes());
    assert_eq!(w.status(id), 1, "r - 1 is an element");
}

#[test]
fn the_instance_count_follows_the_registered_layout() {
    let mut w = World::new();
    w.set_verifier_mode(MODE_ACCEPT_ALL);
    // 20 inputs of 16 bits are two words, so a hashed input (one instance)
    // changes the count.
    let values: Vec<i64> = (0..20).map(|i| i - 10).collect();
    let input_words = words(&values);
    assert_eq!(input_words.len(), 2);
    let outs = outputs();
    let c = weights(1);
    let h = hashed_input(0);
    /// One registered layout: its honest instances and the request's commitment.
    struct Case {
        what: &'static str,
        weights: U256,
        hashed: bool,
        instances: Vec<U256>,
        commitment: [u8; 32],
    }
    let words_commitment = input_commitment(&input_words);
    let layouts = [
        Case {
            what: "fixed weights, input words",
            weights: U256::ZERO,
            hashed: false,
            instances: instances(&input_words, &outs),
            commitment: words_commitment,
        },
        Case {
            what: "private weights, input words",
            weights: c,
            hashed: false,
            instances: committed(c, &instances(&input_words, &outs)),
            commitment: words_commitment,
        },
        Case {
            what: "fixed weights, hashed input",
            weights: U256::ZERO,
            hashed: true,
            instances: instances(&[h], &outs),
            commitment: h.to_be_bytes(),
        },
        Case {
            what: "private weights, hashed input",
            weights: c,
            hashed: true,
            instances: committed(c, &instances(&[h], &outs)),
            commitment: h.to_be_bytes(),
        },
    ];
    let lens: Vec<usize> = layouts.iter().map(|l| l.instances.len()).collect();
    assert_eq!(lens, [3, 4, 2, 3]);

    for (tag, case) in layouts.iter().enumerate() {
        let (what, good) = (case.what, &case.instances);
        let mut reg = w.layout_registration(tag as u8 + 1, case.weights, case.hashed);
        reg.num_inputs = values.len() as u32;
        w.register(&reg);
        let id = w.request_committed(reg.model_id, case.commitment);
        let before = w.ledger();
        let mut longer = good.clone();
        longer.push(U256::ZERO);
        let mut wrong: Vec<(String, Vec<U256>)> = vec![
            ("one instance short".into(), good[..good.len() - 1].to_vec()),
            ("one instance too many".into(), longer),
            ("none".into(), vec![]),
        ];
        // Every other layout's honest instances, where the count differs.
        for other in &layouts {
            if other.instances.len() != good.len() {
                let label = format!("instances laid out for {}", other.what);
                wrong.push((label, other.instances.clone()));
            }
        }
        for (how, instances) in &wrong {
            let out = w.fulfill(id, instances, INVALID_PROOF);
            let label = format!("{what}: {how}");
            assert_rejected::<IZkinferMarket::WrongInstanceCount>(&mut w, &before, &out, &label);
            assert_eq!(w.status(id), 1, "{label}: still open");
        }
        let out = w.fulfill(id, good, INVALID_PROOF);
        assert!(out.success, "{what}: {}", failure_reason(&out));
        assert_eq!(
            w.market.output_of(&mut w.evm, id).unwrap(),
            Some(output_fields()),
            "{what}"
        );
    }
}

// -------------------------------------------------------------------------
// Refunds
// -------------------------------------------------------------------------

#[test]
fn refund_after_the_deadline_returns_the_escrow() {
    let mut w = World::new();
    let model = w.register_split_model(1);
    let start = w.eth(w.consumer);
    let id = w.request(model, &input(0));
    let before = w.ledger();

    let out = w.market.refund(&mut w.evm, w.consumer, id).unwrap();
    assert_rejected::<IZkinferMarket::NotExpired>(&mut w, &before, &out, "refund right away");
    w.evm.advance_time(TTL);
    let out = w.market.refund(&mut w.evm, w.consumer, id).unwrap();
    assert_rejected::<IZkinferMarket::NotExpired>(&mut w, &before, &out, "refund at the deadline");
    let out = w
        .market
        .refund(&mut w.evm, w.consumer, U256::from(99))
        .unwrap();
    assert_rejected::<IZkinferMarket::UnknownRequest>(&mut w, &before, &out, "no such request");

    // Anyone may trigger a refund; only the requester is credited.
    w.evm.advance_time(1);
    let out = w.market.refund(&mut w.evm, w.stranger, id).unwrap();
    assert!(out.success, "{}", failure_reason(&out));
    let event = market_event::<IZkinferMarket::Refunded>(&w, &out);
    assert_eq!(
        (event.requestId, event.requester, event.amount),
        (id, w.consumer, wei(FEE))
    );
    assert_eq!(w.status(id), 3, "refunded");
    assert_eq!(w.credit(w.stranger), U256::ZERO);
    let refunded = w.ledger();

    let out = w.market.refund(&mut w.evm, w.consumer, id).unwrap();
    assert_rejected::<IZkinferMarket::NotOpen>(&mut w, &refunded, &out, "second refund");
    // Even the verifier accepting everything cannot fulfil a refunded request.
    w.set_verifier_mode(MODE_ACCEPT_ALL);
    let out = w.fulfill(id, &instances(&input(0), &outputs()), VALID_PROOF);
    assert_rejected::<IZkinferMarket::NotOpen>(&mut w, &refunded, &out, "fulfil after refund");
    assert_eq!(w.market.output_of(&mut w.evm, id).unwrap(), None);

    w.withdraw_exact(w.consumer, FEE);
    assert_eq!(w.eth(w.consumer), start, "the requester is made whole");
    assert_eq!(w.eth(w.market.address), U256::ZERO);
    for who in [w.prover, w.payout] {
        assert_eq!(w.credit(who), U256::ZERO);
    }
}

// -------------------------------------------------------------------------
// Withdrawals
// -------------------------------------------------------------------------

#[test]
fn each_balance_is_withdrawn_once_and_only_by_its_owner() {
    let mut w = World::new();
    let reg = w.registration(1, &[]);
    w.register(&reg);
    let id = w.request(reg.model_id, &input(0));
    w.fulfill_ok(id, &input(0));
    let split = expected_split(FEE, ROYALTY_BPS, &[]);

    // An account that was never credited cannot withdraw, and its attempt
    // takes nothing of the prover's credit.
    let before = w.ledger();
    for who in [w.stranger, w.consumer, w.creator] {
        let out = w.market.withdraw(&mut w.evm, who).unwrap();
        assert_rejected::<IZkinferMarket::NothingToWithdraw>(
            &mut w,
            &before,
            &out,
            "withdraw without balance",
        );
    }
    assert_eq!(w.credit(w.prover), wei(split.prover));

    let out = w.market.withdraw(&mut w.evm, w.prover).unwrap();
    let event = market_event::<IZkinferMarket::Withdrawn>(&w, &out);
    assert_eq!((event.account, event.amount), (w.prover, wei(split.prover)));
    assert_eq!(w.credit(w.prover), U256::ZERO);
    let after = w.ledger();
    let out = w.market.withdraw(&mut w.evm, w.prover).unwrap();
    assert_rejected::<IZkinferMarket::NothingToWithdraw>(&mut w, &after, &out, "second withdraw");

    assert_eq!(
        w.eth(w.market.address),
        wei(split.payout),
        "the payout's credit stays"
    );
    w.withdraw_exact(w.payout, split.payout);
    assert_eq!(w.eth(w.market.address), U256::ZERO);
}

#[test]
fn a_reentrant_withdraw_fails_and_drains_nothing() {
    let mut w = World::new();
    let receiver = w.deploy_receiver(3);
    let mut reg = w.registration(1, &[]);
    reg.payout = receiver;
    w.register(&reg);
    let split = expected_split(FEE, ROYALTY_BPS, &[]);

    // Request 1 fulfilled by the receiver (credited royalty + prover share),
    // request 2 by the honest prover (credited the prover share).
    let mine = w.request(reg.model_id, &input(0));
    let theirs = w.request(reg.model_id, &input(1));
    let call = IReentrantReceiver::fulfillCall {
        requestId: mine,
        instances: instances(&input(0), &outputs()),
        proof: VALID_PROOF.to_vec().into(),
    };
    let out = w.drive(receiver, U256::ZERO, call);
    assert!(
        out.success,
        "fulfil through the receiver: {}",
        failure_reason(&out)
    );
    assert_eq!(
        w.market.request_of(&mut w.evm, mine).unwrap().prover,
        receiver
    );
    w.fulfill_ok(theirs, &input(1));

    let owed = 2 * split.payout + split.prover;
    assert_eq!(w.credit(receiver), wei(owed));
    assert_eq!(w.eth(receiver), U256::ZERO);
    let out = w.drive(receiver, U256::ZERO, IReentrantReceiver::withdrawCall {});
    assert!(
        out.success,
        "the outer withdraw succeeds: {}",
        failure_reason(&out)
    );

    let attempts = w.read(receiver, IReentrantReceiver::reentryAttemptsCall {});
    let successes = w.read(receiver, IReentrantReceiver::reentrySuccessesCall {});
    let last_ok = w.read(receiver, IReentrantReceiver::lastReentrySucceededCall {});
    let selector = w.read(receiver, IReentrantReceiver::lastRevertSelectorCall {});
    let received = w.read(receiver, IReentrantReceiver::totalReceivedCall {});
    assert_eq!(attempts, U256::from(1), "receive() ran once and tried once");
    assert_eq!(successes, U256::ZERO, "no reentrant withdraw succeeded");
    assert!(!last_ok);
    assert_eq!(
        selector.0,
        IZkinferMarket::Reentrancy::SELECTOR,
        "stopped by the lock"
    );
    assert_eq!(received, wei(owed), "paid exactly its balance, once");
    assert_eq!(w.eth(receiver), wei(owed));
    assert_eq!(w.credit(receiver), U256::ZERO);

    // Everyone else's money is still there, to the wei.
    let remaining: U256 = w.actors().into_iter().map(|a| w.credit(a)).sum();
    assert_eq!(remaining, wei(split.prover));
    assert_eq!(w.eth(w.market.address), remaining);

    let out = w.drive(receiver, U256::ZERO, IReentrantReceiver::withdrawCall {});
    assert!(
        reverted_with::<IZkinferMarket::NothingToWithdraw>(&out),
        "{}",
        failure_reason(&out)
    );
    assert_eq!(w.eth(receiver), wei(owed));
    w.withdraw_exact(w.prover, split.prover);
    assert_eq!(w.eth(w.market.address), U256::ZERO);
}

#[test]
fn a_reentrant_requester_gets_its_refund_once() {
    let mut w = World::new();
    let receiver = w.deploy_receiver(5);
    let model = w.register_split_model(1);
    let other = w.request(model, &input(1));
    let call = IReentrantReceiver::requestInferenceCall {
        modelId: FixedBytes(model),
        commitment: FixedBytes(input_commitment(&input(0))),
        deadline: w.evm.timestamp() + TTL,
    };
    let out = w.drive(receiver, wei(FEE), call);
    assert!(
        out.success,
        "request through the receiver: {}",
        failure_reason(&out)
    );
    let id = U256::from(2);
    assert_eq!(
        w.market.request_of(&mut w.evm, id).unwrap().requester,
        receiver
    );

    w.evm.advance_time(TTL + 1);
    let out = w.drive(
        receiver,
        U256::ZERO,
        IReentrantReceiver::refundCall { requestId: id },
    );
    assert!(out.success, "{}", failure_reason(&out));
    let out = w.drive(receiver, U256::ZERO, IReentrantReceiver::withdrawCall {});
    assert!(out.success, "{}", failure_reason(&out));
    assert_eq!(w.eth(receiver), wei(FEE));
    assert_eq!(
        w.read(receiver, IReentrantReceiver::reentrySuccessesCall {}),
        U256::ZERO
    );
    assert_eq!(
        w.read(receiver, IReentrantReceiver::totalReceivedCall {}),
        wei(FEE)
    );
    // The consumer's escrow for the other request is untouched.
    assert_eq!(w.eth(w.market.address), wei(FEE));
    assert_eq!(w.status(other), 1);
}

#[test]
fn a_payee_that_rejects_ether_blocks_only_itself() {
    let mut w = World::new();
    let receiver = w.deploy_receiver(0);
    let mut reg = w.registration(1, &[]);
    reg.payout = receiver;
    w.register(&reg);
    let id = w.request(reg.model_id, &input(0));
    w.fulfill_ok(id, &input(0));
    let split = expected_split(FEE, ROYALTY_BPS, &[]);

    let out = w.drive(
        receiver,
        U256::ZERO,
        IReentrantReceiver::setRejectPaymentsCall { reject: true },
    );
    assert!(out.success);
    let before = w.ledger();
    let market_eth = w.eth(w.market.address);
    let out = w.drive(receiver, U256::ZERO, IReentrantReceiver::withdrawCall {});
    assert!(
        reverted_with::<IZkinferMarket::TransferFailed>(&out),
        "{}",
        failure_reason(&out)
    );
    assert_eq!(w.ledger(), before);
    assert_eq!(w.credit(receiver), wei(split.payout), "the balance is kept");
    assert_eq!(w.eth(w.market.address), market_eth);

    w.withdraw_exact(w.prover, split.prover);
    let out = w.drive(
        receiver,
        U256::ZERO,
        IReentrantReceiver::setRejectPaymentsCall { reject: false },
    );
    assert!(out.success);
    let out = w.drive(receiver, U256::ZERO, IReentrantReceiver::withdrawCall {});
    assert!(out.success, "{}", failure_reason(&out));
    assert_eq!(w.eth(receiver), wei(split.payout));
    assert_eq!(w.eth(w.market.address), U256::ZERO);
}

// -------------------------------------------------------------------------
// Events
// -------------------------------------------------------------------------

#[test]
fn the_market_emits_its_events() {
    let mut w = World::new();
    let reg = w.registration(1, &w.three_contributors());
    let out = w.market.register(&mut w.evm, w.creator, &reg).unwrap();
    assert!(out.success);
    let e = market_event::<IZkinferMarket::ModelRegistered>(&w, &out);
    assert_eq!(
        (e.modelId.0, e.creator, e.verifier, e.fee),
        (reg.model_id, w.creator, w.verifier, wei(FEE))
    );
    assert_eq!((e.weightsCommitment.0, e.inputHashed), ([0; 32], false));
    let private = w.layout_registration(2, weights(1), true);
    let out = w.market.register(&mut w.evm, w.creator, &private).unwrap();
    assert!(out.success, "{}", failure_reason(&out));
    let e = market_event::<IZkinferMarket::ModelRegistered>(&w, &out);
    assert_eq!(
        (
            e.modelId.0,
            U256::from_be_bytes(e.weightsCommitment.0),
            e.inputHashed
        ),
        (private.model_id, weights(1), true)
    );

    w.request(reg.model_id, &input(5));
    let deadline = w.evm.timestamp() + TTL;
    let commitment = input_commitment(&input(0));
    let (out, id) = w
        .market
        .request(
            &mut w.evm,
            w.consumer,
            reg.model_id,
            commitment,
            deadline,
            wei(FEE),
        )
        .unwrap();
    let id = id.unwrap();
    assert_eq!(id, U256::from(2));
    let e = market_event::<IZkinferMarket::InferenceRequested>(&w, &out);
    assert_eq!(
        (
            e.requestId,
            e.modelId.0,
            e.requester,
            e.inputCommitment.0,
            e.deadline
        ),
        (id, reg.model_id, w.consumer, commitment, deadline)
    );

    let out = w.fulfill_ok(id, &input(0));
    let e = market_event::<IZkinferMarket::InferenceFulfilled>(&w, &out);
    assert_eq!(e.requestId, id);
    assert_eq!(e.modelId.0, reg.model_id);
    assert_eq!(e.prover, w.prover);
    assert_eq!(e.outputHash, output_hash(&outputs()));
    assert_eq!(
        e.outputHash.0,
        w.market.output_hash_of(&mut w.evm, id).unwrap()
    );
    let published = market_event::<IZkinferMarket::InferenceOutputs>(&w, &out);
    assert_eq!((published.requestId, published.outputs), (id, outputs()));
    assert_eq!(
        out.logs.len(),
        2,
        "fulfil emits only InferenceFulfilled and InferenceOutputs"
    );
}

// -------------------------------------------------------------------------
// Size and gas
// -------------------------------------------------------------------------

#[test]
fn the_market_fits_eip170_and_deploys() {
    let compiled = market_compiled();
    println!(
        "ZkinferMarket runtime: {} bytes (limit {MAX_CODE_SIZE})",
        compiled.runtime.len()
    );
    assert!(!compiled.runtime.is_empty());
    assert!(compiled.runtime.len() < MAX_CODE_SIZE);
    let mut evm = Evm::new();
    let (market, deployed) =
        Market::deploy(&mut evm, Address::repeat_byte(0xd0), compiled).unwrap();
    assert_eq!(
        deployed.runtime_size,
        compiled.runtime.len(),
        "no immutables"
    );
    assert_eq!(market.request_count(&mut evm).unwrap(), U256::ZERO);
    println!("ZkinferMarket deployment: {} gas", deployed.gas_used);
}

#[test]
fn fulfil_and_withdraw_gas() {
    // Fresh worlds, so that every credit is a first one (a zero slot set).
    let mut w = World::new();
    let small = Registration {
        num_inputs: 1,
        num_outputs: 1,
        ..w.registration(1, &[])
    };
    w.register(&small);
    let id = w.request(small.model_id, &words(&[3]));
    let out = w.fulfill(id, &[words(&[3]), words(&[-1])].concat(), VALID_PROOF);
    assert!(out.success, "{}", failure_reason(&out));
    let fulfil_small = out.gas_used;
    let out = w.market.withdraw(&mut w.evm, w.prover).unwrap();
    assert!(out.success, "{}", failure_reason(&out));
    let withdraw = out.gas_used;

    let mut w = World::new();
    let model = w.register_split_model(2);
    let id = w.request(model, &input(0));
    let fulfil_split = w.fulfill_ok(id, &input(0)).gas_used;
    let id = w.request(model, &input(1));
    let fulfil_split_again = w.fulfill_ok(id, &input(1)).gas_used;

    println!("fulfil gas (MockVerifier), 1 input, 1 output, no contributors: {fulfil_small}");
    println!("fulfil gas (MockVerifier), 2 inputs, 3 outputs, 3 contributors: {fulfil_split}");
    println!(
        "fulfil gas (MockVerifier), the same, every payee already credited: {fulfil_split_again}"
    );
    println!("withdraw gas (EOA): {withdraw}");
    // Generous bounds: a regression that makes fulfil or withdraw markedly
    // dearer (an unbounded loop, a storage write per instance) fails here.
    assert!(fulfil_small < 400_000, "{fulfil_small}");
    assert!(fulfil_split < 600_000, "{fulfil_split}");
    assert!(
        fulfil_split_again < fulfil_split,
        "credits to credited accounts cost less"
    );
    assert!(withdraw < 60_000, "{withdraw}");
}

#[test]
fn outputs_round_trip_through_their_words() {
    let mut w = World::new();
    // 19 outputs: one full word of 15 lanes and a partial second, with the
    // extremes of a 16-bit lane.
    let values: Vec<i64> = (0..19)
        .map(|i| match i {
            0 => -(1 << 15),
            1 => (1 << 15) - 1,
            _ => (i - 9) * 1_003,
        })
        .collect();
    let outs = words(&values);
    assert_eq!(outs.len(), 2);
    let mut reg = w.registration(9, &[]);
    reg.num_outputs = values.len() as u32;
    w.register(&reg);
    let id = w.request(reg.model_id, &input(0));
    let out = w.fulfill(id, &instances(&input(0), &outs), VALID_PROOF);
    assert!(out.success, "fulfill failed: {}", failure_reason(&out));
    let fields: Vec<U256> = values.iter().map(|&v| field(v)).collect();
    assert_eq!(w.market.output_of(&mut w.evm, id).unwrap(), Some(fields));
    let signed = w.market.signed_output_of(&mut w.evm, id).unwrap().unwrap();
    let signed: Vec<i64> = signed.iter().map(|&v| v as i64).collect();
    assert_eq!(signed, values);
}

#[test]
fn an_unreduced_output_word_is_refused_and_moves_no_money() {
    let mut w = World::new();
    let model = w.register_split_model(1);
    let honest = outputs();
    // The same word plus r: the verifier (which reduces mod r) would accept
    // it, but its lanes decode to other values.
    for wide in [honest[0] + scalar_field(), scalar_field()] {
        let id = w.request(model, &input(0));
        let before = w.ledger();
        let out = w.fulfill(id, &instances(&input(0), &[wide]), VALID_PROOF);
        assert!(
            reverted_with::<IZkinferMarket::OutputOutOfRange>(&out),
            "{}",
            failure_reason(&out)
        );
        assert_eq!(w.ledger(), before);
        assert_eq!(w.status(id), 1, "still open");
    }
    // The selector contracts/README.md documents.
    assert_eq!(
        hex::encode(IZkinferMarket::OutputOutOfRange::SELECTOR),
        "eea9456c"
    );
}

#[test]
fn a_value_too_many_needs_another_word() {
    let mut w = World::new();
    let mut reg = w.registration(7, &[]);
    // 16 outputs of 16 bits: two words, not one.
    reg.num_outputs = 16;
    w.register(&reg);
    let values: Vec<i64> = (0..16).collect();
    let id = w.request(reg.model_id, &input(0));
    let before = w.ledger();
    let one_word = words(&values[..15]);
    let out = w.fulfill(id, &instances(&input(0), &one_word), VALID_PROOF);
    assert_rejected::<IZkinferMarket::WrongInstanceCount>(&mut w, &before, &out, "one word");
    let out = w.fulfill(id, &instances(&input(0), &words(&values)), VALID_PROOF);
    assert!(out.success, "{}", failure_reason(&out));
    let signed = w.market.signed_output_of(&mut w.evm, id).unwrap().unwrap();
    assert_eq!(signed, (0..16).collect::<Vec<i128>>());
}

#[test]
fn unpack_values_decodes_any_lane_width() {
    let w = World::new();
    let mut w = w;
    for bits in [1u8, 12, 20, 40, 63] {
        let half = 1i64 << (bits - 1);
        let values: Vec<i64> = (0..40).map(|i| [-half, half - 1, 0][i % 3]).collect();
        let packed = words_of(&values, bits);
        let decoded = w
            .market
            .unpack_values(&mut w.evm, &packed, values.len(), bits)
            .unwrap();
        let want: Vec<i128> = values.iter().map(|&v| v.into()).collect();
        assert_eq!(decoded, Some(want), "{bits} bits");
        // A word count that does not match the value count is refused.
        let short = w
            .market
            .unpack_values(&mut w.evm, &packed[1..], values.len(), bits)
            .unwrap();
        assert_eq!(short, None, "{bits} bits, a word short");
    }
    for bits in [0u8, 65] {
        let r = w.market.unpack_values(&mut w.evm, &[], 0, bits).unwrap();
        assert_eq!(r, None, "{bits}-bit lanes");
    }
}

#[test]
fn outputs_too_many_to_store_are_published_and_vouched_for() {
    use crate::market::published_outputs;
    let mut w = World::new();
    let limit = w
        .evm
        .call(
            Address::ZERO,
            w.market.address,
            IZkinferMarket::MAX_STORED_OUTPUTSCall {}.abi_encode(),
        )
        .unwrap();
    assert_eq!(
        U256::from_be_slice(&limit.output),
        U256::from(crate::market::MAX_STORED_OUTPUTS)
    );
    let n = crate::market::MAX_STORED_OUTPUTS + 44;
    let values: Vec<i64> = (0..n).map(|i| i as i64 * 37 - 5_000).collect();
    let outs = words(&values);
    let mut reg = w.registration(8, &[]);
    reg.num_outputs = n as u32;
    w.register(&reg);
    let id = w.request(reg.model_id, &input(0));
    let out = w.fulfill(id, &instances(&input(0), &outs), VALID_PROOF);
    assert!(out.success, "fulfill failed: {}", failure_reason(&out));
    assert_eq!(published_outputs(&out), Some((id, outs.clone())));
    // Not in storage: the views say so rather than return something else.
    let stored = w.evm.call(
        Address::ZERO,
        w.market.address,
        IZkinferMarket::outputOfCall { requestId: id }.abi_encode(),
    );
    assert!(reverted_with::<IZkinferMarket::OutputNotStored>(
        &stored.unwrap()
    ));
    assert!(w.market.matches_output(&mut w.evm, id, &outs).unwrap());
    // What a consumer does with them: decode through the contract.
    let decoded = (w.market)
        .unpack_values(&mut w.evm, &outs, n, LANE_BITS)
        .unwrap()
        .unwrap();
    assert_eq!(
        decoded,
        values.iter().map(|&v| i128::from(v)).collect::<Vec<_>>()
    );
    let mut changed = outs.clone();
    changed[7] = field(1);
    assert!(!w.market.matches_output(&mut w.evm, id, &changed).unwrap());
    assert!(!w.market.matches_output(&mut w.evm, id, &outs[1..]).unwrap());
    // Another request, not fulfilled, vouches for nothing.
    let open = w.request(reg.model_id, &input(1));
    assert!(!w.market.matches_output(&mut w.evm, open, &outs).unwrap());
}

#[test]
fn new_abi_items_have_the_documented_selectors() {
    // The selectors and topic contracts/README.md documents.
    assert_eq!(
        [
            hex::encode(IZkinferMarket::OutputNotStored::SELECTOR),
            hex::encode(IZkinferMarket::matchesOutputCall::SELECTOR),
            hex::encode(IZkinferMarket::MAX_STORED_OUTPUTSCall::SELECTOR),
            hex::encode(&IZkinferMarket::InferenceOutputs::SIGNATURE_HASH.0[..4]),
            hex::encode(IZkinferMarket::registerModelCall::SELECTOR),
            hex::encode(IZkinferMarket::modelOfCall::SELECTOR),
            hex::encode(IZkinferMarket::unpackValuesCall::SELECTOR),
            hex::encode(IZkinferMarket::BadLayout::SELECTOR),
            hex::encode(IZkinferMarket::ModelMismatch::SELECTOR),
            hex::encode(IZkinferMarket::BadInputCommitment::SELECTOR),
            hex::encode(&IZkinferMarket::ModelRegistered::SIGNATURE_HASH.0[..4]),
        ],
        [
            "d4ea8548", "6e52027a", "e8f79cd9", "278f8b4c", "3b9668f5", "4853aa6b", "248d252c",
            "a5c781ec", "a407e5f7", "f129a083", "0ecbb96f"
        ]
    );
}

/// The canonical signature of one ABI item of solc's JSON: `name(type,...)`.
fn abi_signature(item: &serde_json::Value) -> String {
    fn ty(param: &serde_json::Value) -> String {
        let t = param["type"]
            .as_str()
            .expect("every ABI parameter has a type");
        match t.strip_prefix("tuple") {
            Some(suffix) => {
                let parts: Vec<String> = param["components"]
                    .as_array()
                    .expect("a tuple has components")
                    .iter()
                    .map(ty)
                    .collect();
                format!("({}){suffix}", parts.join(","))
            }
            None => t.to_string(),
        }
    }
    let inputs: Vec<String> = item["inputs"]
        .as_array()
        .map(|ps| ps.iter().map(ty).collect())
        .unwrap_or_default();
    format!(
        "{}({})",
        item["name"].as_str().unwrap_or(""),
        inputs.join(",")
    )
}

#[test]
fn the_rust_binding_declares_exactly_the_contracts_abi() {
    use IZkinferMarket::{IZkinferMarketCalls, IZkinferMarketErrors, IZkinferMarketEvents};

    // The `sol!` interface in market.rs is written by hand; solc's ABI of the
    // contract is the truth. Compare them item by item, by selector.
    let abi = market_compiled()
        .abi
        .as_array()
        .expect("solc's ABI is a list")
        .clone();
    let hashes = |kind: &str| -> Vec<(String, FixedBytes<32>)> {
        let mut v: Vec<_> = abi
            .iter()
            .filter(|item| item["type"] == kind)
            .map(|item| {
                let sig = abi_signature(item);
                let hash = keccak256(sig.as_bytes());
                (sig, hash)
            })
            .collect();
        v.sort_by_key(|(_, h)| *h);
        v
    };
    let sorted4 = |sels: &[[u8; 4]]| {
        let mut v: Vec<[u8; 4]> = sels.to_vec();
        v.sort();
        v
    };
    let four = |v: &[(String, FixedBytes<32>)]| -> Vec<[u8; 4]> {
        v.iter()
            .map(|(_, h)| h.0[..4].try_into().unwrap())
            .collect()
    };

    for (kind, bound) in [
        ("function", IZkinferMarketCalls::SELECTORS),
        ("error", IZkinferMarketErrors::SELECTORS),
    ] {
        let items = hashes(kind);
        assert_eq!(
            four(&items),
            sorted4(bound),
            "{kind}s in the contract: {:?}",
            items.iter().map(|(s, _)| s).collect::<Vec<_>>()
        );
    }
    let events = hashes("event");
    let mut bound: Vec<[u8; 32]> = IZkinferMarketEvents::SELECTORS.to_vec();
    bound.sort();
    assert_eq!(
        events.iter().map(|(_, h)| h.0).collect::<Vec<_>>(),
        bound,
        "events in the contract: {:?}",
        events.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
}
