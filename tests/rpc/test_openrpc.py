"""``rpc.discover``: the OpenRPC document lists the methods the node serves."""

from __future__ import annotations

from tests.rpc.helpers import call
from tests.support.process import NodeProcess


def test_discover_lists_methods(shared_node: NodeProcess) -> None:
    document = call(shared_node.url, "rpc.discover")
    names = [entry["name"] for entry in document["methods"]]
    assert document["openrpc"] == "1.2.6"
    assert document["info"]["title"] == "Kura JSON-RPC"
    assert names == sorted(names)
    for expected in ("eth_call", "eth_getLogs", "eth_subscribe", "txpool_status", "rpc.discover"):
        assert expected in names
    assert all(entry["params"] == [] for entry in document["methods"])


def test_discover_hides_admin_without_jwt(shared_node: NodeProcess) -> None:
    names = {entry["name"] for entry in call(shared_node.url, "rpc.discover")["methods"]}
    assert not any(name.startswith(("perm_", "qbft_", "admin_", "shelter_")) for name in names)
