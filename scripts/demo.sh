#!/usr/bin/env bash
# cao's main job: build cao, start a team of cao's built-in mock agents (a supervisor that hands
# off to a developer and assigns a reviewer over cao's MCP tools), give it a task headless and
# print the supervisor's final answer. Built-in defaults: data in $CAO_HOME_DIR (default
# ~/.local/share/cao, SQLite inside), tmux socket `cao`, server on 127.0.0.1:9889.
# Extra arguments replace the task text.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-tmux.sh
cargo build --release --locked -p cao
cao=target/release/cao
task="${*:-add a --verbose flag to the build script}"
session="demo-$$"

# The server is started by `cao launch` when none answers; stop it again only if we started it.
started_server=1
# `cao session list` exits 3 when no server answers (no curl needed on a fresh machine).
if "$cao" session list >/dev/null 2>&1; then
    started_server=0
fi
cleanup() {
    if [ "$started_server" = 1 ]; then
        "$cao" shutdown --session "$session" --server >/dev/null 2>&1 || true
    else
        "$cao" shutdown --session "$session" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

"$cao" launch --agents code_supervisor --provider mock --session-name "$session" --headless "$task"
echo
echo "the team that answered (the handoff worker is already gone):"
"$cao" session status "$session"
