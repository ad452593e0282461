#!/usr/bin/env bash
# cao vs CAO 2.5.4 side by side on this machine: server start, idle RSS, `session list`, a
# mock-agent session until ready, inbox delivery, a handoff to a mock worker, and the per-agent
# MCP stdio server's start and RSS. See docs/benchmarks.md ("cao vs CAO") and `--help`.
#   bench/compare-cao.sh [--rounds N] [--cao-bin PATH] [--only cao|cao-python] [--json] [--keep]
# CAO is installed once into ${CAO_BENCH_CACHE:-$HOME/.cache/cao-bench}/cao-2.5.4-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
for py in python3.11 python3.12 python3.13 python3.10 python3; do
    if command -v "$py" >/dev/null 2>&1; then
        exec "$py" bench/compare_cao.py "$@"
    fi
done
echo "compare-cao: no python3 found" >&2
exit 2
