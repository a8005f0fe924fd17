#!/usr/bin/env bash
# Rebuild the contracts and fail if the committed artefacts in contracts/build/ differ.
#
# Usage: scripts/check_contracts.sh   (CI runs this)
# A failure means a source or compiler setting changed without a rebuild: run
# scripts/build_contracts.sh and commit contracts/build/.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

scripts/build_contracts.sh

# New artefacts that were never committed do not show in `git diff`, so list them too.
untracked="$(git ls-files --others --exclude-standard -- contracts/build)"
if [ -n "$untracked" ]; then
    echo "error: contracts/build has artefacts that are not committed:" >&2
    echo "$untracked" >&2
    exit 1
fi

if ! git diff --exit-code --stat -- contracts/build; then
    echo "error: contracts/build differs from the committed artefacts;" \
        "run scripts/build_contracts.sh and commit contracts/build" >&2
    exit 1
fi
echo "contracts/build matches the sources"
