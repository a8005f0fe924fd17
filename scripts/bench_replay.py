#!/usr/bin/env python3
"""Measure ``kura audit replay`` against the node's own block import on the same chain.

1. Build a chain of about ``--transactions`` transactions in process with the node's code
   (``Chain.build``, proposer and commit seals, ``Chain.commit`` into LevelDB): the issuer story
   of ``tests/audit/builders.py``, then GoldCoin transfers and ether transfers, 100 per block.
   Building in process rather than over JSON-RPC takes seconds instead of minutes, and the
   blocks are the ones a ``kura dev`` node would seal.
2. Export it to a block file.
3. Node import: read the file and import each block into an empty LevelDB store the way a
   node imports a block from a peer (``NetworkBridge.import_block``: ``verify_seals``,
   ``Chain.execute_received``, ``Chain.commit``).
4. Replay: ``kura audit replay --data-dir`` on the built chain, into memory (the default),
   with every check (seals, signatures, roots, stored receipts).

Each measurement runs ``--repeats`` times, alternating, and the fastest run of each counts, for
wall time and for this process's CPU time.
Both must end on the same state root as the built chain. Prints a table, and with
``--json FILE`` writes the figures.

    python scripts/bench_replay.py                      # 10,000 transactions
    python scripts/bench_replay.py --transactions 300   # the short variant the tests run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

from node.audit.blockfile import open_block_file, read_blocks  # noqa: E402
from node.audit.replay import replay  # noqa: E402
from node.audit.sources import DataDirSource  # noqa: E402
from node.audit.transfer import export_blocks  # noqa: E402
from node.chain.chain import Chain, initialize_store  # noqa: E402
from node.chain.genesis import parse_genesis  # noqa: E402
from node.consensus.seals import verify_seals  # noqa: E402
from node.consensus.validators import ValidatorTracker  # noqa: E402
from node.store.backend import LevelDBBackend  # noqa: E402
from tests.audit.builders import build_traffic, dev_genesis_document, new_dev_chain  # noqa: E402


@dataclass
class BenchResult:
    transactions: int
    blocks: int
    build_seconds: float
    import_seconds: float
    replay_seconds: float
    #: CPU time of this process, less sensitive than wall time to other jobs on a shared machine.
    import_cpu_seconds: float
    replay_cpu_seconds: float
    head_state_root: str
    import_state_root: str
    replay_state_root: str

    @property
    def import_tps(self) -> float:
        return self.transactions / self.import_seconds

    @property
    def replay_tps(self) -> float:
        return self.transactions / self.replay_seconds


def build_chain(data_dir: Path, transactions: int) -> tuple[int, int, str, float]:
    """Build the chain; return (transactions, blocks, head state root, seconds)."""
    backend = LevelDBBackend(data_dir / "chaindata", create=True)
    try:
        chain = new_dev_chain(backend)
        started = time.perf_counter()
        sealed = build_traffic(chain, transactions)
        seconds = time.perf_counter() - started
        return sealed, int(chain.head.block_number), "0x" + chain.head.state_root.hex(), seconds
    finally:
        backend.close()


def node_import(block_file: Path, target: Path) -> tuple[str, float, float]:
    """Import a block file as a node imports peers' blocks; return (head state root, seconds, CPU seconds)."""
    backend = LevelDBBackend(target / "chaindata", create=True)
    try:
        initialize_store(backend, parse_genesis(dev_genesis_document()))
        chain = Chain(backend)
        genesis = chain.store.header_by_number(0)
        assert genesis is not None
        tracker = ValidatorTracker(chain.store.header_by_hash, genesis)
        started, cpu_started = time.perf_counter(), time.process_time()
        with open_block_file(block_file, "rb") as stream:
            for header, transactions in read_blocks(stream):
                if header.block_number == 0:
                    continue
                parent = chain.store.header_by_hash(header.parent_hash)
                assert parent is not None
                verify_seals(header, tracker.next_validators(parent))
                chain.commit(chain.execute_received(header, transactions))
        return "0x" + chain.head.state_root.hex(), time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        backend.close()


def audit_replay(data_dir: Path) -> tuple[str, float, float]:
    source = DataDirSource(data_dir)
    cpu_started = time.process_time()
    try:
        result = replay(source)
    finally:
        source.close()
    return "0x" + result.head.state_root.hex(), result.seconds, time.process_time() - cpu_started


def run(transactions: int, work_dir: Path, repeats: int = 2) -> BenchResult:
    built = work_dir / "built"
    sealed, blocks, root, build_seconds = build_chain(built, transactions)

    block_file = work_dir / "chain.rlp"
    source = DataDirSource(built)
    try:
        export_blocks(source, block_file)
    finally:
        source.close()

    # Alternate the two runs and keep each one's fastest time, so neither gains from running
    # second (warm caches) or loses to another process's burst on the shared machine.
    imports, replays = [], []
    for attempt in range(repeats):
        target = work_dir / f"imported-{attempt}"
        import_root, seconds, cpu = node_import(block_file, target)
        shutil.rmtree(target)
        imports.append((seconds, cpu))
        replay_root, seconds, cpu = audit_replay(built)
        replays.append((seconds, cpu))
    return BenchResult(
        sealed,
        blocks,
        build_seconds,
        min(wall for wall, _ in imports),
        min(wall for wall, _ in replays),
        min(cpu for _, cpu in imports),
        min(cpu for _, cpu in replays),
        root,
        import_root,
        replay_root,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=10_000, help="transactions in the chain (default 10000)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the fastest counts")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    args = parser.parse_args(argv)

    work_dir = Path(tempfile.mkdtemp(prefix="kura-bench-replay-"))
    try:
        result = run(args.transactions, work_dir, args.repeats)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    print(f"chain: {result.transactions} transactions in {result.blocks} blocks, built in {result.build_seconds:.1f} s")
    print(f"{'run':<36}{'seconds':>9}{'CPU s':>8}{'tx/s':>8}{'blocks/s':>10}")
    for name, seconds, cpu in (
        ("node import (seals+execute+commit)", result.import_seconds, result.import_cpu_seconds),
        ("audit replay (all checks, memory)", result.replay_seconds, result.replay_cpu_seconds),
    ):
        rates = f"{result.transactions / seconds:>8.0f}{result.blocks / seconds:>10.2f}"
        print(f"{name:<36}{seconds:>9.2f}{cpu:>8.2f}{rates}")
    print(
        f"replay / import: {result.replay_seconds / result.import_seconds:.2f} wall time, "
        f"{result.replay_cpu_seconds / result.import_cpu_seconds:.2f} CPU time"
    )
    same = result.head_state_root == result.import_state_root == result.replay_state_root
    print(f"state roots equal: {same} ({result.head_state_root})")
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
