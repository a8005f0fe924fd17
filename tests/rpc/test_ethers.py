"""Run the ethers v6 suite (tests/js/ethers_suite.mjs) against a fresh dev node.

Needs Node.js and the pinned ethers in tests/js/node_modules (`npm ci` in
tests/js). Without a ``node`` binary the test is skipped. A missing ethers
install is a failure, because CI installs it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.support.process import REPO, NodeProcess

SUITE = REPO / "tests" / "js" / "ethers_suite.mjs"
ETHERS_PACKAGE = REPO / "tests" / "js" / "node_modules" / "ethers" / "package.json"
SUITE_TIMEOUT_SECONDS = 180


def test_ethers_suite(node: NodeProcess) -> None:
    node_binary = shutil.which("node")
    if node_binary is None:
        pytest.skip("Node.js is not installed (no `node` on PATH); the ethers suite needs it")
    assert ETHERS_PACKAGE.exists(), "ethers is not installed: run `npm ci` in tests/js"

    completed = subprocess.run(
        [node_binary, "--test-reporter=tap", str(SUITE), node.url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_SECONDS,
    )
    output = completed.stdout + completed.stderr
    passed = re.search(r"^# pass (\d+)$", output, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", output, re.MULTILINE)

    assert completed.returncode == 0, f"ethers suite exited with {completed.returncode}:\n{output}"
    assert failed is not None and int(failed.group(1)) == 0, output
    assert passed is not None and int(passed.group(1)) > 0, output
