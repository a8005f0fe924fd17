#!/usr/bin/env bash
# Compile the test contracts in tests/contracts/ into tests/contracts/build/.
#
# Usage: scripts/build_test_contracts.sh [--check]
#   --check  rebuild, then fail if tests/contracts/build differs from what git has
#            committed (a source changed without a rebuild).
# Needs node and npm. solc-js comes from contracts/ (pinned in its package-lock.json);
# `npm ci` runs there only when contracts/node_modules is missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

check=false
case "${1:-}" in
    "") ;;
    --check) check=true ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if [ ! -d contracts/node_modules/solc ]; then
    (cd contracts && npm ci --no-audit --no-fund --loglevel=error)
fi
node scripts/build_test_contracts.js

if "$check"; then
    untracked="$(git ls-files --others --exclude-standard -- tests/contracts/build)"
    if [ -n "$untracked" ]; then
        echo "error: tests/contracts/build has artefacts that are not committed:" >&2
        echo "$untracked" >&2
        exit 1
    fi
    if ! git diff --exit-code -- tests/contracts/build; then
        echo "error: tests/contracts/build differs from the committed artefacts;" \
            "run scripts/build_test_contracts.sh and commit tests/contracts/build" >&2
        exit 1
    fi
    echo "tests/contracts/build matches the sources"
fi
