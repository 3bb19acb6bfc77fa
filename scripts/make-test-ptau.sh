#!/usr/bin/env bash
# Regenerates tests/fixtures/tiny.ptau: a snarkjs Powers of Tau file for BN254
# ("bn128") at power P (default 8), with one contribution and prepared for
# phase 2, i.e. laid out exactly like a real ceremony's final .ptau file.
#
# The fixture is for tests only: its single contribution's entropy is not a
# secret, so the SRS it gives is NOT secure.  (snarkjs also mixes OS randomness
# into the entropy, so each run produces a different, equally valid file.)
#
# snarkjs is installed, pinned, into the ignored folder .tools/ at the
# repository root; nothing is installed globally.
#
# Usage: scripts/make-test-ptau.sh [POWER] [OUTPUT]
#   POWER   defaults to 8 (a prepared file is about 260 KB; each extra power doubles it)
#   OUTPUT  defaults to tests/fixtures/tiny.ptau
set -euo pipefail

SNARKJS_VERSION="0.7.6"
POWER="${1:-8}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTPUT="${2:-$ROOT/tests/fixtures/tiny.ptau}"
TOOLS="$ROOT/.tools"
SNARKJS="$TOOLS/node_modules/.bin/snarkjs"

if ! [[ "$POWER" =~ ^[0-9]+$ ]] || (( POWER < 1 || POWER > 28 )); then
    echo "error: POWER must be an integer in 1..=28, got '$POWER'" >&2
    exit 2
fi

if [[ ! -x "$SNARKJS" ]] || ! grep -q "\"version\": \"$SNARKJS_VERSION\"" \
        "$TOOLS/node_modules/snarkjs/package.json" 2>/dev/null; then
    echo "installing snarkjs@$SNARKJS_VERSION into $TOOLS" >&2
    mkdir -p "$TOOLS"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS" "snarkjs@$SNARKJS_VERSION" >&2
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

"$SNARKJS" powersoftau new bn128 "$POWER" "$WORK/pot_0000.ptau" >&2
"$SNARKJS" powersoftau contribute "$WORK/pot_0000.ptau" "$WORK/pot_0001.ptau" \
    --name="zkinfer test fixture (insecure)" -e="zkinfer test fixture entropy, not secret" >&2
"$SNARKJS" powersoftau prepare phase2 "$WORK/pot_0001.ptau" "$WORK/final.ptau" >&2
"$SNARKJS" powersoftau verify "$WORK/final.ptau" >&2

mkdir -p "$(dirname "$OUTPUT")"
mv "$WORK/final.ptau" "$OUTPUT"
echo "wrote $OUTPUT ($(wc -c < "$OUTPUT") bytes, power $POWER)" >&2
