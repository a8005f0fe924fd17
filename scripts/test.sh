#!/usr/bin/env bash
# Run every check and test: lint, types, message catalogues, contract
# artefacts, then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export ETH_HASH_BACKEND=pysha3

# JavaScript clients and the Solidity compiler, when Node.js is present.
if command -v npm >/dev/null 2>&1; then
    for package in contracts tests/js; do
        if [[ -f "$package/package-lock.json" ]]; then
            (cd "$package" && npm ci --silent --no-audit --no-fund)
        fi
    done
    scripts/check_contracts.sh
else
    echo "npm not found: skipping the contract rebuild check and the ethers suite" >&2
fi

ruff check node tests scripts
mypy node
scripts/i18n.sh --check

pytest -q "$@"
