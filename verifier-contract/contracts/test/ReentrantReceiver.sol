// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.19;

/// @dev The part of ZkinferMarket this test contract drives. Declared here
/// rather than imported so the file compiles on its own.
interface IZkinferMarketForTest {
    function requestInference(bytes32 modelId, bytes32 commitment, uint64 deadline)
        external
        payable
        returns (uint256 requestId);
    function fulfill(uint256 requestId, uint256[] calldata instances, bytes calldata proof) external;
    function refund(uint256 requestId) external;
    function withdraw() external;
}

/// @title ReentrantReceiver
/// @notice A hostile account for the market's tests: act as requester, prover
/// or payout address through the forwarding functions, then withdraw; its
/// receive() tries to withdraw again from inside the payment, up to
/// maxReentries times, and records what happened. A test that ends with
/// reentrySuccesses == 0 and the market's balance intact shows the market
/// cannot be drained this way.
/// NOT for deployment outside tests.
contract ReentrantReceiver {
    IZkinferMarketForTest public market;

    /// @notice How many reentrant withdraw() calls receive() may attempt.
    uint256 public maxReentries;
    /// @notice Reentrant withdraw() calls attempted / that did not revert.
    uint256 public reentryAttempts;
    uint256 public reentrySuccesses;
    /// @notice Outcome of the latest attempt, and the first 4 bytes of its
    /// revert data (the market's custom error selector) when it reverted.
    bool public lastReentrySucceeded;
    bytes4 public lastRevertSelector;
    /// @notice Total wei received through receive().
    uint256 public totalReceived;
    /// @notice When set, receive() reverts: exercises the market's
    /// TransferFailed path.
    bool public rejectPayments;

    constructor(address market_, uint256 maxReentries_) {
        market = IZkinferMarketForTest(market_);
        maxReentries = maxReentries_;
    }

    function setMarket(address market_) external {
        market = IZkinferMarketForTest(market_);
    }

    function setMaxReentries(uint256 maxReentries_) external {
        maxReentries = maxReentries_;
    }

    function setRejectPayments(bool reject) external {
        rejectPayments = reject;
    }

    // ---- forwarding functions: this contract is msg.sender in the market ----

    /// @notice Forwards msg.value as the fee; this contract is the requester.
    function requestInference(bytes32 modelId, bytes32 commitment, uint64 deadline)
        external
        payable
        returns (uint256)
    {
        return market.requestInference{value: msg.value}(modelId, commitment, deadline);
    }

    /// @notice This contract becomes the request's prover.
    function fulfill(uint256 requestId, uint256[] calldata instances, bytes calldata proof) external {
        market.fulfill(requestId, instances, proof);
    }

    function refund(uint256 requestId) external {
        market.refund(requestId);
    }

    function withdraw() external {
        market.withdraw();
    }

    receive() external payable {
        if (rejectPayments) revert("ReentrantReceiver: rejecting payment");
        totalReceived += msg.value;
        if (reentryAttempts < maxReentries) {
            reentryAttempts += 1;
            try market.withdraw() {
                reentrySuccesses += 1;
                lastReentrySucceeded = true;
                lastRevertSelector = bytes4(0);
            } catch (bytes memory reason) {
                lastReentrySucceeded = false;
                lastRevertSelector = reason.length >= 4 ? bytes4(reason) : bytes4(0);
            }
        }
    }
}
