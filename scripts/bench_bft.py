"""Benchmark ERC-20 transfers finalised by four QBFT validators on this machine.

The script starts a devnet of ``--validators`` validator processes on
127.0.0.1 (no RPC node, so every core goes to the validators), deploys the
benchmark token and funds ``--senders`` accounts (not timed), then sends
pre-signed transfers at a steady ``--rate`` per second for ``--seconds``,
spreading the batches over all validators' JSON-RPC ports. One thread
watches new blocks on the first validator and records when each
transfer's receipt arrives: a receipt means the block is final, since QBFT
commits a block only with a quorum of commit seals.

It reports finalised tx/s two ways. The whole-run rate divides all
transfers by the time from the first send to the last receipt, so it
counts the last block's latency. The steady rate counts receipts from 5 s
after the first send to the last send. It also reports send->final
p50/p99, the block times seen and the CPU cores the validators used while
the transfers were sent. Last, it checks that all validators end on the
same head hash and state root.

Usage:
    python scripts/bench_bft.py                              # 4 validators, 150 tx/s for 30 s
    python scripts/bench_bft.py --rate 40 --seconds 5 --senders 20   # short variant
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts" / "bench"))
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

from bench_rpc import machine_info  # noqa: E402
from kura_bench.load import percentile  # noqa: E402
from kura_bench.rpc import RpcClient  # noqa: E402
from kura_bench.workload import prepare_workload, verify_balances  # noqa: E402

from tests.support.network import Devnet  # noqa: E402

#: Seconds after the first send that the steady finalisation rate leaves out.
WARMUP_SECONDS = 5


def validators_cpu_seconds(pids: list[int]) -> float:
    """Return the CPU time (user and system) the processes have used so far, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="kura-bench-bft-"))
    devnet = Devnet(work / "devnet", validators=args.validators, rpc_nodes=0, empty_block_period=1)
    for process in devnet.processes:
        # The command is ``python -m node.cli.main run ...``: the level goes before ``run``.
        process.args[3:3] = ["--log-level", args.log_level]
    devnet.start()
    print(f"node logs: {devnet.root}/*/node.log", file=sys.stderr)
    try:
        urls = [process.url for process in devnet.processes]
        setup = RpcClient(urls[0])
        total = args.rate * args.seconds
        workload = prepare_workload(setup, total, args.senders, args.recipients)
        print(f"setup done: {total} transfers from {args.senders} senders", file=sys.stderr)

        sent_at: dict[str, float] = {}
        final_at: dict[str, float] = {}
        block_times: list[tuple[int, float]] = []
        lock = threading.Lock()
        done = threading.Event()

        def watch() -> None:
            client = RpcClient(urls[0])
            seen = int(client.call("eth_blockNumber"), 16)
            while not done.is_set():
                head = int(client.call("eth_blockNumber"), 16)
                for number in range(seen + 1, head + 1):
                    receipts = client.call("eth_getBlockReceipts", [hex(number)])
                    now = time.perf_counter()
                    block = client.call("eth_getBlockByNumber", [hex(number), False])
                    block_times.append((number, int(block["timestamp"], 16)))
                    with lock:
                        for receipt in receipts:
                            final_at.setdefault(receipt["transactionHash"], now)
                            if receipt["status"] != "0x1":
                                print(f"failed transfer {receipt['transactionHash']}", file=sys.stderr)
                seen = head
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        clients = [RpcClient(url) for url in urls]
        per_tick = max(1, args.rate // 10)
        transfers = workload.transfers
        pids = [process.process.pid for process in devnet.processes if process.process is not None]
        cpu_started = validators_cpu_seconds(pids)
        started = time.perf_counter()
        for tick, offset in enumerate(range(0, len(transfers), per_tick)):
            target = started + tick * 0.1
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            chunk = transfers[offset : offset + per_tick]
            client = clients[tick % len(clients)]
            body = json.dumps(
                [
                    {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [tx.raw]}
                    for i, tx in enumerate(chunk)
                ]
            ).encode()
            now = time.perf_counter()
            responses = client.post(body)
            with lock:
                for tx in chunk:
                    sent_at[tx.hash] = now
            errors = [r["error"] for r in responses if "error" in r]
            if errors:
                print(f"send errors: {errors[:3]}", file=sys.stderr)

        cores_used = (validators_cpu_seconds(pids) - cpu_started) / (time.perf_counter() - started)
        deadline = time.perf_counter() + args.drain_seconds
        while time.perf_counter() < deadline:
            with lock:
                if all(tx.hash in final_at for tx in transfers):
                    break
            time.sleep(0.1)
        done.set()
        watcher.join(timeout=5)

        with lock:
            missing = [tx.hash for tx in transfers if tx.hash not in final_at]
            latencies = [final_at[tx.hash] - sent_at[tx.hash] for tx in transfers if tx.hash in final_at]
            last = max(final_at[tx.hash] for tx in transfers if tx.hash in final_at)
            # The steady rate: receipts seen from WARMUP_SECONDS after the first send to
            # the last send, so neither the first blocks nor the draining tail count.
            window = (started + WARMUP_SECONDS, started + args.seconds)
            steady = sum(1 for moment in final_at.values() if window[0] <= moment < window[1])
        elapsed = last - started
        problems = verify_balances(setup, workload) if not missing else [f"{len(missing)} transfers never finalised"]

        # Blocks keep coming, so compare one height that every validator has.
        common = min(int(devnet.head(i)["number"], 16) for i in range(args.validators))
        heads = set()
        for client in clients:
            block = client.call("eth_getBlockByNumber", [hex(common), False])
            heads.add((block["hash"], block["stateRoot"]))
        timestamps = [stamp for _, stamp in sorted(block_times)]
        gaps = [later - earlier for earlier, later in zip(timestamps, timestamps[1:], strict=False)]
        report = {
            "machine": machine_info(),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "validators": args.validators,
            "offered_rate": args.rate,
            "transfers": len(transfers),
            "finalised": len(latencies),
            "finalised_tx_per_s": round(len(latencies) / elapsed, 1),
            "finalised_tx_per_s_steady": round(steady / (window[1] - window[0]), 1),
            "send_to_final_p50_ms": round(percentile(latencies, 0.5) * 1000),
            "send_to_final_p99_ms": round(percentile(latencies, 0.99) * 1000),
            "mean_block_time_s": round(sum(gaps) / len(gaps), 2) if gaps else None,
            "validators_cpu_cores_while_sending": round(cores_used, 2),
            "heads_agree": len(heads) == 1,
            "problems": problems,
            "load_average_at_start": os.getloadavg()[0],
        }
        print(json.dumps(report, indent=2))
        return 0 if not problems and len(heads) == 1 else 1
    finally:
        devnet.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--validators", type=int, default=4, help="validator processes (default 4)")
    parser.add_argument("--rate", type=int, default=150, help="transfers offered per second (default 150)")
    parser.add_argument("--seconds", type=int, default=30, help="seconds of sending (default 30)")
    parser.add_argument("--senders", type=int, default=150, help="sending accounts (default 150)")
    parser.add_argument("--recipients", type=int, default=500, help="recipient addresses (default 500)")
    parser.add_argument("--log-level", default="info", help="the validators' log level (default info)")
    parser.add_argument("--drain-seconds", type=float, default=60, help="wait for the last receipts (default 60)")
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
