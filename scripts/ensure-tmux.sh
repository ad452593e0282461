#!/usr/bin/env bash
# Makes sure a tmux binary is on PATH, installing Debian's package when it is missing.
set -euo pipefail

if command -v tmux >/dev/null 2>&1; then
    exit 0
fi
echo "tmux is not installed; installing it with apt-get" >&2
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: tmux is missing and apt-get is not available; install tmux 3.2 or newer with your package manager (brew install tmux, dnf install tmux, ...) and run this again" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: tmux is missing and installing it needs root; run 'apt-get install tmux' as root and run this again" >&2
        exit 1
    fi
fi
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq tmux; } >&2; then
    echo "error: 'apt-get install tmux' failed; install tmux 3.2 or newer by hand and run this again" >&2
    exit 1
fi
command -v tmux >/dev/null 2>&1 || { echo "error: tmux still not on PATH after installing it" >&2; exit 1; }
