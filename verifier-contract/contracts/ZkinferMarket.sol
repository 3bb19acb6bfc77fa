// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.19;

/// @title ZkinferMarket
/// @notice A pay-per-inference market for zkinfer models. A consumer escrows a
/// model's fee against a commitment to an input; whoever submits a proof that
/// the model's verifier accepts for exactly that input gets the output recorded
/// on-chain and the escrow released: a royalty to the model's creator side and
/// the rest to the prover. Unfulfilled requests are refundable after their
/// deadline. All payouts are credited to balances and pulled with withdraw().
/// @dev See README.md beside this file for the ABI, the money flow and the
/// known limitations (in particular: the market trusts that a model's verifier
/// is the one generated from that model's vk; it cannot check this).
contract ZkinferMarket {
    // ---------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------

    enum Status {
        None,
        Open,
        Fulfilled,
        Refunded
    }

    // Field order packs creator with the small fields into one slot.
    struct Model {
        address creator;
        uint16 royaltyBps;
        uint32 numInputs;
        uint32 numOutputs;
        address verifier;
        address payout;
        uint256 fee;
    }

    // Field order packs requester, deadline and status into one slot.
    struct Request {
        address requester;
        uint64 deadline;
        Status status;
        address prover;
        bytes32 modelId;
        bytes32 inputCommitment;
        uint256 fee;
        bytes32 outputHash;
    }

    // ---------------------------------------------------------------------
    // Constants
    // ---------------------------------------------------------------------

    /// @notice BN254 scalar field modulus: every public instance is < this.
    uint256 public constant SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice Upper bound on contributors per model, so that fulfil's payout
    /// loop has a bounded gas cost no creator can push past a block's limit.
    uint256 public constant MAX_CONTRIBUTORS = 64;

    uint256 private constant BPS = 10_000;

    // Fixed-point values above this are the encodings of negative numbers.
    uint256 private constant HALF_FIELD = (SCALAR_FIELD - 1) / 2;
    uint256 private constant LANES = 8;
    /// Outputs of models with at most this many are kept in storage for
    /// outputOf; larger outputs (a language model's logits: 4,096 values
    /// would be 11M gas of storage) are only in the InferenceOutputs event
    /// and checked with matchesOutput.
    uint256 public constant MAX_STORED_OUTPUTS = 256;

    // ---------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------

    /// @notice Wei each account can withdraw (pull payments).
    mapping(address => uint256) public balanceOf;

    /// @notice Number of requests made so far; also the id of the latest one.
    uint256 public requestCount;

    mapping(bytes32 => Model) private _models;
    mapping(bytes32 => address[]) private _contributors;
    mapping(bytes32 => uint16[]) private _shares;
    mapping(uint256 => Request) private _requests;
    /// Proven outputs, packed eight signed 32-bit lanes to a word: a
    /// transformer block's 1,024 outputs take 128 storage writes instead of
    /// 1,024 (22M gas, more than a transaction may use). zkinfer's outputs
    /// are fixed-point values range-checked in the circuit to far fewer
    /// bits; a wider one is refused with OutputOutOfRange.
    mapping(uint256 => uint256[]) private _packedOutputs;

    // 1 = unlocked, 2 = locked; never 0, so each lock costs a warm write only.
    uint256 private _lock = 1;

    // ---------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------

    event ModelRegistered(bytes32 indexed modelId, address indexed creator, address verifier, uint256 fee);
    event InferenceRequested(
        uint256 indexed requestId,
        bytes32 indexed modelId,
        address indexed requester,
        bytes32 inputCommitment,
        uint64 deadline
    );
    event InferenceFulfilled(
        uint256 indexed requestId, bytes32 indexed modelId, address indexed prover, bytes32 outputHash
    );
    /// Every fulfilment's outputs, as the proof's field elements: how
    /// off-chain readers (and contracts, via matchesOutput) get outputs
    /// too many to keep in storage.
    event InferenceOutputs(uint256 indexed requestId, uint256[] outputs);
    event Refunded(uint256 indexed requestId, address indexed requester, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);

    // ---------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------

    error UnknownModel();
    error ModelExists();
    error BadModel();
    error BadShares();
    error WrongFee();
    error BadDeadline();
    error UnknownRequest();
    error NotOpen();
    error Expired();
    error NotExpired();
    error WrongInstanceCount();
    error InputMismatch();
    error ProofRejected();
    error NotFulfilled();
    error NothingToWithdraw();
    error TransferFailed();
    error Reentrancy();
    error OutputOutOfRange();
    error OutputNotStored();

    modifier nonReentrant() {
        if (_lock != 1) revert Reentrancy();
        _lock = 2;
        _;
        _lock = 1;
    }

    // ---------------------------------------------------------------------
    // Models
    // ---------------------------------------------------------------------

    /// @notice Register a model; msg.sender becomes its creator. A model is
    /// immutable once registered, so a request's terms cannot change under it.
    function registerModel(
        bytes32 modelId,
        address verifier,
        uint256 fee,
        uint16 royaltyBps,
        address payout,
        uint32 numInputs,
        uint32 numOutputs,
        address[] calldata contributors,
        uint16[] calldata sharesBps
    ) external {
        // A registered model always has a verifier with code, so a zero
        // verifier field is what "not registered" looks like.
        if (_models[modelId].verifier != address(0)) revert ModelExists();
        if (
            verifier.code.length == 0 || royaltyBps > BPS || payout == address(0) || numInputs == 0
                || numOutputs == 0
        ) revert BadModel();

        _setSplit(modelId, contributors, sharesBps);

        Model storage m = _models[modelId];
        m.creator = msg.sender;
        m.royaltyBps = royaltyBps;
        m.numInputs = numInputs;
        m.numOutputs = numOutputs;
        m.verifier = verifier;
        m.payout = payout;
        m.fee = fee;
        emit ModelRegistered(modelId, msg.sender, verifier, fee);
    }

    // ---------------------------------------------------------------------
    // Requests
    // ---------------------------------------------------------------------

    /// @notice Escrow the model's fee for an inference on the input whose
    /// input instances hash (see inputCommitment) to `commitment`.
    function requestInference(bytes32 modelId, bytes32 commitment, uint64 deadline)
        external
        payable
        returns (uint256 requestId)
    {
        Model storage m = _models[modelId];
        if (m.verifier == address(0)) revert UnknownModel();
        if (msg.value != m.fee) revert WrongFee();
        if (deadline <= block.timestamp) revert BadDeadline();

        requestId = ++requestCount;
        Request storage r = _requests[requestId];
        r.requester = msg.sender;
        r.deadline = deadline;
        r.status = Status.Open;
        r.modelId = modelId;
        r.inputCommitment = commitment;
        // Recorded per request so that the escrow paid is what is released
        // or refunded, independently of the model record.
        r.fee = msg.value;
        emit InferenceRequested(requestId, modelId, msg.sender, commitment, deadline);
    }

    /// @notice The commitment a request makes to its input: keccak256 of the
    /// input field elements, each as a 32-byte big-endian word.
    function inputCommitment(uint256[] calldata inputs) external pure returns (bytes32) {
        return keccak256(abi.encodePacked(inputs));
    }

    /// @notice Fulfil a request with a proof. `instances` are the proof's
    /// public instances: the model's numInputs input values, then its
    /// numOutputs output values. msg.sender is paid as the prover.
    function fulfill(uint256 requestId, uint256[] calldata instances, bytes calldata proof) external {
        Request storage r = _requests[requestId];
        Status status = r.status;
        if (status == Status.None) revert UnknownRequest();
        // Fulfilled at most once: a replayed proof stops here.
        if (status != Status.Open) revert NotOpen();
        if (block.timestamp > r.deadline) revert Expired();

        bytes32 modelId = r.modelId;
        Model storage m = _models[modelId];
        uint256 numInputs = m.numInputs;
        if (instances.length != numInputs + uint256(m.numOutputs)) revert WrongInstanceCount();
        // Binds the proof to the requester's input, not just to any input.
        if (keccak256(abi.encodePacked(instances[:numInputs])) != r.inputCommitment) revert InputMismatch();
        if (!_verify(m.verifier, instances, proof)) revert ProofRejected();

        r.status = Status.Fulfilled;
        r.prover = msg.sender;
        uint256[] calldata outputs = instances[numInputs:];
        if (outputs.length <= MAX_STORED_OUTPUTS) _storeOutputs(requestId, outputs);
        bytes32 outputHash = keccak256(abi.encodePacked(outputs));
        r.outputHash = outputHash;

        _pay(modelId, m, r.fee);
        emit InferenceFulfilled(requestId, modelId, msg.sender, outputHash);
        emit InferenceOutputs(requestId, outputs);
    }

    /// @notice Return an expired, unfulfilled request's escrow to its
    /// requester's balance. Anyone may call it; the money only ever goes to
    /// the requester, so there is nothing to gain by calling it for others
    /// except tidiness.
    function refund(uint256 requestId) external {
        Request storage r = _requests[requestId];
        Status status = r.status;
        if (status == Status.None) revert UnknownRequest();
        if (status != Status.Open) revert NotOpen();
        // Strictly after the deadline: at the deadline itself a proof is
        // still accepted, so the two windows never overlap.
        if (block.timestamp <= r.deadline) revert NotExpired();

        r.status = Status.Refunded;
        address requester = r.requester;
        uint256 amount = r.fee;
        balanceOf[requester] += amount;
        emit Refunded(requestId, requester, amount);
    }

    /// @notice Send msg.sender its whole balance.
    /// @dev The only function that makes a call able to change state, hence
    /// the only one that needs the guard (fulfil's call is a staticcall).
    function withdraw() external nonReentrant {
        uint256 amount = balanceOf[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        // Zeroed before the call, so a reentrant call (if the guard were
        // ever lifted) would find nothing to take.
        balanceOf[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------

    /// @notice A model's record; all zero if `modelId` is not registered.
    function modelOf(bytes32 modelId)
        external
        view
        returns (
            address creator,
            address verifier,
            address payout,
            uint256 fee,
            uint16 royaltyBps,
            uint32 numInputs,
            uint32 numOutputs
        )
    {
        Model storage m = _models[modelId];
        return (m.creator, m.verifier, m.payout, m.fee, m.royaltyBps, m.numInputs, m.numOutputs);
    }

    /// @notice A model's royalty split; both empty if it has no contributors
    /// (the whole royalty then goes to its payout address).
    function contributorsOf(bytes32 modelId) external view returns (address[] memory, uint16[] memory) {
        return (_contributors[modelId], _shares[modelId]);
    }

    /// @notice A request's record; all zero (status None) if it does not exist.
    function requestOf(uint256 requestId)
        external
        view
        returns (
            address requester,
            bytes32 modelId,
            bytes32 commitment,
            uint64 deadline,
            uint256 fee,
            Status status,
            address prover
        )
    {
        Request storage r = _requests[requestId];
        return (r.requester, r.modelId, r.inputCommitment, r.deadline, r.fee, r.status, r.prover);
    }

    /// @notice keccak256 of a fulfilled request's outputs (as emitted in
    /// InferenceFulfilled); zero if it is not fulfilled.
    function outputHashOf(uint256 requestId) external view returns (bytes32) {
        return _requests[requestId].outputHash;
    }

    function isFulfilled(uint256 requestId) external view returns (bool) {
        return _requests[requestId].status == Status.Fulfilled;
    }

    /// @notice The proven outputs of a request, as field elements. Reverts
    /// unless fulfilled, so a consumer can never mistake "no answer yet" for
    /// an answer of zeros.
    function outputOf(uint256 requestId) external view returns (uint256[] memory values) {
        int256[] memory signed = signedOutputOf(requestId);
        uint256 n = signed.length;
        values = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            int256 v = signed[i];
            values[i] = v < 0 ? SCALAR_FIELD - uint256(-v) : uint256(v);
        }
    }

    /// @notice Whether `outputs` (field elements, as in InferenceOutputs)
    /// are the proven outputs of a fulfilled request: how a contract uses
    /// outputs too large to be stored.
    function matchesOutput(uint256 requestId, uint256[] calldata outputs) external view returns (bool) {
        Request storage r = _requests[requestId];
        return r.status == Status.Fulfilled && keccak256(abi.encodePacked(outputs)) == r.outputHash;
    }

    /// @notice The proven outputs as signed fixed-point integers: a field
    /// element x above (r-1)/2 encodes the negative number x - r.
    function signedOutputOf(uint256 requestId) public view returns (int256[] memory values) {
        Request storage r = _requests[requestId];
        if (r.status != Status.Fulfilled) revert NotFulfilled();
        uint256 n = _models[r.modelId].numOutputs;
        if (n > MAX_STORED_OUTPUTS) revert OutputNotStored();
        uint256[] storage packed = _packedOutputs[requestId];
        values = new int256[](n);
        for (uint256 i; i < n; ++i) {
            values[i] = int256(int32(uint32(packed[i / LANES] >> (32 * (i % LANES)))));
        }
    }

    // ---------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------

    /// @dev Stores outputs (field elements) as signed 32-bit lanes; reverts
    /// unless each is a canonical field element whose signed value fits.
    function _storeOutputs(uint256 requestId, uint256[] calldata outputs) private {
        uint256[] storage packed = _packedOutputs[requestId];
        uint256 n = outputs.length;
        uint256 word;
        for (uint256 i; i < n; ++i) {
            uint256 x = outputs[i];
            if (x >= SCALAR_FIELD) revert OutputOutOfRange();
            // x < r < 2^254, so both casts are exact.
            int256 v = x > HALF_FIELD ? int256(x) - int256(SCALAR_FIELD) : int256(x);
            if (v < type(int32).min || v > type(int32).max) revert OutputOutOfRange();
            word |= uint256(uint32(int32(v))) << (32 * (i % LANES));
            if (i % LANES == LANES - 1 || i + 1 == n) {
                packed.push(word);
                word = 0;
            }
        }
    }

    /// @dev Validates and stores a model's royalty split (a separate function
    /// only to keep registerModel's stack within the EVM's reach).
    function _setSplit(bytes32 modelId, address[] calldata contributors, uint16[] calldata sharesBps) private {
        uint256 n = contributors.length;
        if (n != sharesBps.length || n > MAX_CONTRIBUTORS) revert BadShares();
        if (n == 0) return;
        uint256 total;
        for (uint256 i; i < n; ++i) {
            if (contributors[i] == address(0)) revert BadShares();
            total += sharesBps[i];
        }
        // Exactly 10000 so that the split is a full partition of the royalty;
        // the only remainder left for payout is rounding dust.
        if (total != BPS) revert BadShares();
        _contributors[modelId] = contributors;
        _shares[modelId] = sharesBps;
    }

    /// @dev Calls the verifier with instances || proof. A staticcall, so the
    /// verifier can neither reenter nor change state; its return data is not
    /// copied, so a hostile verifier cannot make the market pay to copy it.
    function _verify(address verifier, uint256[] calldata instances, bytes calldata proof)
        private
        view
        returns (bool ok)
    {
        // A verifier without code would "succeed" on any input; a registered
        // verifier can lose its code only by self-destructing.
        if (verifier.code.length == 0) return false;
        bytes memory data = abi.encodePacked(instances, proof);
        assembly ("memory-safe") {
            ok := staticcall(gas(), verifier, add(data, 0x20), mload(data), 0, 0)
        }
    }

    /// @dev Splits `fee` between the prover (msg.sender) and the creator side.
    /// Every wei of `fee` is credited to someone: the rounding dust of the
    /// contributors' split goes to the payout address.
    function _pay(bytes32 modelId, Model storage m, uint256 fee) private {
        uint256 royalty = fee * m.royaltyBps / BPS;
        balanceOf[msg.sender] += fee - royalty;

        address[] storage contributors = _contributors[modelId];
        uint16[] storage shares = _shares[modelId];
        uint256 n = contributors.length;
        uint256 paid;
        for (uint256 i; i < n; ++i) {
            uint256 part = royalty * shares[i] / BPS;
            balanceOf[contributors[i]] += part;
            paid += part;
        }
        balanceOf[m.payout] += royalty - paid;
    }
}
