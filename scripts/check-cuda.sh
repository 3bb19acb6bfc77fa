#!/usr/bin/env bash
# Type-checks the CUDA backend (feature `cuda`) on a machine without a GPU:
# nvcc comes from PyPI's CUDA wheels, installed into .tools/cuda (ignored).
# `cargo check` compiles halo2-axiom-gpu's kernels (sm_90, a few minutes)
# and checks zkinfer's CUDA code against its API. Linking or running needs a
# CUDA driver and a GPU, which this script does not have. Not part of CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CUDA_VERSION="13.5.*"
VENV=.tools/cuda
if [[ ! -x "$VENV/bin/pip" ]]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet "nvidia-cuda-nvcc==$CUDA_VERSION" "nvidia-cuda-runtime==$CUDA_VERSION" \
    "nvidia-cuda-crt==$CUDA_VERSION" "nvidia-nvvm==$CUDA_VERSION" nvidia-cuda-cccl
CU="$(cd "$VENV"/lib/python3*/site-packages/nvidia/cu13 && pwd)"

export PATH="$CU/bin:$PATH" CUDA_HOME="$CU" CUDA_PATH="$CU"
# Without a GPU there is no nvidia-smi to ask for the architecture.
export CUDA_ARCH="${CUDA_ARCH:-90}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/cuda-check}"
cargo check -p zkinfer-gpu -p zkinfer-prover --features zkinfer-prover/cuda "$@"
