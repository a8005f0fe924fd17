"""The narrow interfaces between a consensus engine and the rest of the node."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from eth.abc import SignedTransactionAPI

from node.chain.execution import ExecutedBlock
from node.chain.header import KuraHeader
from node.chain.seal import ExtraData


class BlockSource(Protocol):
    """The chain as an engine uses it."""

    @property
    def head(self) -> KuraHeader:
        """The latest committed (final) header."""

    def make_template(self, parent: KuraHeader, *, timestamp: int, coinbase: bytes, extra: ExtraData) -> KuraHeader:
        """Build the header of ``parent``'s child before execution."""

    def build(
        self, template: KuraHeader, transactions: Sequence[SignedTransactionAPI], *, max_seconds: float | None = None
    ) -> ExecutedBlock:
        """Execute ``transactions`` on ``template``, skipping invalid ones; store nothing.

        With ``max_seconds`` the block closes once execution has taken that long.
        """

    def commit(self, executed: ExecutedBlock) -> None:
        """Store a sealed block as the new head; raise if its parent is not the head."""


class TransactionSource(Protocol):
    """The transaction pool as an engine uses it."""

    def pending(self, base_fee: int) -> list[SignedTransactionAPI]:
        """Executable transactions in the order to include them."""

    def on_block(self, included: list[SignedTransactionAPI], rejected: list[tuple[SignedTransactionAPI, str]]) -> None:
        """Forget included transactions and drop rejected ones."""
