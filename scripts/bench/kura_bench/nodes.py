"""Starting and stopping the benchmarked nodes: kura dev and Hardhat 3's ``hardhat node``.

Both listen on 127.0.0.1 on a free port and log to a file in the work
directory. Each runs in its own process group, so stopping it also stops
any child it started.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kura_bench.rpc import BenchError, RpcClient, free_port

BENCH_DIR = Path(__file__).resolve().parents[1]
REPO = BENCH_DIR.parents[1]
HARDHAT_NODE_BINARY = BENCH_DIR / "node_modules" / ".bin" / "node"
HARDHAT_PACKAGE = BENCH_DIR / "node_modules" / "hardhat"
HARDHAT_CLI = HARDHAT_PACKAGE / "dist" / "src" / "cli.js"
STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0

SEALED_BLOCK_LOG = re.compile(r"sealed block height=(\d+) txs=(\d+) gas=(\d+) ms=([\d.]+)")


@dataclass
class NodeProcess:
    """A benchmarked node: its process, RPC URL and log file."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self) -> None:
        """Stop the node's process group: SIGINT, then SIGKILL after STOP_TIMEOUT_S."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass


def start_kura(work_dir: Path, source: Path = REPO) -> NodeProcess:
    """Start ``kura dev`` from the tree at ``source`` on a fresh data directory; return once its RPC responds.

    ``python -m`` puts ``source`` first on sys.path, so its node/ package is
    imported rather than the editable install's.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "node.cli.main",
        "--log-level",
        "info",
        "dev",
        "--data-dir",
        str(work_dir / "kura-data"),
        "--rpc-host",
        "127.0.0.1",
        "--rpc-port",
        str(port),
    ]
    return _start("kura", command, source, dict(os.environ), work_dir / "kura.log", port)


def start_hardhat(work_dir: Path) -> NodeProcess:
    """Start ``hardhat node`` with scripts/bench/hardhat.config.js; return once its RPC responds."""
    ensure_hardhat_installed()
    port = free_port()
    command = [str(HARDHAT_NODE_BINARY), str(HARDHAT_CLI), "node", "--hostname", "127.0.0.1", "--port", str(port)]
    return _start("hardhat", command, BENCH_DIR, dict(os.environ), work_dir / "hardhat.log", port)


def _start(name: str, command: list[str], cwd: Path, env: dict[str, str], log_path: Path, port: int) -> NodeProcess:
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    node = NodeProcess(name, process, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_for_rpc(node, STARTUP_TIMEOUT_S)
    except BaseException:
        node.stop()
        raise
    return node


def _wait_for_rpc(node: NodeProcess, timeout: float) -> None:
    client = RpcClient(node.url, timeout=2)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if node.process.poll() is not None:
                raise BenchError(f"{node.name} exited with code {node.process.returncode}; log:\n{log_tail(node)}")
            try:
                client.call("eth_blockNumber")
                return
            except (OSError, http.client.HTTPException):
                client.close()
                time.sleep(0.2)
    finally:
        client.close()
    raise BenchError(f"{node.name} did not respond on {node.url} within {timeout:.0f}s; log:\n{log_tail(node)}")


def log_tail(node: NodeProcess, lines: int = 30) -> str:
    if not node.log_path.exists():
        return "(no log)"
    return "\n".join(node.log_path.read_text(errors="replace").splitlines()[-lines:])


def export_revision(revision: str, destination: Path) -> str:
    """Write the files of git ``revision`` to ``destination``; return its short commit hash."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "--verify", f"{revision}^{{commit}}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except subprocess.CalledProcessError as error:
        raise BenchError(f"git revision {revision!r} not found: {error.stderr.strip()}") from None
    destination.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=REPO, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    return commit


def ensure_hardhat_installed() -> None:
    """Run ``npm ci`` in scripts/bench/ unless Hardhat and the Node.js 22 binary are there."""
    if HARDHAT_CLI.exists() and HARDHAT_NODE_BINARY.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("npm not found; install Node.js and npm, then run 'npm ci' in scripts/bench/")
    print("installing Hardhat 3 and Node.js 22 into scripts/bench/node_modules (npm ci)", file=sys.stderr)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=BENCH_DIR, check=True, timeout=900)
    if not HARDHAT_CLI.exists():
        raise BenchError(f"npm ci in {BENCH_DIR} did not install {HARDHAT_CLI}")


def hardhat_versions() -> tuple[str, str]:
    """Return the versions of the installed Hardhat and of the Node.js binary that runs it."""
    hardhat = json.loads((HARDHAT_PACKAGE / "package.json").read_text())["version"]
    node = subprocess.run(
        [str(HARDHAT_NODE_BINARY), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return hardhat, node


def sealed_blocks(node: NodeProcess, heights: Iterable[int]) -> list[dict[str, float]]:
    """Return the build times of blocks ``heights`` from kura's 'sealed block' log lines."""
    wanted = set(heights)
    blocks = []
    for match in SEALED_BLOCK_LOG.finditer(node.log_path.read_text(errors="replace")):
        height = int(match.group(1))
        if height in wanted:
            blocks.append(
                {"height": height, "txs": int(match.group(2)), "gas": int(match.group(3)), "ms": float(match.group(4))}
            )
    return blocks
