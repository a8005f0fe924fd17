"""Run the JavaScript client suites in tests/js against fresh dev nodes: viem over HTTP and
WebSocket, and ethers v6 over WebSocket (tests/rpc/test_ethers.py runs the HTTP ethers suite).

Needs Node.js and the pinned packages in tests/js/node_modules (`npm ci` in tests/js).
Without a ``node`` binary the tests are skipped; a missing package is a failure, because
CI installs them.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.support.process import REPO, NodeProcess

JS_DIR = REPO / "tests" / "js"
SUITE_TIMEOUT_SECONDS = 180


def run_suite(script: str, package: str, node: NodeProcess) -> None:
    node_binary = shutil.which("node")
    if node_binary is None:
        pytest.skip("Node.js is not installed (no `node` on PATH); the JavaScript suites need it")
    assert (JS_DIR / "node_modules" / package / "package.json").exists(), f"{package} is missing: run `npm ci` in tests/js"

    completed = subprocess.run(
        [node_binary, "--test-reporter=tap", str(JS_DIR / script), node.url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_SECONDS,
    )
    output = completed.stdout + completed.stderr
    passed = re.search(r"^# pass (\d+)$", output, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", output, re.MULTILINE)

    assert completed.returncode == 0, f"{script} exited with {completed.returncode}:\n{output}"
    assert failed is not None and int(failed.group(1)) == 0, output
    assert passed is not None and int(passed.group(1)) > 0, output


def test_viem_suite(node: NodeProcess) -> None:
    run_suite("viem_suite.mjs", "viem", node)


def test_ethers_websocket_suite(node: NodeProcess) -> None:
    run_suite("ethers_ws_suite.mjs", "ethers", node)
