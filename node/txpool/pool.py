"""Pending and queued transactions, per sender in nonce order.

A transaction is *pending* when its nonce continues its sender's nonce on
the head state without a gap, and *queued* otherwise. The block producer
takes pending transactions; after every block the pool drops the included
and now-stale ones and promotes queued ones whose gap has closed.

Admission rules and messages follow geth's pool, because client libraries
match on geth's wording.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from eth.abc import SignedTransactionAPI
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_typing import Address

from node.errors import TxRejected

logger = logging.getLogger(__name__)

#: Replacement must raise both fee cap and tip by this many percent (geth: 10).
PRICE_BUMP_PERCENT = 10
BLOB_TRANSACTION_TYPE = 3


@dataclass(frozen=True)
class PoolLimits:
    """Admission limits; geth's defaults where geth has one."""

    #: Pending plus queued transactions of one sender.
    per_sender: int = 256
    #: Transactions in the whole pool.
    total: int = 16_384
    #: Nonces further ahead of the account nonce than this are rejected.
    max_nonce_gap: int = 1_024
    #: Lowest fee cap (wei per gas) accepted, on top of the base fee rule.
    min_gas_price: int = 0
    #: Largest raw transaction in bytes (geth: 128 KiB).
    max_size: int = 128 * 1024


@dataclass
class PooledTx:
    tx: SignedTransactionAPI
    sender: Address
    raw: bytes
    arrival: int


def fee_cap(tx: SignedTransactionAPI) -> int:
    return tx.max_fee_per_gas


def tip_cap(tx: SignedTransactionAPI) -> int:
    return tx.max_priority_fee_per_gas


def replaces(old: SignedTransactionAPI, new: SignedTransactionAPI) -> bool:
    """Return whether ``new`` may replace ``old`` (same sender and nonce), by geth's rule.

    Both the fee cap and the tip must rise, and each by at least
    PRICE_BUMP_PERCENT, with the threshold rounded down.
    """
    if fee_cap(new) <= fee_cap(old) or tip_cap(new) <= tip_cap(old):
        return False
    bump = 100 + PRICE_BUMP_PERCENT
    return fee_cap(new) >= fee_cap(old) * bump // 100 and tip_cap(new) >= tip_cap(old) * bump // 100


class AccountReader:
    """Nonce and balance readers on the head state, as the pool uses them."""

    def __init__(self, nonce: Callable[[Address], int], balance: Callable[[Address], int]) -> None:
        self.nonce = nonce
        self.balance = balance


class TxPool:
    """Thread-safe: RPC threads add, the block producer takes and updates."""

    def __init__(
        self,
        chain_id: int,
        block_gas_limit: Callable[[], int],
        base_fee: Callable[[], int],
        accounts: Callable[[], AccountReader],
        limits: PoolLimits | None = None,
        sender_allowed: Callable[[bytes], bool] = lambda sender: True,
    ) -> None:
        self.chain_id = chain_id
        self._sender_allowed = sender_allowed
        self.limits = limits or PoolLimits()
        self._block_gas_limit = block_gas_limit
        self._base_fee = base_fee
        self._accounts = accounts
        self._lock = threading.RLock()
        self._by_sender: dict[Address, dict[int, PooledTx]] = {}
        self._by_hash: dict[bytes, PooledTx] = {}
        self._arrivals = 0
        #: Called with each newly admitted transaction.
        self.listeners: list[Callable[[SignedTransactionAPI], None]] = []
        self.has_pending = threading.Event()

    # Admission

    def decode(self, raw: bytes) -> SignedTransactionAPI:
        if len(raw) > self.limits.max_size:
            raise TxRejected("oversized data")
        try:
            tx = PragueTransactionBuilder.decode(raw)
        except Exception as error:  # rlp, eth_utils and py-evm raise unrelated error types here
            reason = error.args[-1] if error.args else error.__class__.__name__
            raise TxRejected(f"rlp: invalid transaction: {reason}") from None
        return tx

    def add_raw(self, raw: bytes) -> bytes:
        """Validate and admit a signed transaction; return its hash.

        Raises TxRejected with geth's message for the failed rule.
        """
        tx = self.decode(raw)
        self._check_static(tx)
        try:
            sender = tx.sender
        except Exception:
            raise TxRejected("invalid sender") from None
        if not self._sender_allowed(sender):
            raise TxRejected(f"sender account 0x{bytes(sender).hex()} not authorized to send transactions")
        with self._lock:
            if tx.hash in self._by_hash:
                raise TxRejected("already known")
            accounts = self._accounts()
            self._check_against_state(tx, sender, accounts)
            self._insert(tx, sender, raw, accounts.nonce(sender))
        for listener in list(self.listeners):
            listener(tx)
        return tx.hash

    def _check_static(self, tx: SignedTransactionAPI) -> None:
        type_id = tx.type_id
        if type_id == BLOB_TRANSACTION_TYPE:
            raise TxRejected("transaction type not supported")
        if type_id is None:
            if getattr(tx, "v", None) in (27, 28):
                raise TxRejected("only replay-protected (EIP-155) transactions allowed over RPC")
            if tx.chain_id != self.chain_id:
                raise TxRejected(f"invalid chain id for signer: have {tx.chain_id} want {self.chain_id}")
        elif tx.chain_id != self.chain_id:
            raise TxRejected(f"invalid chain id for signer: have {tx.chain_id} want {self.chain_id}")
        try:
            tx.validate()
        except Exception as error:
            message = str(error)
            if "intrinsic" in message.lower() or "insufficient gas" in message.lower():
                raise TxRejected("intrinsic gas too low") from None
            raise TxRejected(f"invalid transaction: {message}") from None
        if tip_cap(tx) > fee_cap(tx):
            raise TxRejected("max priority fee per gas higher than max fee per gas")
        if tx.gas > self._block_gas_limit():
            raise TxRejected("exceeds block gas limit")
        if fee_cap(tx) < self.limits.min_gas_price:
            raise TxRejected("transaction underpriced")

    def _check_against_state(self, tx: SignedTransactionAPI, sender: Address, accounts: AccountReader) -> None:
        nonce = accounts.nonce(sender)
        if tx.nonce < nonce:
            raise TxRejected("nonce too low")
        if tx.nonce > nonce + self.limits.max_nonce_gap:
            raise TxRejected("nonce too high")
        if fee_cap(tx) < self._base_fee():
            raise TxRejected("transaction underpriced")
        cost = tx.gas * fee_cap(tx) + tx.value
        if accounts.balance(sender) < cost:
            raise TxRejected("insufficient funds for gas * price + value")

        slots = self._by_sender.get(sender, {})
        existing = slots.get(tx.nonce)
        if existing is not None:
            if not replaces(existing.tx, tx):
                raise TxRejected("replacement transaction underpriced")
            return
        if len(slots) >= self.limits.per_sender:
            raise TxRejected("account limit exceeded")
        if len(self._by_hash) >= self.limits.total:
            raise TxRejected("txpool is full")

    def _insert(self, tx: SignedTransactionAPI, sender: Address, raw: bytes, account_nonce: int) -> None:
        slots = self._by_sender.setdefault(sender, {})
        replaced = slots.get(tx.nonce)
        if replaced is not None:
            del self._by_hash[replaced.tx.hash]
            logger.info("replaced transaction old=0x%s new=0x%s", replaced.tx.hash.hex(), tx.hash.hex())
        self._arrivals += 1
        entry = PooledTx(tx, sender, raw, self._arrivals)
        slots[tx.nonce] = entry
        self._by_hash[tx.hash] = entry
        if tx.nonce == account_nonce or (tx.nonce - 1) in slots:
            self.has_pending.set()

    # Reads

    def get(self, tx_hash: bytes) -> PooledTx | None:
        with self._lock:
            return self._by_hash.get(tx_hash)

    def reuse_pooled(self, transactions: list[SignedTransactionAPI]) -> list[SignedTransactionAPI]:
        """Swap each transaction of a received block for the pool's copy, whose sender is already recovered.

        Equal hashes mean equal signed bytes, so the copies are interchangeable;
        a block of gossiped transactions then costs no second signature recovery.
        """
        with self._lock:
            by_hash = self._by_hash
            return [entry.tx if (entry := by_hash.get(tx.hash)) is not None else tx for tx in transactions]

    def pending_nonce(self, sender: Address, account_nonce: int) -> int:
        """Next nonce the sender should use: the account nonce past its pending run."""
        with self._lock:
            slots = self._by_sender.get(sender, {})
            nonce = account_nonce
            while nonce in slots:
                nonce += 1
            return nonce

    def counts(self) -> tuple[int, int]:
        """(pending, queued) transaction counts against the head state."""
        with self._lock:
            accounts = self._accounts()
            pending = 0
            for sender, slots in self._by_sender.items():
                nonce = accounts.nonce(sender)
                while nonce in slots:
                    pending += 1
                    nonce += 1
            return pending, len(self._by_hash) - pending

    def __len__(self) -> int:
        return len(self._by_hash)

    # Block production

    def pending(self, base_fee: int) -> list[SignedTransactionAPI]:
        """Executable transactions: each sender's run in nonce order, senders by first arrival.

        Transactions whose fee cap is below ``base_fee`` stop their sender's run.
        """
        with self._lock:
            accounts = self._accounts()
            runs: list[list[PooledTx]] = []
            for sender, slots in self._by_sender.items():
                if not self._sender_allowed(sender):
                    continue
                nonce = accounts.nonce(sender)
                run = []
                while nonce in slots and fee_cap(slots[nonce].tx) >= base_fee:
                    run.append(slots[nonce])
                    nonce += 1
                if run:
                    runs.append(run)
            runs.sort(key=lambda run: run[0].arrival)
            ordered: list[SignedTransactionAPI] = []
            for run in runs:
                ordered.extend(entry.tx for entry in run)
            self.has_pending.clear()
            return ordered

    def on_block(self, included: list[SignedTransactionAPI], rejected: list[tuple[SignedTransactionAPI, str]]) -> None:
        """Drop included, stale and rejected transactions after a block is committed."""
        with self._lock:
            accounts = self._accounts()
            touched: set[Address] = {tx.sender for tx in included}
            for tx, reason in rejected:
                entry = self._by_hash.pop(tx.hash, None)
                if entry is not None:
                    self._by_sender.get(entry.sender, {}).pop(tx.nonce, None)
                    touched.add(entry.sender)
                    logger.warning(
                        "dropped transaction tx=0x%s sender=0x%s reason=%s", tx.hash.hex(), entry.sender.hex(), reason
                    )
            for sender in touched:
                slots = self._by_sender.get(sender)
                if not slots:
                    self._by_sender.pop(sender, None)
                    continue
                nonce = accounts.nonce(sender)
                for stale in [n for n in slots if n < nonce]:
                    self._by_hash.pop(slots.pop(stale).tx.hash, None)
                if not slots:
                    del self._by_sender[sender]
            # Transactions a block left out (its build deadline passed) are
            # still executable: wake the producer for them too.
            if any(accounts.nonce(sender) in slots for sender, slots in self._by_sender.items()):
                self.has_pending.set()
