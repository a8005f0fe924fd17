"""WebSocket JSON-RPC: HTTP methods, eth_subscribe for heads, logs and pending transactions."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address
from websockets.sync.client import ClientConnection, connect

from tests.rpc.helpers import (
    call,
    call_error,
    dev_account,
    load_artifact,
    nonce_of,
    sign_dynamic_fee,
    wait_for_receipt,
)
from tests.support.process import NodeProcess, dev_node

#: Blocks watched by the head-order test; set KURA_SUBSCRIPTION_BLOCKS=1000 for the full run.
WATCHED_BLOCKS = int(os.environ.get("KURA_SUBSCRIPTION_BLOCKS", "12"))
INCREMENTED = "0x" + keccak(text="Incremented(address,uint256,uint256)").hex()


def ws_url(node: NodeProcess) -> str:
    return node.url.replace("http://", "ws://")


def request(socket: ClientConnection, method: str, params: list[Any], request_id: int = 1) -> dict[str, Any]:
    socket.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}))
    while True:
        message = json.loads(socket.recv(timeout=30))
        if message.get("id") == request_id:
            return message


def notifications(socket: ClientConnection, subscription: str, count: int, timeout: float) -> list[Any]:
    results: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(results) < count:
        message = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message.get("method") == "eth_subscription" and message["params"]["subscription"] == subscription:
            results.append(message["params"]["result"])
    return results


def deploy_probe(url: str, sender_index: int = 3) -> str:
    account = dev_account(sender_index)
    artifact = load_artifact("Probe")
    data = artifact["bytecode"] + "00" * 31 + "01"
    tx_hash = call(
        url,
        "eth_sendRawTransaction",
        [sign_dynamic_fee(account, nonce_of(url, account.address), to=None, data=data, gas=2_000_000)],
    )
    return to_checksum_address(wait_for_receipt(url, tx_hash)["contractAddress"])


def increment(url: str, probe: str, account_index: int, step: int = 1) -> str:
    account = dev_account(account_index)
    data = "0x" + keccak(text="increment(uint256)")[:4].hex() + step.to_bytes(32, "big").hex()
    raw = sign_dynamic_fee(account, nonce_of(url, account.address, "pending"), to=probe, data=data, gas=100_000)
    return call(url, "eth_sendRawTransaction", [raw])


def test_http_methods_over_websocket(shared_node: NodeProcess) -> None:
    with connect(ws_url(shared_node)) as socket:
        assert request(socket, "eth_chainId", [])["result"] == hex(1337)
        socket.send(json.dumps([
            {"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber", "params": []},
            {"jsonrpc": "2.0", "id": 8, "method": "net_version", "params": []},
        ]))  # fmt: skip
        batch = json.loads(socket.recv(timeout=10))
        assert [item["id"] for item in batch] == [7, 8]
        assert batch[1]["result"] == "1337"


def test_subscribe_over_http_rejected(shared_node: NodeProcess) -> None:
    error = call_error(shared_node.url, "eth_subscribe", ["newHeads"])
    assert error["message"] == "notifications not supported"


def test_unknown_subscription_rejected(shared_node: NodeProcess) -> None:
    with connect(ws_url(shared_node)) as socket:
        response = request(socket, "eth_subscribe", ["fireworks"])
        assert response["error"]["code"] == -32602


def _keep_blocks_coming(url: str, stop: threading.Event, account_index: int) -> None:
    account = dev_account(account_index)
    while not stop.is_set():
        raw = sign_dynamic_fee(account, nonce_of(url, account.address, "pending"), to=account.address)
        try:
            call(url, "eth_sendRawTransaction", [raw])
        except (AssertionError, OSError):
            pass
        stop.wait(0.5)


def test_new_heads_in_order_exactly_once(shared_node: NodeProcess) -> None:
    stop = threading.Event()
    feeder = threading.Thread(target=_keep_blocks_coming, args=(shared_node.url, stop, 5), daemon=True)
    with connect(ws_url(shared_node)) as socket:
        subscription = request(socket, "eth_subscribe", ["newHeads"])["result"]
        feeder.start()
        try:
            heads = notifications(socket, subscription, WATCHED_BLOCKS, timeout=WATCHED_BLOCKS * 3 + 30)
        finally:
            stop.set()
            feeder.join(timeout=10)
        assert request(socket, "eth_unsubscribe", [subscription])["result"] is True

    numbers = [int(head["number"], 16) for head in heads]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    for head in heads:
        stored = call(shared_node.url, "eth_getBlockByNumber", [head["number"], False])
        assert stored["hash"] == head["hash"]
        assert stored["parentHash"] == head["parentHash"]


def test_logs_subscription_matches_get_logs(shared_node: NodeProcess) -> None:
    probe = deploy_probe(shared_node.url)
    with connect(ws_url(shared_node)) as socket:
        subscription = request(socket, "eth_subscribe", ["logs", {"address": probe, "topics": [INCREMENTED]}])["result"]
        first_block = int(call(shared_node.url, "eth_blockNumber"), 16) + 1
        hashes = [increment(shared_node.url, probe, 6, step) for step in (1, 2, 3)]
        receipts = [wait_for_receipt(shared_node.url, tx_hash) for tx_hash in hashes]
        logs = notifications(socket, subscription, 3, timeout=30)

    last_block = max(int(receipt["blockNumber"], 16) for receipt in receipts)
    expected = call(
        shared_node.url,
        "eth_getLogs",
        [{"address": probe, "topics": [INCREMENTED], "fromBlock": hex(first_block), "toBlock": hex(last_block)}],
    )
    assert [(log["transactionHash"], log["logIndex"]) for log in logs] == [
        (log["transactionHash"], log["logIndex"]) for log in expected
    ]
    assert [log["transactionHash"] for log in logs] == hashes


def test_pending_transaction_hashes(shared_node: NodeProcess) -> None:
    with connect(ws_url(shared_node)) as socket:
        subscription = request(socket, "eth_subscribe", ["newPendingTransactions"])["result"]
        account = dev_account(7)
        raw = sign_dynamic_fee(account, nonce_of(shared_node.url, account.address, "pending"), to=account.address)
        tx_hash = call(shared_node.url, "eth_sendRawTransaction", [raw])
        assert notifications(socket, subscription, 1, timeout=10) == [tx_hash]


def test_resubscribe_after_restart_fills_gap(tmp_path: Path) -> None:
    node = dev_node(tmp_path).start()
    try:
        probe = deploy_probe(node.url)
        with connect(ws_url(node)) as socket:
            subscription = request(socket, "eth_subscribe", ["logs", {"address": probe}])["result"]
            before = wait_for_receipt(node.url, increment(node.url, probe, 8))
            seen = notifications(socket, subscription, 1, timeout=20)
        last_seen = int(seen[-1]["blockNumber"], 16)

        node.stop()
        node.start()
        # Events while no subscriber listens.
        missed = [wait_for_receipt(node.url, increment(node.url, probe, 8)) for _ in range(2)]
        with connect(ws_url(node)) as socket:
            subscription = request(socket, "eth_subscribe", ["logs", {"address": probe}])["result"]
            head = int(call(node.url, "eth_blockNumber"), 16)
            gap = call(
                node.url, "eth_getLogs", [{"address": probe, "fromBlock": hex(last_seen + 1), "toBlock": hex(head)}]
            )
            after = wait_for_receipt(node.url, increment(node.url, probe, 8))
            live = notifications(socket, subscription, 1, timeout=20)

        received = [log["transactionHash"] for log in seen + gap + live]
        expected = [before["transactionHash"], *(r["transactionHash"] for r in missed), after["transactionHash"]]
        assert received == expected
    finally:
        node.stop()


@pytest.mark.parametrize("kind", ["newHeads", "logs"])
def test_unsubscribe_unknown_id_is_false(shared_node: NodeProcess, kind: str) -> None:
    with connect(ws_url(shared_node)) as socket:
        request(socket, "eth_subscribe", [kind])
        assert request(socket, "eth_unsubscribe", ["0x" + "00" * 16])["result"] is False
