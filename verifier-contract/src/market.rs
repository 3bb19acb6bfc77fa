//! The royalty market (`contracts/ZkinferMarket.sol`): its ABI, compiled
//! with solc-js, and typed calls on the embedded EVM. The same ABI types
//! build the calldata `zkinfer market` sends to a real node.

use alloy_sol_types::{SolCall, SolInterface};
use revm::primitives::{Address, FixedBytes, U256};

use crate::evm::{Deployed, Evm, EvmError, Outcome};
use crate::solc::{self, Compiled, Optimizer, SolcError};

pub const MARKET_SOURCE: &str = include_str!("../contracts/ZkinferMarket.sol");
pub const MARKET_CONTRACT: &str = "ZkinferMarket";

alloy_sol_types::sol! {
    #[derive(Debug, PartialEq, Eq)]
    interface IZkinferMarket {
        enum Status { None, Open, Fulfilled, Refunded }

        function registerModel(bytes32 modelId, address verifier, uint256 fee, uint16 royaltyBps, address payout, uint32 numInputs, uint32 numOutputs, uint8 laneBits, bytes32 weightsCommitment, bool inputHashed, address[] contributors, uint16[] sharesBps) external;
        function requestInference(bytes32 modelId, bytes32 commitment, uint64 deadline) external payable returns (uint256 requestId);
        function fulfill(uint256 requestId, uint256[] instances, bytes proof) external;
        function refund(uint256 requestId) external;
        function withdraw() external;
        function balanceOf(address account) external view returns (uint256);
        function outputOf(uint256 requestId) external view returns (uint256[] memory);
        function signedOutputOf(uint256 requestId) external view returns (int256[] memory);
        function isFulfilled(uint256 requestId) external view returns (bool);
        function outputHashOf(uint256 requestId) external view returns (bytes32);
        function matchesOutput(uint256 requestId, uint256[] outputs) external view returns (bool);
        function MAX_STORED_OUTPUTS() external view returns (uint256);
        function MAX_CONTRIBUTORS() external view returns (uint256);
        function SCALAR_FIELD() external view returns (uint256);
        function requestCount() external view returns (uint256);
        function modelOf(bytes32 modelId) external view returns (address creator, address verifier, address payout, uint256 fee, uint16 royaltyBps, uint32 numInputs, uint32 numOutputs, uint8 laneBits, bytes32 weightsCommitment, bool inputHashed);
        function requestOf(uint256 requestId) external view returns (address requester, bytes32 modelId, bytes32 commitment, uint64 deadline, uint256 fee, uint8 status, address prover);
        function contributorsOf(bytes32 modelId) external view returns (address[] memory, uint16[] memory);
        function inputCommitment(uint256[] inputs) external pure returns (bytes32);
        function unpackValues(uint256[] words, uint256 count, uint8 laneBits) external pure returns (int256[] memory);

        error UnknownModel();
        error ModelExists();
        error WrongFee();
        error BadDeadline();
        error UnknownRequest();
        error NotOpen();
        error Expired();
        error NotExpired();
        error WrongInstanceCount();
        error InputMismatch();
        error ProofRejected();
        error NothingToWithdraw();
        error TransferFailed();
        error Reentrancy();
        error BadShares();
        error BadModel();
        error NotFulfilled();
        error OutputOutOfRange();
        error OutputNotStored();
        error BadLayout();
        error ModelMismatch();
        error BadInputCommitment();

        event ModelRegistered(bytes32 indexed modelId, address indexed creator, address verifier, uint256 fee, bytes32 weightsCommitment, bool inputHashed);
        event InferenceRequested(uint256 indexed requestId, bytes32 indexed modelId, address indexed requester, bytes32 inputCommitment, uint64 deadline);
        event InferenceFulfilled(uint256 indexed requestId, bytes32 indexed modelId, address indexed prover, bytes32 outputHash);
        event InferenceOutputs(uint256 indexed requestId, uint256[] outputs);
        event Refunded(uint256 indexed requestId, address indexed requester, uint256 amount);
        event Withdrawn(address indexed account, uint256 amount);
    }
}

use IZkinferMarket as abi;

/// Outputs the market keeps in storage: the contract's MAX_STORED_OUTPUTS
/// (a test checks they agree). Larger outputs are only in its
/// InferenceOutputs event.
pub const MAX_STORED_OUTPUTS: usize = 256;

/// Compiles the market contract (optimizer on).
pub fn compile_market() -> Result<Compiled, SolcError> {
    solc::compile_one(
        &[("ZkinferMarket.sol", MARKET_SOURCE)],
        MARKET_CONTRACT,
        Optimizer::On { runs: 200 },
    )
}

/// What a creator registers.
#[derive(Clone, Debug)]
pub struct Registration {
    /// zkinfer's model id (SHA-256 of the .zkq).
    pub model_id: [u8; 32],
    pub verifier: Address,
    /// Fee per inference, in wei.
    pub fee: U256,
    /// The creator side's part of the fee, in basis points; the prover gets the rest.
    pub royalty_bps: u16,
    pub payout: Address,
    /// Input and output values (not instances).
    pub num_inputs: u32,
    pub num_outputs: u32,
    /// Width of the lanes the values are packed in (`zkinfer_circuits::public`).
    pub lane_bits: u8,
    /// Zero: the verifier's vk fixes the weights. Otherwise the model
    /// commitment (private weights, big-endian, below the scalar field)
    /// that every proof must carry as its first instance.
    pub weights_commitment: [u8; 32],
    /// The proofs carry the input as one instance, its Poseidon
    /// commitment, which is then also the request's commitment.
    pub input_hashed: bool,
    /// Contributors and their shares of the royalty (basis points summing to 10,000), or none.
    pub contributors: Vec<(Address, u16)>,
}

/// The outputs a `fulfill` published in its InferenceOutputs event.
pub fn published_outputs(outcome: &Outcome) -> Option<(U256, Vec<U256>)> {
    use alloy_sol_types::SolEvent;
    outcome.logs.iter().find_map(|log| {
        abi::InferenceOutputs::decode_log(log)
            .ok()
            .map(|e| (e.data.requestId, e.data.outputs.clone()))
    })
}

/// The name of the custom error (or the halt) behind a failed call, for messages.
pub fn failure_reason(outcome: &Outcome) -> String {
    if outcome.success {
        return "succeeded".into();
    }
    if let Some(halt) = &outcome.halt {
        return format!("halted: {halt}");
    }
    match abi::IZkinferMarketErrors::abi_decode(&outcome.output) {
        Ok(e) => format!("{e:?}"),
        Err(_) if outcome.output.is_empty() => "reverted without data".into(),
        Err(_) => format!("reverted with 0x{}", hex::encode(&outcome.output)),
    }
}

/// Whether a failed call reverted with the custom error `E`.
pub fn reverted_with<E: alloy_sol_types::SolError>(outcome: &Outcome) -> bool {
    !outcome.success && outcome.revert_selector() == Some(E::SELECTOR)
}

/// A deployed market on the embedded EVM.
#[derive(Clone, Copy, Debug)]
pub struct Market {
    pub address: Address,
}

impl Market {
    pub fn deploy(
        evm: &mut Evm,
        from: Address,
        compiled: &Compiled,
    ) -> Result<(Market, Deployed), EvmError> {
        let deployed = evm.deploy(from, compiled.bytecode.clone())?;
        Ok((
            Market {
                address: deployed.address,
            },
            deployed,
        ))
    }

    pub fn register(
        &self,
        evm: &mut Evm,
        creator: Address,
        r: &Registration,
    ) -> Result<Outcome, EvmError> {
        let call = register_call(r);
        evm.transact(creator, self.address, U256::ZERO, call.abi_encode())
    }

    /// Pays `fee` into escrow; the request id on success.
    pub fn request(
        &self,
        evm: &mut Evm,
        requester: Address,
        model_id: [u8; 32],
        input_commitment: [u8; 32],
        deadline: u64,
        fee: U256,
    ) -> Result<(Outcome, Option<U256>), EvmError> {
        let call = abi::requestInferenceCall {
            modelId: FixedBytes(model_id),
            commitment: FixedBytes(input_commitment),
            deadline,
        };
        let out = evm.transact(requester, self.address, fee, call.abi_encode())?;
        let id = out
            .success
            .then(|| abi::requestInferenceCall::abi_decode_returns(&out.output).ok())
            .flatten();
        Ok((out, id))
    }

    pub fn fulfill(
        &self,
        evm: &mut Evm,
        prover: Address,
        request_id: U256,
        instances: &[U256],
        proof: &[u8],
    ) -> Result<Outcome, EvmError> {
        let call = fulfill_call(request_id, instances, proof);
        evm.transact(prover, self.address, U256::ZERO, call.abi_encode())
    }

    pub fn refund(
        &self,
        evm: &mut Evm,
        from: Address,
        request_id: U256,
    ) -> Result<Outcome, EvmError> {
        let call = abi::refundCall {
            requestId: request_id,
        };
        evm.transact(from, self.address, U256::ZERO, call.abi_encode())
    }

    pub fn withdraw(&self, evm: &mut Evm, who: Address) -> Result<Outcome, EvmError> {
        evm.transact(
            who,
            self.address,
            U256::ZERO,
            abi::withdrawCall {}.abi_encode(),
        )
    }

    /// What `who` may withdraw.
    pub fn balance_of(&self, evm: &mut Evm, who: Address) -> Result<U256, EvmError> {
        // A view is sent from the zero address: `who` may be a contract, which EIP-3607 forbids as a sender.
        let out = evm.call(
            Address::ZERO,
            self.address,
            abi::balanceOfCall { account: who }.abi_encode(),
        )?;
        decode_view::<abi::balanceOfCall>(&out)
    }

    /// The verified output of a fulfilled request (field elements), or None.
    pub fn output_of(
        &self,
        evm: &mut Evm,
        request_id: U256,
    ) -> Result<Option<Vec<U256>>, EvmError> {
        let call = abi::outputOfCall {
            requestId: request_id,
        };
        let out = evm.call(Address::ZERO, self.address, call.abi_encode())?;
        if !out.success {
            return Ok(None);
        }
        decode_view::<abi::outputOfCall>(&out).map(Some)
    }

    /// The verified output decoded as signed integers, or None.
    pub fn signed_output_of(
        &self,
        evm: &mut Evm,
        request_id: U256,
    ) -> Result<Option<Vec<i128>>, EvmError> {
        let call = abi::signedOutputOfCall {
            requestId: request_id,
        };
        let out = evm.call(Address::ZERO, self.address, call.abi_encode())?;
        if !out.success {
            return Ok(None);
        }
        signed_values(decode_view::<abi::signedOutputOfCall>(&out)?).map(Some)
    }

    /// The `count` values `words` carry in `lane_bits`-bit lanes, decoded
    /// by the contract; None if it refuses the layout.
    pub fn unpack_values(
        &self,
        evm: &mut Evm,
        words: &[U256],
        count: usize,
        lane_bits: u8,
    ) -> Result<Option<Vec<i128>>, EvmError> {
        let call = abi::unpackValuesCall {
            words: words.to_vec(),
            count: U256::from(count),
            laneBits: lane_bits,
        };
        let out = evm.call(Address::ZERO, self.address, call.abi_encode())?;
        if !out.success {
            return Ok(None);
        }
        signed_values(decode_view::<abi::unpackValuesCall>(&out)?).map(Some)
    }

    /// Whether `outputs` (output words) are the proven outputs of fulfilled `request_id`.
    pub fn matches_output(
        &self,
        evm: &mut Evm,
        request_id: U256,
        outputs: &[U256],
    ) -> Result<bool, EvmError> {
        let call = abi::matchesOutputCall {
            requestId: request_id,
            outputs: outputs.to_vec(),
        };
        let out = evm.call(Address::ZERO, self.address, call.abi_encode())?;
        decode_view::<abi::matchesOutputCall>(&out)
    }

    /// A model's record; all zero (verifier included) if it is not registered.
    pub fn model_of(
        &self,
        evm: &mut Evm,
        model_id: [u8; 32],
    ) -> Result<abi::modelOfReturn, EvmError> {
        self.view(
            evm,
            abi::modelOfCall {
                modelId: FixedBytes(model_id),
            },
        )
    }

    /// A model's contributors and their shares (basis points); empty when the
    /// whole royalty goes to its payout address.
    pub fn contributors_of(
        &self,
        evm: &mut Evm,
        model_id: [u8; 32],
    ) -> Result<Vec<(Address, u16)>, EvmError> {
        let split = self.view(
            evm,
            abi::contributorsOfCall {
                modelId: FixedBytes(model_id),
            },
        )?;
        Ok(split._0.into_iter().zip(split._1).collect())
    }

    /// A request's record; status 0 (None) and all zero if it does not exist.
    pub fn request_of(
        &self,
        evm: &mut Evm,
        request_id: U256,
    ) -> Result<abi::requestOfReturn, EvmError> {
        self.view(
            evm,
            abi::requestOfCall {
                requestId: request_id,
            },
        )
    }

    /// Number of requests so far (the latest request id).
    pub fn request_count(&self, evm: &mut Evm) -> Result<U256, EvmError> {
        self.view(evm, abi::requestCountCall {})
    }

    /// keccak256 of a fulfilled request's outputs; zero otherwise.
    pub fn output_hash_of(&self, evm: &mut Evm, request_id: U256) -> Result<[u8; 32], EvmError> {
        self.view(
            evm,
            abi::outputHashOfCall {
                requestId: request_id,
            },
        )
        .map(|h| h.0)
    }

    fn view<C: SolCall>(&self, evm: &mut Evm, call: C) -> Result<C::Return, EvmError> {
        let out = evm.call(Address::ZERO, self.address, call.abi_encode())?;
        decode_view::<C>(&out)
    }
}

fn decode_view<C: SolCall>(out: &Outcome) -> Result<C::Return, EvmError> {
    if !out.success {
        return Err(EvmError::Invalid(format!(
            "view call failed: {}",
            failure_reason(out)
        )));
    }
    C::abi_decode_returns(&out.output)
        .map_err(|e| EvmError::Invalid(format!("bad return data: {e}")))
}

fn signed_values(values: Vec<alloy_primitives::I256>) -> Result<Vec<i128>, EvmError> {
    (values.into_iter())
        .map(|v| {
            i128::try_from(v).map_err(|e| EvmError::Invalid(format!("output out of range: {e}")))
        })
        .collect()
}

/// ABI calldata of `registerModel`.
pub fn register_call(r: &Registration) -> abi::registerModelCall {
    abi::registerModelCall {
        modelId: FixedBytes(r.model_id),
        verifier: r.verifier,
        fee: r.fee,
        royaltyBps: r.royalty_bps,
        payout: r.payout,
        numInputs: r.num_inputs,
        numOutputs: r.num_outputs,
        laneBits: r.lane_bits,
        weightsCommitment: FixedBytes(r.weights_commitment),
        inputHashed: r.input_hashed,
        contributors: r.contributors.iter().map(|c| c.0).collect(),
        sharesBps: r.contributors.iter().map(|c| c.1).collect(),
    }
}

/// ABI calldata of `fulfill`.
pub fn fulfill_call(request_id: U256, instances: &[U256], proof: &[u8]) -> abi::fulfillCall {
    abi::fulfillCall {
        requestId: request_id,
        instances: instances.to_vec(),
        proof: proof.to_vec().into(),
    }
}

/// The request's input commitment for a model whose proofs carry the input
/// words, as the contract computes it: keccak256 of the input words (the
/// instances carrying the input values) as consecutive 32-byte words. For
/// a hashed-input model the commitment is the proof's one input instance
/// itself ([`request_commitment`]).
pub fn input_commitment(inputs: &[U256]) -> [u8; 32] {
    let mut packed = Vec::with_capacity(inputs.len() * 32);
    for x in inputs {
        packed.extend_from_slice(&x.to_be_bytes::<32>());
    }
    revm::primitives::keccak256(&packed).0
}

/// What a request for a proof with these input instances commits to:
/// for a hashed input the one instance itself (the Poseidon commitment, a
/// field element), else [`input_commitment`] of the words.
///
/// # Panics
///
/// If `hashed` and there is not exactly one input instance.
pub fn request_commitment(input_instances: &[U256], hashed: bool) -> [u8; 32] {
    if !hashed {
        return input_commitment(input_instances);
    }
    assert_eq!(input_instances.len(), 1, "a hashed input is one instance");
    input_instances[0].to_be_bytes::<32>()
}
