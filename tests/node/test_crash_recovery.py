"""SIGKILL during a stream of transactions never loses a served receipt."""

from __future__ import annotations

import http.client
import os
import random
import threading
import time
from pathlib import Path

from eth_account import Account

from node.cli.devaccounts import dev_keys
from tests.support.process import NodeProcess, rpc

KILLS = int(os.environ.get("KURA_CRASH_KILLS", "20"))
CHAIN_ID = 1337


class Sender(threading.Thread):
    """Sends transfers from several dev accounts and records every receipt the node serves."""

    def __init__(self, url: str, keys: list[bytes], nonces: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.accounts = [Account.from_key(key) for key in keys]
        self.nonces = nonces
        self.receipts: dict[str, dict] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        pending: list[str] = []
        while not self.stop.is_set():
            try:
                for account in self.accounts:
                    nonce = self.nonces[account.address]
                    tx = account.sign_transaction(
                        {
                            "to": "0x000000000000000000000000000000000000dEaD",
                            "value": 1,
                            "gas": 21_000,
                            "maxFeePerGas": 10**11,
                            "maxPriorityFeePerGas": 1,
                            "nonce": nonce,
                            "chainId": CHAIN_ID,
                        }
                    )
                    response = rpc(self.url, "eth_sendRawTransaction", ["0x" + tx.raw_transaction.hex()], timeout=2)
                    if "result" in response:
                        self.nonces[account.address] = nonce + 1
                        pending.append(response["result"])
                still_pending = []
                for tx_hash in pending:
                    response = rpc(self.url, "eth_getTransactionReceipt", [tx_hash], timeout=2)
                    if response.get("result"):
                        self.receipts[tx_hash] = response["result"]
                    else:
                        still_pending.append(tx_hash)
                pending = still_pending
                time.sleep(0.05)
            except (OSError, http.client.HTTPException):
                return  # the node was killed under us, perhaps mid-response


def _resync_nonces(url: str, keys: list[bytes]) -> dict[str, int]:
    nonces = {}
    for key in keys:
        address = Account.from_key(key).address
        nonces[address] = int(rpc(url, "eth_getTransactionCount", [address, "latest"])["result"], 16)
    return nonces


def test_sigkill_keeps_served_receipts(tmp_path: Path) -> None:
    keys = list(dev_keys()[:4])
    node = NodeProcess(["dev", "--data-dir", str(tmp_path / "data")], tmp_path / "node.log")
    served: dict[str, dict] = {}
    rng = random.Random(20261204)
    try:
        for _ in range(KILLS):
            node.start()
            sender = Sender(node.url, keys, _resync_nonces(node.url, keys))
            sender.start()
            time.sleep(rng.uniform(1.2, 3.0))
            node.kill()
            sender.stop.set()
            sender.join(timeout=10)
            served.update(sender.receipts)

        node.start()
        assert len(served) > KILLS, f"only {len(served)} receipts were served before the kills"
        for tx_hash, before in served.items():
            after = rpc(node.url, "eth_getTransactionReceipt", [tx_hash])["result"]
            assert after is not None, f"receipt of {tx_hash} lost after SIGKILL"
            assert after["blockHash"] == before["blockHash"], f"{tx_hash} moved to another block"
            assert after["status"] == before["status"]

        head = int(rpc(node.url, "eth_blockNumber")["result"], 16)
        parent_hash = None
        for number in range(head + 1):
            block = rpc(node.url, "eth_getBlockByNumber", [hex(number), False])["result"]
            assert block is not None, f"block {number} missing below head {head}"
            if parent_hash is not None:
                assert block["parentHash"] == parent_hash, f"block {number} does not link to its parent"
            parent_hash = block["hash"]
            # The state at every block must still be readable: its root is stored.
            balance = rpc(node.url, "eth_getBalance", ["0x000000000000000000000000000000000000dEaD", hex(number)])
            assert "result" in balance, f"state of block {number} unreadable: {balance}"

        # The node keeps sealing on top of the recovered head.
        nonces = _resync_nonces(node.url, keys)
        account = Account.from_key(keys[0])
        tx = account.sign_transaction(
            {
                "to": account.address,
                "value": 0,
                "gas": 21_000,
                "maxFeePerGas": 10**11,
                "maxPriorityFeePerGas": 1,
                "nonce": nonces[account.address],
                "chainId": CHAIN_ID,
            }
        )
        tx_hash = rpc(node.url, "eth_sendRawTransaction", ["0x" + tx.raw_transaction.hex()])["result"]
        deadline = time.monotonic() + 15
        receipt = None
        while receipt is None and time.monotonic() < deadline:
            time.sleep(0.2)
            receipt = rpc(node.url, "eth_getTransactionReceipt", [tx_hash])["result"]
        assert receipt is not None, "no block sealed after recovery"
        assert int(receipt["blockNumber"], 16) > head
    finally:
        node.stop()
