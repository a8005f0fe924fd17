#!/usr/bin/env bash
# Refresh the kura command's message catalogues.
#   scripts/i18n.sh          extract messages, merge them into each .po, compile .mo
#   scripts/i18n.sh --check  fail if a catalogue is stale or a message is untranslated
set -euo pipefail
cd "$(dirname "$0")/.."
LOCALE=node/cli/locale
POT="$LOCALE/kura.pot"

pybabel extract --no-location --sort-output --omit-header -k _ -o "$POT.new" node/cli >/dev/null 2>&1
if [[ "${1:-}" == "--check" ]]; then
    if ! diff -q "$POT" "$POT.new" >/dev/null; then
        rm -f "$POT.new"
        echo "message catalogue is stale: run scripts/i18n.sh and translate the new messages" >&2
        exit 1
    fi
    rm -f "$POT.new"
    python - "$LOCALE" <<'PY'
import sys
from pathlib import Path
from babel.messages.pofile import read_po
missing = []
for po in Path(sys.argv[1]).glob("*/LC_MESSAGES/kura.po"):
    catalog = read_po(po.open("rb"))
    missing += [f"{po}: {m.id!r}" for m in catalog if m.id and (not m.string or m.fuzzy)]
if missing:
    print("untranslated messages:\n" + "\n".join(missing), file=sys.stderr)
    sys.exit(1)
PY
    exit 0
fi
mv "$POT.new" "$POT"
pybabel update --no-fuzzy-matching -i "$POT" -d "$LOCALE" -D kura -l ja >/dev/null 2>&1
pybabel compile -d "$LOCALE" -D kura >/dev/null 2>&1
echo "catalogues updated in $LOCALE"
