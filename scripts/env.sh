# Sourced by the other scripts: one place for the toolchain, tool paths and build directory.
# shellcheck shell=bash
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROOT
export RUST_TOOLCHAIN=1.88.0
export RUSTUP_TOOLCHAIN=$RUST_TOOLCHAIN
# Build output outside the clone, so CI reuses what a session compiled.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/compute-escrow/target}
# Where setup puts cargo-contract and substrate-contracts-node.
export ESCROW_TOOLS=${ESCROW_TOOLS:-$HOME/.cache/compute-escrow/bin}
export PATH=$ESCROW_TOOLS:$HOME/.cargo/bin:$PATH
export CONTRACTS_NODE=${CONTRACTS_NODE:-$ESCROW_TOOLS/substrate-contracts-node}
# The release bundle of the escrow contract (built by scripts/build-contracts).
export ESCROW_BUNDLE=${ESCROW_BUNDLE:-$CARGO_TARGET_DIR/ink/escrow/escrow.contract}
