"""The shelter benchmark script runs end to end on small inputs, restore included."""

from __future__ import annotations

import subprocess
import sys

from tests.support.process import REPO


def test_bench_shelter_small() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/bench_shelter.py", "--size-mb", "8", "--repeats", "1", "--restore"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    for name in ("random.encode_mb_s", "ledger.encode_mb_s", "ledger.decode_mb_s", "restore.restore_seconds"):
        assert float(lines[name]) > 0, name
    assert float(lines["ledger.compressed_ratio"]) < 0.9
    assert int(float(lines["restore.ledger_blocks"])) >= 2
