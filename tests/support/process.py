"""Running ``kura`` as a real process on loopback for tests."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _ephemeral_ports_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


#: Ports given to test servers lie below the kernel's ephemeral range. A node
#: that dials a peer before the peer listens gets an ephemeral source port,
#: and on loopback that can be the very port the peer is about to bind: the
#: socket connects to itself and the peer then fails with "address in use".
TEST_PORTS = range(20_000, min(32_000, _ephemeral_ports_start()))


def is_free(port: int) -> bool:
    """Return whether ``port`` can be bound on 127.0.0.1 now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """Return a port of TEST_PORTS that is free now."""
    for _ in range(200):
        port = random.choice(TEST_PORTS)
        if is_free(port):
            return port
    raise RuntimeError(f"no free port found in {TEST_PORTS.start}-{TEST_PORTS.stop - 1}")


def rpc(
    url: str, method: str, params: list[Any] | None = None, timeout: float = 10, *, token: str | None = None
) -> Any:
    """Call one method; return the whole response object, also for HTTP error statuses."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, body, headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


class NodeProcess:
    """A ``kura`` subprocess with its log captured to a file."""

    def __init__(
        self, args: list[str], log_path: Path, env: dict[str, str] | None = None, *, port: int | None = None
    ) -> None:
        """``port`` None picks a free RPC port and appends ``--rpc-port``; else ``args`` already name it."""
        self.port = port if port is not None else free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = list(args) if port is not None else [*args, "--rpc-port", str(self.port)]
        self.log_path = log_path
        self.env = {**os.environ, "ETH_HASH_BACKEND": "pysha3", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> NodeProcess:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.args if self.args[0] == sys.executable else [sys.executable, "-m", "node.cli.main", *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=REPO,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kura exited with {self.process.returncode}; log:\n{self.log()}")
            try:
                rpc(self.url, "eth_blockNumber", timeout=1)
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"kura did not answer on {self.url} within {timeout}s; log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        response = rpc(self.url, method, params)
        if "error" in response:
            raise AssertionError(f"{method} failed: {response['error']}")
        return response["result"]

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def dev_node(tmp_path: Path, *extra: str) -> NodeProcess:
    """A ``kura dev`` process on a data directory under ``tmp_path``."""
    data_dir = tmp_path / "data"
    return NodeProcess(["dev", "--data-dir", str(data_dir), *extra], tmp_path / "node.log")
