"""The shelter benchmark script runs end to end on a small snapshot."""

from __future__ import annotations

import subprocess
import sys

from tests.support.process import REPO


def test_bench_shelter_small() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/bench_shelter.py", "--size-mb", "8"], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "encode_mb_s:" in result.stdout
    assert "decode_mb_s:" in result.stdout
