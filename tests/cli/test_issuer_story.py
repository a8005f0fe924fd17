"""``scripts/issuer_story.py`` end to end: it starts its own node and its figures add up."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.support.process import REPO

FIGURES = re.compile(
    r"figures: supply (?P<supply>[0-9.]+) g, reserve (?P<reserve>[0-9.]+) g, "
    r"exchange (?P<exchange>[0-9.]+) g, customer (?P<customer>[0-9.]+) g"
)
#: (supply, reserve, exchange, customer) in grams after steps 0 to 7 on a fresh node.
EXPECTED = [
    ("0", "0", "0", "0"),
    ("0", "1000", "0", "0"),
    ("0", "1000", "0", "0"),
    ("0", "1000", "0", "0"),
    ("600", "1000", "600", "0"),
    ("600", "1000", "450", "150"),
    ("500", "1000", "450", "50"),
    ("500", "900", "450", "50"),
]


def test_story_figures_add_up():
    env = {**os.environ, "ETH_HASH_BACKEND": "pysha3", "LANGUAGE": "en"}

    completed = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "issuer_story.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=180,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    figures = [
        (match["supply"], match["reserve"], match["exchange"], match["customer"])
        for match in FIGURES.finditer(completed.stdout)
    ]
    assert figures == EXPECTED
    assert completed.stdout.count("$ kura issuer sign ") == 3
    assert "Minted 600 g to " in completed.stdout
    assert "Burned 100 g from " in completed.stdout
    assert "The story is complete." in completed.stdout
