"""In-process Prague chain for the coin tests, built on py-evm's MiningChain.

It implements the ``ChainBackend`` protocol of ``coin_client.py``. Each sent transaction is mined
at once in a block of its own, and block timestamps advance by one second unless a test sets the
next one. A backend for a real node process can replace this class without changing the tests,
except the few that need ``set_next_block_timestamp``.
"""

from __future__ import annotations

from typing import Any

from eth.chains.base import MiningChain
from eth.constants import ZERO_ADDRESS
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague import PragueVM
from eth.vm.message import Message
from eth_utils import to_canonical_address, to_checksum_address

from tests.coin.coin_client import CallResult, Log, Receipt

GAS_LIMIT = 30_000_000
GENESIS_BASE_FEE = 1_000_000_000
#: Seconds between blocks when no test sets a timestamp, matching a one-second block period.
BLOCK_INTERVAL = 1
#: Gas given to read-only calls.
CALL_GAS = 10_000_000


def _genesis_state(alloc: dict[str, dict[str, Any]]) -> dict[bytes, dict[str, Any]]:
    """Convert geth-style alloc entries into py-evm's genesis state dict."""
    state: dict[bytes, dict[str, Any]] = {}
    for address, entry in alloc.items():
        state[to_canonical_address(address)] = {
            "balance": int(entry.get("balance", "0x0"), 16),
            "nonce": int(entry.get("nonce", "0x0"), 16),
            "code": bytes.fromhex(entry.get("code", "0x")[2:]),
            "storage": {int(slot, 16): int(value, 16) for slot, value in entry.get("storage", {}).items()},
        }
    return state


class InProcessChain:
    """Prague chain in memory; starts from a genesis ``alloc`` such as the coin predeploys."""

    def __init__(self, alloc: dict[str, dict[str, Any]], chain_id: int, genesis_timestamp: int) -> None:
        self.chain_id = chain_id
        chain_class = MiningChain.configure(
            __name__="CoinTestChain", vm_configuration=((0, PragueVM),), chain_id=chain_id
        )
        genesis_params = {
            "difficulty": 0,
            "gas_limit": GAS_LIMIT,
            "timestamp": genesis_timestamp,
            "base_fee_per_gas": GENESIS_BASE_FEE,
            "excess_blob_gas": 0,
            "blob_gas_used": 0,
        }
        self._chain = chain_class.from_genesis(AtomicDB(), genesis_params, _genesis_state(alloc))
        self._next_timestamp: int | None = None

    def _head_state(self) -> Any:
        return self._chain.get_vm(self._chain.get_canonical_head()).state

    def latest_timestamp(self) -> int:
        return self._chain.get_canonical_head().timestamp

    def base_fee(self) -> int:
        """Base fee of the next block, in wei per gas."""
        return self._chain.header.base_fee_per_gas

    def set_next_block_timestamp(self, timestamp: int) -> None:
        """Give the next mined block this timestamp; it must be later than the latest block's."""
        if timestamp <= self.latest_timestamp():
            raise ValueError(f"timestamp {timestamp} is not after the latest block's {self.latest_timestamp()}")
        self._next_timestamp = timestamp

    def get_nonce(self, address: str) -> int:
        return self._head_state().get_nonce(to_canonical_address(address))

    def get_code(self, address: str) -> bytes:
        return self._head_state().get_code(to_canonical_address(address))

    def send_raw_transaction(self, raw_transaction: bytes) -> Receipt:
        """Mine ``raw_transaction`` in a new block and return its receipt.

        A transaction that the chain would refuse (bad nonce, too little balance) raises
        py-evm's ValidationError, as a node would reject it at submission.
        """
        return self.send_raw_transactions([raw_transaction])[0]

    def send_raw_transactions(self, raw_transactions: list[bytes]) -> list[Receipt]:
        """Mine all of ``raw_transactions`` in one new block, in the order given."""
        vm = self._chain.get_vm()
        builder = vm.get_transaction_builder()
        transactions = [builder.decode(raw) for raw in raw_transactions]
        timestamp = self._next_timestamp or self.latest_timestamp() + BLOCK_INTERVAL
        self._next_timestamp = None

        # The timestamp goes on the pending header before mining, because mine_all executes the
        # transactions against that header and applies a timestamp argument only afterwards.
        self._chain.set_header_timestamp(timestamp)
        _, receipts, computations = self._chain.mine_all(transactions)
        head = self._chain.get_canonical_head()
        results = []
        # py-evm receipts carry the block's cumulative gas, so each transaction's own gas is the
        # difference from the receipt before it.
        previous_cumulative_gas = 0
        for transaction, receipt, computation in zip(transactions, receipts, computations, strict=True):
            contract_address = None
            if transaction.to == b"" and not computation.is_error:
                contract_address = to_checksum_address(computation.msg.storage_address)
            results.append(
                Receipt(
                    status=not computation.is_error,
                    gas_used=receipt.gas_used - previous_cumulative_gas,
                    logs=tuple(
                        Log(
                            address=to_checksum_address(log.address),
                            topics=tuple(topic.to_bytes(32, "big") for topic in log.topics),
                            data=bytes(log.data),
                        )
                        for log in receipt.logs
                    ),
                    revert_data=bytes(computation.output) if computation.is_error else b"",
                    block_number=head.block_number,
                    block_timestamp=head.timestamp,
                    contract_address=contract_address,
                )
            )
            previous_cumulative_gas = receipt.gas_used
        return results

    def wait_until(self, timestamp: int) -> None:
        """Make the next block's timestamp at least ``timestamp``, by setting it rather than waiting."""
        if timestamp > self.latest_timestamp():
            self.set_next_block_timestamp(timestamp)

    def call(self, to: str, data: bytes, sender: str | None = None) -> CallResult:
        """Run a read-only call against the latest block's state and discard its changes."""
        state = self._head_state()
        target = to_canonical_address(to)
        origin = to_canonical_address(sender) if sender else ZERO_ADDRESS
        message = Message(
            gas=CALL_GAS,
            to=target,
            sender=origin,
            value=0,
            data=data,
            code=state.get_code(target),
        )
        transaction_context = state.get_transaction_context_class()(gas_price=0, origin=origin)
        computation = state.computation_class.apply_message(state, message, transaction_context)
        return CallResult(success=not computation.is_error, output=bytes(computation.output))
