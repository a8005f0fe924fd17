"""Run the ethers v6 suite (tests/js/ethers_suite.mjs) against a fresh dev node.

Needs Node.js and the pinned ethers in tests/js/node_modules (`npm ci` in
tests/js). Without a ``node`` binary the test is skipped. A missing ethers
install is a failure, because CI installs it.
"""

from __future__ import annotations

from tests.support.js import run_suite
from tests.support.process import NodeProcess


def test_ethers_suite(node: NodeProcess) -> None:
    run_suite("ethers_suite.mjs", "ethers", node)
