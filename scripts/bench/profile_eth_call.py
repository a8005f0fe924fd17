"""Profile kura's eth_call handler in-process, without HTTP, on a data directory left by a benchmark.

Run the benchmark with ``--log-dir DIR`` first, so the node's data directory
survives, then (with the node stopped, since LevelDB allows one process):

    python scripts/bench/profile_eth_call.py DIR/kura-data

Each call queries balanceOf of a different address, as the benchmark does,
so a per-block cache of call results never returns a stored result. The script prints the handler's
p50/p99 latency and cProfile's top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

import rlp  # noqa: E402
from eth_utils import keccak  # noqa: E402

from node.chain.chain import Chain  # noqa: E402
from node.rpc import server  # noqa: E402, F401 - importing the server registers every method
from node.rpc.filters import FilterManager  # noqa: E402
from node.rpc.registry import METHODS, RpcContext  # noqa: E402
from node.store.backend import LevelDBBackend  # noqa: E402

BALANCE_OF_SELECTOR = "70a08231"


def find_token(chain: Chain) -> str:
    """Address of the first contract created on the chain: the benchmark's token."""
    for number in range(1, chain.head.block_number + 1):
        header = chain.header_by_number(number)
        if header is None:
            continue
        for transaction in chain.transactions(header):
            if not transaction.to:
                return "0x" + keccak(rlp.encode([transaction.sender, transaction.nonce]))[12:].hex()
    raise SystemExit("no contract creation found; is this the data directory of a benchmark run?")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="kura data directory (DIR/kura-data of a --log-dir run)")
    parser.add_argument("--calls", type=int, default=2000, help="eth_call invocations to time (default 2000)")
    parser.add_argument("--top", type=int, default=40, help="cProfile rows to print (default 40)")
    args = parser.parse_args()

    backend = LevelDBBackend(args.data_dir / "chaindata")
    chain = Chain(backend)
    context = RpcContext(chain=chain, pool=None, filters=FilterManager(), client_version="profile")  # type: ignore[arg-type]
    token = find_token(chain)
    call = METHODS["eth_call"]

    def params(index: int) -> list[object]:
        holder = keccak(f"profile-eth-call-{index}".encode())[12:]
        return [{"to": token, "data": "0x" + BALANCE_OF_SELECTOR + holder.rjust(32, b"\0").hex()}, "latest"]

    for index in range(50):  # warm-up: lazy imports and LevelDB's block cache
        call(context, params(-1 - index))
    durations = []
    for index in range(args.calls):
        arguments = params(index)
        started = time.perf_counter()
        call(context, arguments)
        durations.append(time.perf_counter() - started)
    durations.sort()
    print(f"token {token} at block {chain.head.block_number}")
    print(
        f"eth_call handler, {args.calls} distinct balanceOf calls: "
        f"p50 {1000 * durations[len(durations) // 2]:.3f} ms, p99 {1000 * durations[int(len(durations) * 0.99)]:.3f} ms"
    )

    profiler = cProfile.Profile()
    profiler.enable()
    for index in range(args.calls):
        call(context, params(args.calls + index))
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(args.top)
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
