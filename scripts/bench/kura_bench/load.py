"""The timed phase: send pre-signed transfers, time their receipts, and time sequential reads.

Batches are serialised before the clock starts. ``--threads`` threads each
own one keep-alive connection and send every ``threads``-th batch; one more
thread polls eth_blockNumber and reads the receipts of each new block.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kura_bench.rpc import RpcClient, RpcError
from kura_bench.workload import SignedTx

POLL_INTERVAL_S = 0.02


@dataclass
class LoadResult:
    """Timestamps (time.perf_counter) and outcomes of one timed run, keyed by transaction hash."""

    sent_at: dict[str, float] = field(default_factory=dict)
    confirmed_at: dict[str, float] = field(default_factory=dict)
    block_of: dict[str, int] = field(default_factory=dict)
    gas_used: dict[str, int] = field(default_factory=dict)
    failed_status: list[str] = field(default_factory=list)
    send_errors: list[str] = field(default_factory=list)
    #: Transfers the node rejected or that were never sent; the receipt watcher skips them.
    unsent: set[str] = field(default_factory=set)
    send_started: float = 0.0
    send_finished: float = 0.0
    timed_out: bool = False
    receipts_method: str = ""


def build_batches(transfers: list[SignedTx], batch_size: int) -> list[tuple[bytes, list[str]]]:
    """Serialise eth_sendRawTransaction batches (request ids 0..size-1); return each body with its hashes."""
    batches = []
    for start in range(0, len(transfers), batch_size):
        chunk = transfers[start : start + batch_size]
        requests = [
            {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [tx.raw]}
            for i, tx in enumerate(chunk)
        ]
        batches.append((json.dumps(requests).encode(), [tx.hash for tx in chunk]))
    return batches


def _send_batches(url: str, batches: list[tuple[bytes, list[str]]], result: LoadResult, lock: threading.Lock) -> None:
    client = RpcClient(url)
    done = 0
    try:
        for body, hashes in batches:
            sent = time.perf_counter()
            responses = client.post(body)
            done += 1
            with lock:
                for tx_hash in hashes:
                    result.sent_at[tx_hash] = sent
                if not isinstance(responses, list):
                    result.send_errors.append(f"batch rejected: {responses}")
                    result.unsent.update(hashes)
                    continue
                for response in responses:
                    if "error" in response:
                        tx_hash = hashes[response["id"]]
                        result.send_errors.append(f"{tx_hash}: {response['error']}")
                        result.unsent.add(tx_hash)
    except Exception as error:  # noqa: BLE001 - recorded as a problem, so the run fails visibly
        with lock:
            result.send_errors.append(f"sender thread failed after {done} batches: {error!r}")
            for _body, hashes in batches[done:]:
                result.unsent.update(hashes)
    finally:
        client.close()


class ReceiptReader:
    """Reader of all receipts of one block: eth_getBlockReceipts where the node has it, else one per transaction."""

    def __init__(self, client: RpcClient) -> None:
        self._client = client
        self.method = "eth_getBlockReceipts"
        try:
            client.call("eth_getBlockReceipts", ["latest"])
        except RpcError:
            self.method = "eth_getBlockByNumber + eth_getTransactionReceipt"

    def read(self, number: int) -> list[dict[str, Any]]:
        if self.method == "eth_getBlockReceipts":
            return self._client.call("eth_getBlockReceipts", [hex(number)]) or []
        block = self._client.call("eth_getBlockByNumber", [hex(number), False])
        hashes = block["transactions"] if block else []
        if not hashes:
            return []
        return self._client.batch_results([("eth_getTransactionReceipt", [tx_hash]) for tx_hash in hashes])


def _watch_receipts(
    url: str,
    expected: set[str],
    start_block: int,
    deadline: float,
    result: LoadResult,
    lock: threading.Lock,
    senders_done: threading.Event,
) -> None:
    client = RpcClient(url)
    reader = ReceiptReader(client)
    result.receipts_method = reader.method
    seen_block = start_block
    try:
        while True:
            with lock:
                outstanding = len(expected - result.unsent - result.confirmed_at.keys())
            if outstanding == 0 and senders_done.is_set():
                return
            if time.perf_counter() > deadline:
                result.timed_out = True
                return
            head = int(client.call("eth_blockNumber"), 16)
            if head == seen_block:
                time.sleep(POLL_INTERVAL_S)
                continue
            for number in range(seen_block + 1, head + 1):
                receipts = reader.read(number)
                arrived = time.perf_counter()
                with lock:
                    for receipt in receipts:
                        tx_hash = receipt["transactionHash"].lower()
                        if tx_hash not in expected:
                            continue
                        result.confirmed_at[tx_hash] = arrived
                        result.block_of[tx_hash] = number
                        result.gas_used[tx_hash] = int(receipt["gasUsed"], 16)
                        if int(receipt["status"], 16) != 1:
                            result.failed_status.append(tx_hash)
            seen_block = head
    finally:
        client.close()


def run_load(url: str, transfers: list[SignedTx], batch_size: int, threads: int, timeout: float) -> LoadResult:
    """Send ``transfers`` and wait for every receipt or until ``timeout`` seconds after the first send."""
    batches = build_batches(transfers, batch_size)
    expected = {tx.hash for tx in transfers}
    result = LoadResult()
    lock = threading.Lock()
    start_client = RpcClient(url)
    start_block = int(start_client.call("eth_blockNumber"), 16)
    start_client.close()
    senders_done = threading.Event()

    result.send_started = time.perf_counter()
    watcher = threading.Thread(
        target=_watch_receipts,
        args=(url, expected, start_block, result.send_started + timeout, result, lock, senders_done),
        name="receipt-watcher",
    )
    watcher.start()
    senders = [
        threading.Thread(target=_send_batches, args=(url, batches[i::threads], result, lock), name=f"sender-{i}")
        for i in range(threads)
    ]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    result.send_finished = time.perf_counter()
    senders_done.set()
    watcher.join()
    return result


def time_sequential(client: RpcClient, bodies: Sequence[bytes], calls: int, warmup: int = 50) -> list[float]:
    """Post ``warmup`` untimed and then ``calls`` timed requests one after another; return seconds per request.

    Request i sends ``bodies[i % len(bodies)]``. Raises RpcError when a
    response is an error object.
    """
    durations = []
    for i in range(warmup + calls):
        body = bodies[i % len(bodies)]
        started = time.perf_counter()
        response = client.post(body)
        elapsed = time.perf_counter() - started
        if "error" in response:
            raise RpcError("sequential request", response["error"])
        if i >= warmup:
            durations.append(elapsed)
    return durations


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolation percentile of ``values``; ``fraction`` is 0..1. NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
