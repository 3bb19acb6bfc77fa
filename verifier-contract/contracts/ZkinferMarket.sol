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

    // Field order packs creator with the small fields into one slot, and
    // the two layout flags with the verifier: requestInference and fulfill
    // read the verifier's slot anyway, so a fixed-weight, public-input model
    // pays no storage read for either feature. weightsPrivate is
    // weightsCommitment != 0, kept so that only models with private weights
    // read the commitment's slot.
    struct Model {
        address creator;
        uint16 royaltyBps;
        uint32 numInputs;
        uint32 numOutputs;
        uint8 laneBits;
        address verifier;
        bool weightsPrivate;
        bool inputHashed;
        address payout;
        uint256 fee;
        bytes32 weightsCommitment;
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

    /// Bits a packed instance word may use: 2^253 < SCALAR_FIELD.
    uint256 private constant WORD_BITS = 253;
    /// Widest lane a model may register.
    uint256 private constant MAX_LANE_BITS = 64;
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
    /// Proven outputs, as the proof's output words (several values each,
    /// see README.md): stored as they are, with no re-packing.
    mapping(uint256 => uint256[]) private _outputWords;

    // 1 = unlocked, 2 = locked; never 0, so each lock costs a warm write only.
    uint256 private _lock = 1;

    // ---------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------

    /// weightsCommitment is zero for a model whose verifier fixes its
    /// weights; otherwise it is what says which weights the model is, as
    /// every proof for it must carry it (several models can share one
    /// verifier).
    event ModelRegistered(
        bytes32 indexed modelId,
        address indexed creator,
        address verifier,
        uint256 fee,
        bytes32 weightsCommitment,
        bool inputHashed
    );
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
    /// Every fulfilment's outputs, as the proof's output words: how
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
    error BadLayout();
    error ModelMismatch();
    error BadInputCommitment();

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
    /// `weightsCommitment`: zero if the verifier's vk fixes the weights,
    /// else the model commitment every proof must carry as its first
    /// instance (private weights). `inputHashed`: the proofs carry the
    /// input as one instance, its commitment, instead of its words.
    function registerModel(
        bytes32 modelId,
        address verifier,
        uint256 fee,
        uint16 royaltyBps,
        address payout,
        uint32 numInputs,
        uint32 numOutputs,
        uint8 laneBits,
        bytes32 weightsCommitment,
        bool inputHashed,
        // memory, not calldata: a calldata array takes two stack slots, and
        // with twelve parameters the legacy code generator runs out of stack.
        address[] memory contributors,
        uint16[] memory sharesBps
    ) external {
        // A registered model always has a verifier with code, so a zero
        // verifier field is what "not registered" looks like.
        if (_models[modelId].verifier != address(0)) revert ModelExists();
        // A commitment >= SCALAR_FIELD is no instance any proof can carry.
        if (
            verifier.code.length == 0 || royaltyBps > BPS || payout == address(0) || numInputs == 0
                || numOutputs == 0 || laneBits == 0 || laneBits > MAX_LANE_BITS
                || uint256(weightsCommitment) >= SCALAR_FIELD
        ) revert BadModel();

        _setSplit(modelId, contributors, sharesBps);

        Model storage m = _models[modelId];
        m.creator = msg.sender;
        m.royaltyBps = royaltyBps;
        m.numInputs = numInputs;
        m.numOutputs = numOutputs;
        m.laneBits = laneBits;
        m.verifier = verifier;
        m.inputHashed = inputHashed;
        m.payout = payout;
        m.fee = fee;
        if (weightsCommitment != 0) {
            m.weightsPrivate = true;
            m.weightsCommitment = weightsCommitment;
        }
        emit ModelRegistered(modelId, msg.sender, verifier, fee, weightsCommitment, inputHashed);
    }

    // ---------------------------------------------------------------------
    // Requests
    // ---------------------------------------------------------------------

    /// @notice Escrow the model's fee for an inference on the input whose
    /// commitment (see inputCommitment) is `commitment`.
    function requestInference(bytes32 modelId, bytes32 commitment, uint64 deadline)
        external
        payable
        returns (uint256 requestId)
    {
        Model storage m = _models[modelId];
        if (m.verifier == address(0)) revert UnknownModel();
        if (msg.value != m.fee) revert WrongFee();
        if (deadline <= block.timestamp) revert BadDeadline();
        // A hashed input's commitment is an instance: one >= SCALAR_FIELD
        // could never be matched, and the fee would be locked until the
        // deadline for nothing.
        if (m.inputHashed && uint256(commitment) >= SCALAR_FIELD) revert BadInputCommitment();

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

    /// @notice The commitment a request makes to its input, for a model
    /// whose proofs carry the input words (the instances that carry the
    /// input values): keccak256 of those words, each as a 32-byte big-endian
    /// word. For a model registered with `inputHashed`, the commitment is
    /// instead the proof's input instance itself, the Poseidon commitment to
    /// the input that `zkinfer commit-input` computes off-chain; this
    /// function does not compute it.
    function inputCommitment(uint256[] calldata inputs) external pure returns (bytes32) {
        return keccak256(abi.encodePacked(inputs));
    }

    /// @notice Fulfil a request with a proof. `instances` are the proof's
    /// public instances: the model commitment (private weights only), the
    /// words carrying the model's numInputs input values or, for a hashed
    /// input, their one commitment, then the words carrying its numOutputs
    /// output values (see README.md). msg.sender is paid as the prover.
    function fulfill(uint256 requestId, uint256[] calldata instances, bytes calldata proof) external {
        Request storage r = _requests[requestId];
        Status status = r.status;
        if (status == Status.None) revert UnknownRequest();
        // Fulfilled at most once: a replayed proof stops here.
        if (status != Status.Open) revert NotOpen();
        if (block.timestamp > r.deadline) revert Expired();

        bytes32 modelId = r.modelId;
        Model storage m = _models[modelId];
        uint256[] calldata outputs = instances[_checkInstances(m, r.inputCommitment, instances):];
        if (!_verify(m.verifier, instances, proof)) revert ProofRejected();

        r.status = Status.Fulfilled;
        r.prover = msg.sender;
        if (m.numOutputs <= MAX_STORED_OUTPUTS) _storeOutputs(requestId, outputs);
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
            uint32 numOutputs,
            uint8 laneBits,
            bytes32 weightsCommitment,
            bool inputHashed
        )
    {
        Model storage m = _models[modelId];
        return (
            m.creator,
            m.verifier,
            m.payout,
            m.fee,
            m.royaltyBps,
            m.numInputs,
            m.numOutputs,
            m.laneBits,
            m.weightsCommitment,
            m.inputHashed
        );
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

    /// @notice Whether `outputs` (output words, as in InferenceOutputs)
    /// are the proven outputs of a fulfilled request: how a contract uses
    /// outputs too large to be stored (decoding them with unpackValues).
    function matchesOutput(uint256 requestId, uint256[] calldata outputs) external view returns (bool) {
        Request storage r = _requests[requestId];
        return r.status == Status.Fulfilled && keccak256(abi.encodePacked(outputs)) == r.outputHash;
    }

    /// @notice The proven outputs as signed fixed-point integers.
    function signedOutputOf(uint256 requestId) public view returns (int256[] memory) {
        Request storage r = _requests[requestId];
        if (r.status != Status.Fulfilled) revert NotFulfilled();
        Model storage m = _models[r.modelId];
        if (m.numOutputs > MAX_STORED_OUTPUTS) revert OutputNotStored();
        return _unpack(_outputWords[requestId], m.numOutputs, m.laneBits);
    }

    /// @notice The `count` signed values that `words` carry in
    /// `laneBits`-bit lanes: how a consumer decodes outputs published in
    /// InferenceOutputs (after checking them with matchesOutput).
    function unpackValues(uint256[] calldata words, uint256 count, uint8 laneBits)
        external
        pure
        returns (int256[] memory)
    {
        if (laneBits == 0 || laneBits > MAX_LANE_BITS) revert BadLayout();
        if (words.length != _words(count, WORD_BITS / laneBits)) revert BadLayout();
        return _unpack(words, count, laneBits);
    }

    // ---------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------

    /// @dev Checks the instances' layout, model and input against model
    /// `m` and the request's commitment; returns the index of the first
    /// output word.
    function _checkInstances(Model storage m, bytes32 commitment, uint256[] calldata instances)
        private
        view
        returns (uint256 outStart)
    {
        uint256 lanes = WORD_BITS / m.laneBits;
        bool weightsPrivate = m.weightsPrivate;
        bool hashed = m.inputHashed;
        uint256 inStart = weightsPrivate ? 1 : 0;
        outStart = inStart + (hashed ? 1 : _words(m.numInputs, lanes));
        if (instances.length != outStart + _words(m.numOutputs, lanes)) revert WrongInstanceCount();
        // With private weights the verifier accepts a proof for any weights
        // of the architecture: only this instance says they are the model's.
        // Exact equality, and the commitment is below SCALAR_FIELD, so an
        // unreduced copy (C + SCALAR_FIELD) does not pass either.
        if (weightsPrivate && instances[0] != uint256(m.weightsCommitment)) revert ModelMismatch();
        // Binds the proof to the requester's input, not just to any input.
        if (hashed) {
            if (instances[inStart] != uint256(commitment)) revert InputMismatch();
        } else if (keccak256(abi.encodePacked(instances[inStart:outStart])) != commitment) {
            revert InputMismatch();
        }
        // The verifier reduces instances mod SCALAR_FIELD: an unreduced
        // word (word + SCALAR_FIELD) would verify, yet decode to other lanes.
        for (uint256 i = outStart; i < instances.length; ++i) {
            if (instances[i] >= SCALAR_FIELD) revert OutputOutOfRange();
        }
    }

    function _storeOutputs(uint256 requestId, uint256[] calldata outputs) private {
        _outputWords[requestId] = outputs;
    }

    /// @dev Words that `count` values take, `lanes` to a word.
    function _words(uint256 count, uint256 lanes) private pure returns (uint256) {
        return (count + lanes - 1) / lanes;
    }

    /// @dev Value j is lane j % L of word j / L, stored as v + 2^(B-1).
    function _unpack(uint256[] memory words, uint256 count, uint256 laneBits)
        private
        pure
        returns (int256[] memory values)
    {
        uint256 lanes = WORD_BITS / laneBits;
        uint256 mask = (1 << laneBits) - 1;
        int256 half = int256(1 << (laneBits - 1));
        values = new int256[](count);
        for (uint256 i; i < count; ++i) {
            uint256 lane = (words[i / lanes] >> (laneBits * (i % lanes))) & mask;
            // lane < 2^64, so the cast is exact.
            values[i] = int256(lane) - half;
        }
    }

    /// @dev Validates and stores a model's royalty split (a separate function
    /// only to keep registerModel's stack within the EVM's reach).
    function _setSplit(bytes32 modelId, address[] memory contributors, uint16[] memory sharesBps) private {
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
