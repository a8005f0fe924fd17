"""Transaction-level helpers for the coin tests, independent of where the chain runs.

``CoinClient`` signs transactions with ``node.coin.transactions``, sends them through a
``ChainBackend`` and decodes logs and revert data with ``node.coin.abi``. The tests talk only to
this client. Two backends exist: ``coin_chain.InProcessChain`` on py-evm, and
``coin_node.NodeChain`` on a ``kura dev`` process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_account import Account
from eth_utils import to_checksum_address

from node.coin.abi import (
    ContractInterface,
    DecodedError,
    DecodedEvent,
    contract_authority_mock_interface,
    decode_revert,
    gold_coin_interface,
    mint_authority_interface,
)
from node.coin.transactions import DEFAULT_GAS, sign_transaction

#: Gas limit of each transaction in a batch. It is lower than DEFAULT_GAS so that a few dozen
#: transactions fit one block, and above the cost of any single coin call in the tests.
BATCH_GAS = 500_000


@dataclass(frozen=True)
class Log:
    address: str
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True)
class Receipt:
    """Outcome of a mined transaction.

    ``revert_data`` is the REVERT payload of a failed transaction. A real node does not put it in
    receipts, so its backend has to replay the transaction with ``eth_call`` to fill it in.
    """

    status: bool
    gas_used: int
    logs: tuple[Log, ...]
    revert_data: bytes
    block_number: int
    block_timestamp: int
    contract_address: str | None = None


@dataclass(frozen=True)
class CallResult:
    success: bool
    output: bytes


class ChainBackend(Protocol):
    """The few chain operations the coin tests need; each maps onto one JSON-RPC method."""

    chain_id: int

    def get_nonce(self, address: str) -> int: ...

    def get_code(self, address: str) -> bytes: ...

    def latest_timestamp(self) -> int: ...

    def base_fee(self) -> int: ...

    def send_raw_transaction(self, raw_transaction: bytes) -> Receipt: ...

    def send_raw_transactions(self, raw_transactions: list[bytes]) -> list[Receipt]:
        """Send several transactions at once and return their receipts in the same order.

        The transactions may share a block, so none may depend on another's effects unless
        they come from the same sender in nonce order.
        """
        ...

    def wait_until(self, timestamp: int) -> None:
        """Return once the next block's timestamp will be at least ``timestamp``."""
        ...

    def call(self, to: str, data: bytes, sender: str | None = None) -> CallResult: ...

    def set_next_block_timestamp(self, timestamp: int) -> None:
        """Fix the next block's timestamp; only tests marked ``time_control`` use it."""
        ...


@dataclass(frozen=True)
class TxRequest:
    """One transaction of a batch, sent from the account of ``private_key``."""

    private_key: bytes
    to: str
    data: bytes


@dataclass(frozen=True)
class Contract:
    address: str
    interface: ContractInterface


def coin_error_interfaces() -> tuple[ContractInterface, ...]:
    return (mint_authority_interface(), gold_coin_interface(), contract_authority_mock_interface())


@dataclass(frozen=True)
class TxOutcome:
    receipt: Receipt
    error: DecodedError | None
    events: list[DecodedEvent] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.receipt.status

    def event_names(self) -> list[str]:
        return [event.name for event in self.events]


class CallReverted(AssertionError):
    """A read-only call reverted; ``error`` is the decoded revert data."""

    def __init__(self, function: str, error: DecodedError) -> None:
        super().__init__(f"call to {function} reverted with {error}")
        self.error = error


class CoinClient:
    """Sends signed transactions to the coin contracts and reads their state."""

    def __init__(self, backend: ChainBackend, contracts: list[Contract]) -> None:
        self.backend = backend
        self._contracts = contracts

    @property
    def chain_id(self) -> int:
        return self.backend.chain_id

    def _decode_events(self, logs: tuple[Log, ...]) -> list[DecodedEvent]:
        events = []
        for log in logs:
            for contract in self._contracts:
                if contract.address.lower() != log.address.lower():
                    continue
                event = contract.interface.decode_log(bytes.fromhex(log.address[2:]), log.topics, log.data)
                if event is not None:
                    events.append(event)
        return events

    def send_raw(self, private_key: bytes, to: str | None, data: bytes, gas: int = DEFAULT_GAS) -> TxOutcome:
        """Sign and send a transaction from the account of ``private_key``; decode its outcome."""
        sender = Account.from_key(private_key).address
        raw = sign_transaction(
            private_key,
            chain_id=self.backend.chain_id,
            nonce=self.backend.get_nonce(sender),
            to=to,
            data=data,
            gas=gas,
            max_fee_per_gas=2 * self.backend.base_fee() + 1,
        )
        return self._outcome(self.backend.send_raw_transaction(raw))

    def _outcome(self, receipt: Receipt) -> TxOutcome:
        error = None if receipt.status else decode_revert(receipt.revert_data, coin_error_interfaces())
        return TxOutcome(receipt=receipt, error=error, events=self._decode_events(receipt.logs))

    def request(self, private_key: bytes, contract: Contract, function: str, *args: Any) -> TxRequest:
        return TxRequest(private_key, contract.address, contract.interface.encode_call(function, *args))

    def send_batch(self, requests: list[TxRequest], gas: int = BATCH_GAS) -> list[TxOutcome]:
        """Sign ``requests`` with consecutive nonces per sender and send them together.

        The backend may mine them in one block, so a request must not rely on an earlier request
        of another sender in the same batch.
        """
        next_nonce: dict[str, int] = {}
        max_fee_per_gas = 2 * self.backend.base_fee() + 1
        raw_transactions = []
        for request in requests:
            sender = Account.from_key(request.private_key).address
            if sender not in next_nonce:
                next_nonce[sender] = self.backend.get_nonce(sender)
            raw_transactions.append(
                sign_transaction(
                    request.private_key,
                    chain_id=self.backend.chain_id,
                    nonce=next_nonce[sender],
                    to=request.to,
                    data=request.data,
                    gas=gas,
                    max_fee_per_gas=max_fee_per_gas,
                )
            )
            next_nonce[sender] += 1
        receipts = self.backend.send_raw_transactions(raw_transactions)
        return [self._outcome(receipt) for receipt in receipts]

    def send(self, private_key: bytes, contract: Contract, function: str, *args: Any) -> TxOutcome:
        return self.send_raw(private_key, contract.address, contract.interface.encode_call(function, *args))

    def read(self, contract: Contract, function: str, *args: Any, sender: str | None = None) -> Any:
        """Call a view function; raise CallReverted with the decoded error if it reverts."""
        result = self.backend.call(contract.address, contract.interface.encode_call(function, *args), sender)
        if not result.success:
            raise CallReverted(function, decode_revert(result.output, coin_error_interfaces()))
        return contract.interface.decode_output(function, result.output)

    def deploy(self, private_key: bytes, interface: ContractInterface, bytecode: bytes, *args: Any) -> Contract:
        """Deploy a contract with a CREATE transaction and start decoding its events."""
        outcome = self.send_raw(private_key, None, bytecode + interface.encode_constructor_args(*args))
        if not outcome.ok or outcome.receipt.contract_address is None:
            raise AssertionError(f"deployment failed: {outcome.error}")
        contract = Contract(address=to_checksum_address(outcome.receipt.contract_address), interface=interface)
        self._contracts.append(contract)
        return contract
