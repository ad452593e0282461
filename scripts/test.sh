#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property and real-tmux integration tests,
# and a build of the fuzz target. Runs on a fresh machine that has only Rust installed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-tmux.sh
echo "== tmux: $(tmux -V)"
scripts/ensure-agent-toolchain.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test (the conformance suite installs the real agent CLIs into ~/.cache/cao/conformance)"
cargo test --workspace --locked

echo "== fuzz targets: short runs"
if [ "${CAO_SKIP_FUZZ:-}" = "1" ]; then
    echo "skipped (CAO_SKIP_FUZZ=1)"
else
    if ! cargo fuzz --version >/dev/null 2>&1; then
        cargo install --locked cargo-fuzz
    fi
    # cargo-fuzz needs nightly-only flags (sanitizer, coverage); this machine has only the stable
    # toolchain, and RUSTC_BOOTSTRAP lets it accept them.
    log="$(mktemp)"
    for target in control_parser control_line_quoting; do
        if ! RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- \
            -max_total_time="${CAO_FUZZ_SECONDS:-20}" >"$log" 2>&1; then
            tail -n 60 "$log"
            echo "error: fuzz target $target failed; the crashing input is under fuzz/artifacts/$target" >&2
            exit 1
        fi
        echo "$target: $(grep -E '^Done [0-9]+ runs' "$log" || tail -n 1 "$log")"
    done
    rm -f "$log"
fi
