"""Devnets of real node processes on loopback, for tests."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.cli.network import DEVNET_DEFAULT_GENESIS, initialize_devnet_node, node_command, prepare_devnet
from node.rpc.auth import make_token
from tests.support.process import NodeProcess, free_port, rpc


class Devnet:
    """A devnet directory and one NodeProcess per node, started on demand."""

    def __init__(self, root: Path, validators: int, rpc_nodes: int, *, empty_block_period: int | None = None) -> None:
        self.root = root
        p2p_base, rpc_base = _free_port_block(validators + rpc_nodes)
        genesis_path = None
        if empty_block_period is not None:
            genesis = json.loads(DEVNET_DEFAULT_GENESIS.read_text())
            genesis["config"]["qbft"]["emptyblockperiodseconds"] = empty_block_period
            root.mkdir(parents=True, exist_ok=True)
            genesis_path = root.parent / f"{root.name}-genesis.json"
            genesis_path.write_text(json.dumps(genesis))
        self.layout = prepare_devnet(
            root,
            validators=validators,
            rpc_nodes=rpc_nodes,
            p2p_base_port=p2p_base,
            rpc_base_port=rpc_base,
            genesis_path=genesis_path,
        )
        self.nodes: list[dict[str, Any]] = self.layout["nodes"]
        self.processes: list[NodeProcess] = []
        for node in self.nodes:
            initialize_devnet_node(root, node)
            command = node_command(root, node, self.nodes)
            self.processes.append(NodeProcess(command, root / node["name"] / "node.log", port=node["rpc_port"]))

    def start(self, *indexes: int) -> None:
        for index in indexes or range(len(self.processes)):
            self.processes[index].start()

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    def wipe(self, index: int) -> None:
        """Delete a stopped node's chain data and re-create its genesis."""
        shutil.rmtree(self.root / self.nodes[index]["name"] / "data")
        initialize_devnet_node(self.root, self.nodes[index])

    def admin_token(self) -> str:
        """A fresh JWT for the devnet's admin namespaces."""
        return make_token(bytes.fromhex((self.root / "jwt-secret").read_text().strip()))

    def head(self, index: int) -> dict[str, Any]:
        return rpc(self.processes[index].url, "eth_getBlockByNumber", ["latest", False])["result"]


def _free_port_block(count: int) -> tuple[int, int]:
    """Two runs of ``count`` consecutive free ports (p2p, rpc); retried on collision."""
    for _ in range(50):
        p2p = free_port()
        rpc_port = free_port()
        ports = [p2p + i for i in range(count)] + [rpc_port + i for i in range(count)]
        if len(set(ports)) == len(ports) and all(_is_free(port) for port in ports):
            return p2p, rpc_port
    raise RuntimeError("no block of free ports found")


def _is_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
