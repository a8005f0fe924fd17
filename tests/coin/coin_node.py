"""``ChainBackend`` for a real ``kura dev`` process, through web3.py and JSON-RPC.

Receipts of failed transactions get their revert data from :class:`node.coin.ledger.LedgerClient`,
which replays the transaction with ``eth_call`` on the state of its block. The node seals a block
at most once a second, so each dependent step costs about a second. Tests therefore share one node
per module and send independent transactions in batches that land in one block.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from node.cli.main import DEV_GENESIS
from node.coin.dev_genesis import dev_coin_alloc
from node.coin.ledger import LedgerClient, MinedTransaction
from node.coin.predeploy import GOLD_COIN_ADDRESS, MINT_AUTHORITY_ADDRESS
from tests.coin.coin_client import CallResult, Log, Receipt
from tests.support.process import NodeProcess, dev_node


class NodeChain:
    """ChainBackend on a node's JSON-RPC endpoint."""

    def __init__(self, url: str) -> None:
        self.ledger = LedgerClient(url)
        self.chain_id = self.ledger.chain_id

    def get_nonce(self, address: str) -> int:
        return self.ledger.get_nonce(address, pending=True)

    def get_code(self, address: str) -> bytes:
        return self.ledger.get_code(address)

    def latest_timestamp(self) -> int:
        return self.ledger.latest_block().timestamp

    def base_fee(self) -> int:
        """Base fee of the latest block; the client's fee cap of twice this covers the next one."""
        return self.ledger.latest_block().base_fee

    def send_raw_transaction(self, raw_transaction: bytes) -> Receipt:
        return self.send_raw_transactions([raw_transaction])[0]

    def send_raw_transactions(self, raw_transactions: list[bytes]) -> list[Receipt]:
        """Submit every transaction first, then wait for each receipt, so they share blocks."""
        hashes = [self.ledger.send_raw_transaction(raw) for raw in raw_transactions]
        return [_receipt(self.ledger.wait_for_transaction(transaction_hash)) for transaction_hash in hashes]

    def call(self, to: str, data: bytes, sender: str | None = None) -> CallResult:
        outcome = self.ledger.call(to, data, sender=sender)
        return CallResult(success=outcome.success, output=outcome.output)

    def wait_until(self, timestamp: int) -> None:
        """Sleep until the local clock reaches ``timestamp``.

        The node seals each block at ``max(now, parent + 1)`` in whole seconds of the same clock,
        because it runs on this machine, so any block sealed afterwards has a timestamp of at
        least ``timestamp``.
        """
        delay = timestamp - time.time()
        if delay > 0:
            time.sleep(delay)

    def set_next_block_timestamp(self, timestamp: int) -> None:
        raise NotImplementedError("a kura dev node takes block timestamps from its clock; use wait_until")


def _receipt(mined: MinedTransaction) -> Receipt:
    return Receipt(
        status=mined.status,
        gas_used=mined.gas_used,
        logs=tuple(Log(address=log.address, topics=log.topics, data=log.data) for log in mined.logs),
        revert_data=mined.revert_data,
        block_number=mined.block_number,
        block_timestamp=mined.block_timestamp,
        contract_address=mined.contract_address,
    )


def write_allowlist_genesis(path: Path) -> Path:
    """Write the dev genesis with GoldCoin in allowlist mode to ``path`` and return ``path``.

    Everything but the two predeploys is copied from ``genesis/dev.json``, so the dev accounts
    and their balances stay the same.
    """
    genesis = json.loads(DEV_GENESIS.read_text(encoding="utf-8"))
    chain_id = genesis["config"]["chainId"]
    predeploys = dev_coin_alloc(chain_id, allowlist_mode=True)
    alloc = {
        address: entry
        for address, entry in genesis["alloc"].items()
        if address.lower() not in (GOLD_COIN_ADDRESS.lower(), MINT_AUTHORITY_ADDRESS.lower())
    }
    alloc.update(predeploys)
    genesis["alloc"] = alloc
    path.write_text(json.dumps(genesis, indent=2), encoding="utf-8")
    return path


def start_dev_node(directory: Path, *, allowlist_mode: bool = False) -> NodeProcess:
    """Start ``kura dev`` on a data directory under ``directory``, with the allowlist genesis if asked."""
    extra: list[str] = []
    if allowlist_mode:
        extra = ["--genesis", str(write_allowlist_genesis(directory / "allowlist-genesis.json"))]
    return dev_node(directory, *extra).start()
