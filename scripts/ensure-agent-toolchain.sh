#!/usr/bin/env bash
# Makes sure what the conformance suite needs to install and run the real agent CLIs is on
# PATH: npm (Node.js) and python3 with venv for the CLIs themselves, git, and unshare + ip for
# the loopback-only network namespace. Missing pieces are installed from Debian's packages.
set -euo pipefail

# Gemini CLI and Qwen Code need Node.js 20 or newer; an older one fails their install.
check_node_version() {
    if command -v node >/dev/null 2>&1 &&
        ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
        echo "warning: Node.js $(node --version) is older than 20, which Gemini CLI and Qwen Code need: install Node.js 20+ (https://nodejs.org) before the conformance suite" >&2
    fi
}

missing=()
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ "${#missing[@]}" -eq 0 ]; then
    check_node_version
    exit 0
fi
echo "installing for the conformance suite: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi
if ! command -v apt-get >/dev/null 2>&1 ||
    ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; } >&2; then
    echo "warning: could not install ${missing[*]}; the conformance suite skips the CLIs it cannot install" >&2
fi
check_node_version
