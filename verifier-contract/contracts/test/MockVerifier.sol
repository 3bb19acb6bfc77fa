// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.19;

/// @title MockVerifier
/// @notice Stands in for a generated zkinfer verifier in the market's
/// accounting tests. Like the real one it has only a fallback, which succeeds
/// with empty return data when it accepts and reverts when it rejects.
/// By default it accepts iff the calldata's last byte is 0x01, so a test makes
/// a "valid" proof by ending it with 0x01 and an "invalid" one otherwise.
/// NOT a verifier: never deploy it outside tests.
contract MockVerifier {
    enum Mode {
        LastByte,
        AcceptAll,
        RejectAll
    }

    Mode public mode;

    /// @notice Switch behaviour. Cannot take effect during a market call:
    /// the market calls the verifier with staticcall, which forbids writes.
    function setMode(Mode newMode) external {
        mode = newMode;
    }

    fallback(bytes calldata input) external returns (bytes memory) {
        Mode m = mode;
        bool accept = m == Mode.AcceptAll
            || (m == Mode.LastByte && input.length != 0 && input[input.length - 1] == 0x01);
        require(accept, "MockVerifier: rejected");
        return "";
    }
}
