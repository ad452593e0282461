#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property and real-tmux integration tests,
# and a build of the fuzz target. Runs on a fresh machine that has only Rust installed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-tmux.sh
echo "== tmux: $(tmux -V)"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

echo "== fuzz target builds"
cargo build --manifest-path fuzz/Cargo.toml --locked --bins
