"""Running a JavaScript client suite from tests/js against a node process."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.support.process import REPO, NodeProcess

JS_DIR = REPO / "tests" / "js"
SUITE_TIMEOUT_SECONDS = 180


def run_suite(script: str, package: str, node: NodeProcess) -> None:
    """Run ``tests/js/<script>`` with Node's test runner against ``node`` and check that every test passed.

    Skips without a ``node`` binary. A missing ``package`` is a failure, because CI installs it.
    """
    node_binary = shutil.which("node")
    if node_binary is None:
        pytest.skip("Node.js is not installed (no `node` on PATH); the JavaScript suites need it")
    assert (JS_DIR / "node_modules" / package / "package.json").exists(), (
        f"{package} is missing: run `npm ci` in tests/js"
    )

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
