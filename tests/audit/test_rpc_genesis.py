"""kura_getGenesis serves the genesis document a replay over JSON-RPC starts from."""

from __future__ import annotations

import json

from tests.support.process import REPO, NodeProcess, rpc


def test_genesis_served_over_rpc(shared_node: NodeProcess) -> None:
    served = rpc(shared_node.url, "kura_getGenesis", [])["result"]
    expected = json.loads((REPO / "genesis" / "dev.json").read_text())
    assert served == expected
