"""Devnets of real node processes on loopback, for tests."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.cli.network import DEVNET_DEFAULT_GENESIS, initialize_devnet_node, node_command, prepare_devnet
from node.rpc.auth import make_token
from tests.support.process import NodeProcess, free_port, is_free, rpc


class Devnet:
    """A devnet directory and one NodeProcess per node, started on demand."""

    def __init__(
        self,
        root: Path,
        validators: int,
        rpc_nodes: int,
        *,
        empty_block_period: int | None = None,
        links: Links | None = None,
    ) -> None:
        """With ``links``, every node reaches every other through a forwarder of ``links``, which the test may cut."""
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
            if links is not None:
                index = len(self.processes)
                peers = command.index("--peers") + 1
                command[peers:] = [
                    f"127.0.0.1:{links.forward(index, other, peer['p2p_port'])}"
                    for other, peer in enumerate(self.nodes)
                    if other != index
                ]
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
        if len(set(ports)) == len(ports) and all(is_free(port) for port in ports):
            return p2p, rpc_port
    raise RuntimeError("no block of free ports found")


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


class Links:
    """TCP forwarders on 127.0.0.1 between devnet nodes, so a test can partition the network.

    Each forwarder carries the connections node ``i`` opens to node ``j``;
    TLS passes through untouched. :meth:`cut` closes the links between two
    groups and refuses new ones until :meth:`heal`.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="links", daemon=True)
        self._thread.start()
        self._cut: set[frozenset[int]] = set()
        self._open: dict[frozenset[int], set[asyncio.StreamWriter]] = {}

    def forward(self, source: int, target: int, target_port: int) -> int:
        """Start a forwarder for ``source``'s connections to ``target``; return its port."""

        async def start() -> int:
            server = await asyncio.start_server(
                lambda reader, writer: self._carry(frozenset((source, target)), target_port, reader, writer),
                "127.0.0.1",
                0,
            )
            return server.sockets[0].getsockname()[1]

        return asyncio.run_coroutine_threadsafe(start(), self._loop).result(timeout=10)

    async def _carry(
        self, pair: frozenset[int], target_port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if pair in self._cut:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            writer.close()
            return
        streams = self._open.setdefault(pair, set())
        streams.update((writer, upstream_writer))
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            streams.discard(writer)
            streams.discard(upstream_writer)
            writer.close()
            upstream_writer.close()

    def cut(self, group: set[int], other: set[int]) -> None:
        """Close every link between ``group`` and ``other`` and refuse new ones."""

        def apply() -> None:
            for a in group:
                for b in other:
                    pair = frozenset((a, b))
                    self._cut.add(pair)
                    for stream in self._open.pop(pair, set()):
                        stream.close()

        self._loop.call_soon_threadsafe(apply)

    def heal(self) -> None:
        self._loop.call_soon_threadsafe(self._cut.clear)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
