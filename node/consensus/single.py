"""Block production by the only validator: the degenerate case of QBFT.

With one validator the quorum is one, so the proposer seals, commits and
finalises each block alone. Headers carry the same seals a QBFT network
writes (a proposer seal and one commit seal), so a chain started with one
validator stays valid when more join.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from node.chain.crypto import address_of_private_key
from node.chain.header import KuraHeader
from node.chain.seal import ExtraData
from node.consensus.base import BlockSource, TransactionSource
from node.consensus.seals import add_proposer_seal, commit_seal, with_commit_seals
from node.errors import ConfigError

logger = logging.getLogger(__name__)

#: Share of the block period spent executing transactions; the rest is left
#: for roots, the atomic write and RPC, so a backlog keeps the block cadence.
BUILD_SHARE = 0.7


class SingleValidatorEngine:
    """Seals a block every block period while transactions wait, else every empty-block period."""

    def __init__(
        self,
        chain: BlockSource,
        pool: TransactionSource,
        private_key: bytes,
        *,
        validators: tuple[bytes, ...],
        block_period: int,
        empty_block_period: int,
        next_base_fee: Callable[[object], int],
        has_pending: threading.Event,
        on_sealed: Callable[[KuraHeader, list], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = address_of_private_key(private_key)
        if validators != (self.address,):
            raise ConfigError(
                f"this node's validator key 0x{self.address.hex()} is not the only validator in genesis "
                f"({', '.join('0x' + v.hex() for v in validators)}); single-validator mode needs exactly one"
            )
        self._chain = chain
        self._pool = pool
        self._key = private_key
        self._validators = validators
        self._period = block_period
        self._empty_period = empty_block_period
        self._next_base_fee = next_base_fee
        self._has_pending = has_pending
        self._clock = clock
        self._on_sealed = on_sealed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="block-producer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._has_pending.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        logger.info("block producer started validator=0x%s period=%ds", self.address.hex(), self._period)
        while not self._stop.is_set():
            try:
                self._wait_and_seal()
            except Exception:
                # A failed block must not stop the chain; the next attempt
                # rebuilds from the head with the transactions still pooled.
                logger.exception("block production failed; retrying in one block period")
                self._stop.wait(self._period)
        logger.info("block producer stopped")

    def _wait_and_seal(self) -> None:
        head = self._chain.head
        earliest = head.timestamp + self._period
        latest = head.timestamp + self._empty_period
        while not self._stop.is_set():
            now = self._clock()
            if now >= latest:
                break
            if now >= earliest and self._has_pending.is_set():
                break
            wait = (earliest if now < earliest else latest) - now
            if now >= earliest:
                self._has_pending.wait(timeout=min(wait, 0.5))
            else:
                self._stop.wait(timeout=wait)
        if self._stop.is_set():
            return
        self.seal_next(max(int(self._clock()), head.timestamp + 1))

    def seal_next(self, timestamp: int) -> None:
        """Build, seal and commit the child of the head with pending transactions."""
        started = time.perf_counter()
        head = self._chain.head
        template = self._chain.make_template(
            head, timestamp=timestamp, coinbase=self.address, extra=ExtraData(validators=self._validators)
        )
        transactions = self._pool.pending(template.base_fee_per_gas)
        executed = self._chain.build(template, transactions, max_seconds=BUILD_SHARE * self._period)

        proposed = add_proposer_seal(executed.header, self._key)
        executed.header = with_commit_seals(proposed, [commit_seal(proposed, self._key)])
        self._chain.commit(executed)
        self._pool.on_block(executed.transactions, executed.rejected)
        if self._on_sealed is not None:
            self._on_sealed(executed.header, executed.transactions)

        header = executed.header
        logger.info(
            "sealed block height=%d txs=%d gas=%d ms=%.1f hash=0x%s",
            header.block_number,
            len(executed.transactions),
            header.gas_used,
            (time.perf_counter() - started) * 1000,
            header.hash.hex(),
        )
