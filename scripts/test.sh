#!/usr/bin/env bash
# The test command (README, .ci/run): installs the test tools it needs, then
# runs every test of the workspace.
#   - snarkjs (npm, pinned, into the ignored .tools/): makes the Powers of Tau
#     files that the .ptau import tests use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SNARKJS_VERSION="0.7.6"
if ! grep -qs "\"version\": \"$SNARKJS_VERSION\"" .tools/node_modules/snarkjs/package.json; then
    echo "installing snarkjs@$SNARKJS_VERSION into .tools/" >&2
    npm install --silent --no-audit --no-fund --prefix .tools "snarkjs@$SNARKJS_VERSION" >&2
fi

cargo test --workspace --locked "$@"
