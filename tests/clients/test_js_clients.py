"""Run the JavaScript client suites in tests/js against fresh dev nodes: viem over HTTP and
WebSocket, and ethers v6 over WebSocket (tests/rpc/test_ethers.py runs the HTTP ethers suite).

Needs Node.js and the pinned packages in tests/js/node_modules (`npm ci` in tests/js).
Without a ``node`` binary the tests are skipped; a missing package is a failure, because
CI installs them.
"""

from __future__ import annotations

from tests.support.js import run_suite
from tests.support.process import NodeProcess


def test_viem_suite(node: NodeProcess) -> None:
    run_suite("viem_suite.mjs", "viem", node)


def test_ethers_websocket_suite(node: NodeProcess) -> None:
    run_suite("ethers_ws_suite.mjs", "ethers", node)
