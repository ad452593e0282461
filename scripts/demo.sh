#!/usr/bin/env bash
# cao's main job for now: the typed tmux layer end to end on a private tmux server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-tmux.sh
cargo run --release --locked -p cao -- tmux demo "$@"
