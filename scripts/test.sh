#!/usr/bin/env bash
# The test command (README, .ci/run): installs the test tools it needs, then
# runs every test of the workspace.
#   - snarkjs (npm, pinned, into the ignored .tools/): makes the Powers of Tau
#     files that the .ptau import tests use.
#   - solc (solc-js, npm, pinned): compiles the generated verifiers and the
#     market contracts for the embedded-EVM tests. zkinfer would install it
#     on first use too; installing it here keeps parallel tests from racing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

npm_tool() { # name version
    if ! grep -qs "\"version\": \"$2\"" ".tools/node_modules/$1/package.json"; then
        echo "installing $1@$2 into .tools/" >&2
        npm install --silent --no-audit --no-fund --prefix .tools "$1@$2" >&2
    fi
}
npm_tool snarkjs 0.7.6
npm_tool hardhat 2.29.1 || echo "warning: hardhat not installed: the real-node market test (tests/e2e/node.rs) will skip" >&2 # before solc: it may hoist its own solc, which the solc line then puts back
npm_tool solc 0.8.19

cargo test --workspace --locked "$@"
