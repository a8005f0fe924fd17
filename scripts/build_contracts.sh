#!/usr/bin/env bash
# Install the pinned npm dependencies and compile contracts/ into contracts/build/.
#
# Usage: scripts/build_contracts.sh
# Needs node and npm. The versions of solc-js and OpenZeppelin come from
# contracts/package-lock.json, and the compiler settings from contracts/compile.js.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root/contracts"

npm ci --no-audit --no-fund --loglevel=error
node compile.js
