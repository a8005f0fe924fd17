"""JSON-RPC client for the coin contracts on a running node, built on web3.py.

It reads state, sends locally signed EIP-1559 transactions, waits for their receipts, and decodes
revert data. A node does not put revert data in receipts, so for a failed transaction the client
replays it with ``eth_call`` on the state of the block that contains it and decodes what the
call reverts with. The replay runs on the state after the whole block. That state matches what the
transaction read when it is the block's only transaction, or when the other transactions of its
block do not change what it reads.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from eth_account import Account
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware

from node.coin.abi import ContractInterface, DecodedError, decode_coin_revert
from node.coin.errors import ContractReverted, NodeUnreachable, RpcFailed, TransactionTimeout
from node.coin.transactions import sign_transaction

logger = logging.getLogger(__name__)

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
#: Seconds to wait for one JSON-RPC response.
DEFAULT_REQUEST_TIMEOUT = 10.0
#: Seconds to wait for a sent transaction to be mined. A Kura node seals within one block
#: period (1 s on ``kura dev``) once a transaction is pending, so this leaves a wide margin.
DEFAULT_RECEIPT_TIMEOUT = 60.0
#: Gas estimates are raised by this many percent before sending, because the estimate is made
#: on the latest block and the transaction executes on the next one.
GAS_MARGIN_PERCENT = 25


@dataclass(frozen=True)
class BlockInfo:
    number: int
    timestamp: int
    #: Base fee of this block in wei per gas.
    base_fee: int


@dataclass(frozen=True)
class LogEntry:
    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    transaction_hash: bytes


@dataclass(frozen=True)
class CallOutcome:
    """Result of ``eth_call``: the return data on success, the revert data on a revert."""

    success: bool
    output: bytes


@dataclass(frozen=True)
class MinedTransaction:
    """A mined transaction's receipt, with the revert data recovered by replay when it failed."""

    transaction_hash: bytes
    status: bool
    block_number: int
    block_timestamp: int
    gas_used: int
    logs: tuple[LogEntry, ...]
    revert_data: bytes
    contract_address: str | None

    @property
    def error(self) -> DecodedError | None:
        """The decoded revert reason of a failed transaction, None for a successful one."""
        if self.status:
            return None
        return decode_coin_revert(self.revert_data)


def _revert_data(error: ContractLogicError) -> bytes:
    data = error.data
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, bytes):
        return data
    return b""


class LedgerClient:
    """Talks to one node over HTTP JSON-RPC.

    Transport failures raise NodeUnreachable, JSON-RPC errors RpcFailed, and reverts
    ContractReverted, all subclasses of :class:`node.coin.errors.CoinError`.
    """

    def __init__(
        self,
        url: str = DEFAULT_RPC_URL,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        receipt_timeout: float = DEFAULT_RECEIPT_TIMEOUT,
        poll_interval: float = 0.1,
    ) -> None:
        self.url = url
        self.receipt_timeout = receipt_timeout
        self.poll_interval = poll_interval
        self.web3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": request_timeout}))
        # QBFT headers carry validators and seals in extraData, longer than the 32 bytes that
        # web3.py accepts by default; this middleware moves them aside.
        self.web3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)

    def _request(self, method: str, operation: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one web3 call and map transport and JSON-RPC errors onto the coin errors."""
        try:
            return operation(*args, **kwargs)
        except requests.exceptions.ConnectionError as error:
            raise NodeUnreachable(self.url, str(error.__class__.__name__)) from None
        except requests.exceptions.Timeout:
            raise NodeUnreachable(self.url, "request timed out") from None
        except TransactionNotFound:
            # web3.py raises it for a receipt not yet available; the caller polls again.
            raise
        except Web3RPCError as error:
            rpc_error = error.rpc_response.get("error", {}) if error.rpc_response else {}
            raise RpcFailed(method, rpc_error.get("code"), rpc_error.get("message", str(error))) from None

    # ---------------------------------------------------------------- reads

    @functools.cached_property
    def chain_id(self) -> int:
        return int(self._request("eth_chainId", lambda: self.web3.eth.chain_id))

    def latest_block(self) -> BlockInfo:
        block = self._request("eth_getBlockByNumber", self.web3.eth.get_block, "latest")
        return BlockInfo(
            number=int(block["number"]),
            timestamp=int(block["timestamp"]),
            base_fee=int(block.get("baseFeePerGas", 0)),
        )

    def get_nonce(self, address: str, *, pending: bool = True) -> int:
        """Return the next nonce of ``address``; with ``pending`` it counts pooled transactions too."""
        block = "pending" if pending else "latest"
        return int(
            self._request(
                "eth_getTransactionCount", self.web3.eth.get_transaction_count, to_checksum_address(address), block
            )
        )

    def get_code(self, address: str) -> bytes:
        return bytes(self._request("eth_getCode", self.web3.eth.get_code, to_checksum_address(address)))

    def get_balance(self, address: str) -> int:
        """Return the ether balance of ``address`` in wei."""
        return int(self._request("eth_getBalance", self.web3.eth.get_balance, to_checksum_address(address)))

    def call(self, to: str, data: bytes, *, sender: str | None = None, block: int | str = "latest") -> CallOutcome:
        """Run ``eth_call`` and return its output; a revert is a result here, not an error."""
        transaction: dict[str, Any] = {"to": to_checksum_address(to), "data": data}
        if sender is not None:
            transaction["from"] = to_checksum_address(sender)
        try:
            output = self._request("eth_call", self.web3.eth.call, transaction, block)
        except ContractLogicError as error:
            return CallOutcome(success=False, output=_revert_data(error))
        return CallOutcome(success=True, output=bytes(output))

    def read(self, to: str, interface: ContractInterface, function: str, *args: Any) -> Any:
        """Call a view function and decode its output; raise ContractReverted if it reverts."""
        outcome = self.call(to, interface.encode_call(function, *args))
        if not outcome.success:
            raise ContractReverted(function, decode_coin_revert(outcome.output), outcome.output)
        return interface.decode_output(function, outcome.output)

    def get_logs(
        self, address: str, topics: Sequence[bytes | None], *, from_block: int = 0, to_block: int | str = "latest"
    ) -> list[LogEntry]:
        """Return the logs of ``address`` whose topics match; None matches any topic."""
        log_filter: dict[str, Any] = {
            "address": to_checksum_address(address),
            "topics": [None if topic is None else "0x" + topic.hex() for topic in topics],
            "fromBlock": from_block,
            "toBlock": to_block,
        }
        entries = self._request("eth_getLogs", self.web3.eth.get_logs, log_filter)
        return [_log_entry(entry) for entry in entries]

    # ---------------------------------------------------------------- transactions

    def estimate_gas(self, sender: str, to: str, data: bytes, *, function: str = "") -> int:
        """Estimate gas; raise ContractReverted with the decoded reason if the call would revert."""
        transaction = {"from": to_checksum_address(sender), "to": to_checksum_address(to), "data": data}
        try:
            return int(self._request("eth_estimateGas", self.web3.eth.estimate_gas, transaction))
        except ContractLogicError as error:
            revert_data = _revert_data(error)
            raise ContractReverted(function or "transaction", decode_coin_revert(revert_data), revert_data) from None

    def send_raw_transaction(self, raw_transaction: bytes) -> bytes:
        """Submit a signed transaction and return its hash without waiting for it to be mined."""
        return bytes(self._request("eth_sendRawTransaction", self.web3.eth.send_raw_transaction, raw_transaction))

    def sign(
        self,
        private_key: bytes,
        to: str | None,
        data: bytes,
        *,
        gas: int,
        nonce: int | None = None,
        value: int = 0,
    ) -> bytes:
        """Sign an EIP-1559 transaction for this chain; the fee cap is twice the latest base fee.

        Twice the base fee covers several blocks of the largest EIP-1559 base fee rise (12.5% a
        block), and the sender pays only the base fee actually charged.
        """
        sender = Account.from_key(private_key).address
        return sign_transaction(
            private_key,
            chain_id=self.chain_id,
            nonce=self.get_nonce(sender) if nonce is None else nonce,
            to=to,
            data=data,
            gas=gas,
            value=value,
            max_fee_per_gas=2 * self.latest_block().base_fee + 1,
        )

    def transact(
        self, private_key: bytes, to: str, data: bytes, *, gas: int | None = None, function: str = ""
    ) -> MinedTransaction:
        """Sign, send and wait for a transaction to ``to``.

        Without ``gas`` the gas is estimated first, so a call that would revert raises
        ContractReverted before anything is sent. With ``gas`` the transaction is sent as is and
        may be mined as failed; its ``error`` then carries the decoded reason.
        """
        if gas is None:
            sender = Account.from_key(private_key).address
            estimate = self.estimate_gas(sender, to, data, function=function)
            gas = estimate + estimate * GAS_MARGIN_PERCENT // 100
        transaction_hash = self.send_raw_transaction(self.sign(private_key, to, data, gas=gas))
        logger.debug("sent transaction tx=0x%s function=%s gas=%d", transaction_hash.hex(), function, gas)
        return self.wait_for_transaction(transaction_hash)

    def wait_for_transaction(self, transaction_hash: bytes) -> MinedTransaction:
        """Wait until the transaction is mined; replay it to recover the revert data if it failed.

        Raises TransactionTimeout after ``receipt_timeout`` seconds.
        """
        deadline = time.monotonic() + self.receipt_timeout
        while True:
            try:
                receipt = self._request(
                    "eth_getTransactionReceipt", self.web3.eth.get_transaction_receipt, transaction_hash
                )
                break
            except TransactionNotFound:
                if time.monotonic() >= deadline:
                    raise TransactionTimeout(transaction_hash, self.receipt_timeout) from None
                time.sleep(self.poll_interval)

        block_number = int(receipt["blockNumber"])
        block = self._request("eth_getBlockByNumber", self.web3.eth.get_block, block_number)
        status = bool(receipt["status"])
        revert_data = b"" if status else self._replay(transaction_hash, block_number)
        contract_address = receipt.get("contractAddress")
        return MinedTransaction(
            transaction_hash=transaction_hash,
            status=status,
            block_number=block_number,
            block_timestamp=int(block["timestamp"]),
            gas_used=int(receipt["gasUsed"]),
            logs=tuple(_log_entry(entry) for entry in receipt["logs"]),
            revert_data=revert_data,
            contract_address=to_checksum_address(contract_address) if contract_address else None,
        )

    def _replay(self, transaction_hash: bytes, block_number: int) -> bytes:
        """Re-run a failed transaction with ``eth_call`` on its block's state; return the revert data.

        Returns empty bytes when the replay does not revert: the failure then came from running
        out of gas or from state that a later transaction of the same block changed.
        """
        transaction = self._request("eth_getTransactionByHash", self.web3.eth.get_transaction, transaction_hash)
        call: dict[str, Any] = {
            "from": transaction["from"],
            "data": transaction["input"],
            "gas": transaction["gas"],
            "value": transaction["value"],
        }
        if transaction.get("to"):
            call["to"] = transaction["to"]
        try:
            self._request("eth_call", self.web3.eth.call, call, block_number)
        except ContractLogicError as error:
            return _revert_data(error)
        logger.warning(
            "failed transaction did not revert on replay tx=0x%s block=%d", transaction_hash.hex(), block_number
        )
        return b""


def _log_entry(entry: Any) -> LogEntry:
    return LogEntry(
        address=to_checksum_address(entry["address"]),
        topics=tuple(bytes(topic) for topic in entry["topics"]),
        data=bytes(entry["data"]),
        block_number=int(entry["blockNumber"]),
        transaction_hash=bytes(entry["transactionHash"]),
    )
