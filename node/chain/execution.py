"""Block execution in one pass through py-evm.

The same routine builds a block (skipping transactions that turn out
invalid) and re-executes a received block (where any invalid transaction
rejects the block), so a proposer and its followers cannot disagree about
how a block is executed.

py-evm's ``Chain.apply_transaction`` rebuilds the block's tries after each
transaction, which is quadratic in the block size. Here the tries are built
once, after the last transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

from eth.abc import ChainContextAPI, ReceiptAPI, SignedTransactionAPI
from eth.constants import BLANK_ROOT_HASH
from eth.exceptions import HeaderNotFound
from eth_utils import ValidationError

from node.chain.header import KuraBlock, KuraHeader
from node.chain.trie import ordered_trie_root
from node.chain.vm import KuraVM
from node.errors import BlockValidationError
from node.store.overlay import StateOverlay

logger = logging.getLogger(__name__)

#: Gas of the cheapest transaction; below this much room a block is full.
MIN_TRANSACTION_GAS = 21_000


class HeaderSource:
    """The part of a chain database py-evm's VM reads: headers by hash, and the state db."""

    def __init__(self, db: StateOverlay, lookup: Callable[[bytes], KuraHeader | None]) -> None:
        self.db = db
        self._lookup = lookup

    def get_block_header_by_hash(self, block_hash: bytes) -> KuraHeader:
        header = self._lookup(block_hash)
        if header is None:
            raise HeaderNotFound(f"no header with hash {block_hash.hex()}")
        return header


@dataclass
class ExecutedBlock:
    """A block after execution: final header fields filled, state writes pending."""

    header: KuraHeader
    transactions: list[SignedTransactionAPI]
    receipts: list[ReceiptAPI]
    overlay: StateOverlay
    #: Transactions left out while building, with the reason (building only).
    rejected: list[tuple[SignedTransactionAPI, str]] = field(default_factory=list)


def make_vm(
    header: KuraHeader,
    overlay: StateOverlay,
    lookup: Callable[[bytes], KuraHeader | None],
    chain_context: ChainContextAPI,
) -> KuraVM:
    return KuraVM(header, HeaderSource(overlay, lookup), chain_context, None)  # type: ignore[arg-type]


def execute_block(
    template: KuraHeader,
    transactions: Iterable[SignedTransactionAPI],
    overlay: StateOverlay,
    lookup: Callable[[bytes], KuraHeader | None],
    chain_context: ChainContextAPI,
    *,
    building: bool,
    deadline: float | None = None,
) -> ExecutedBlock:
    """Execute ``transactions`` on top of ``template``'s parent state.

    ``template`` carries the parent's state root and every field chosen by
    the proposer; this fills in gas used, bloom, the three roots and the
    state root. When ``building`` is true an invalid transaction is left out
    and reported in ``rejected``, and a transaction that does not fit the
    remaining gas waits for a later block, as do its sender's later ones.
    Otherwise an invalid transaction raises BlockValidationError.

    ``deadline`` (a ``time.perf_counter`` value, building only) closes the
    block early: transactions not started by then wait for the next block,
    so a large backlog does not stretch the block period.
    """
    header = template.copy(gas_used=0, bloom=0)
    vm = make_vm(header, overlay, lookup, chain_context)
    vm.block_preprocessing(KuraBlock(header, transactions=[], uncles=[], withdrawals=[]))

    included: list[SignedTransactionAPI] = []
    receipts: list[ReceiptAPI] = []
    rejected: list[tuple[SignedTransactionAPI, str]] = []
    # Once a sender's transaction is left out, its later nonces cannot run.
    blocked_senders: set[bytes] = set()
    for transaction in transactions:
        if building:
            if deadline is not None and time.perf_counter() > deadline:
                break
            if transaction.sender in blocked_senders:
                continue
            if header.gas_used + transaction.gas > header.gas_limit:
                blocked_senders.add(transaction.sender)
                if header.gas_limit - header.gas_used < MIN_TRANSACTION_GAS:
                    break
                continue
        try:
            receipt, _ = vm.apply_transaction(header, transaction)
        except ValidationError as error:
            if not building:
                raise BlockValidationError(
                    "transaction invalid",
                    number=header.block_number,
                    detail=f"tx=0x{transaction.hash.hex()} {error}",
                ) from error
            blocked_senders.add(transaction.sender)
            rejected.append((transaction, str(error)))
            continue
        header = cast(KuraHeader, vm.add_receipt_to_header(header, receipt))
        included.append(transaction)
        receipts.append(receipt)

    vm.state.persist()
    state_root = vm.state.state_root
    transaction_root = ordered_trie_root([tx.encode() for tx in included])
    receipt_root = ordered_trie_root([receipt.encode() for receipt in receipts])

    final = header.copy(
        state_root=state_root,
        transaction_root=transaction_root,
        receipt_root=receipt_root,
        withdrawals_root=BLANK_ROOT_HASH,
    )
    return ExecutedBlock(final, included, receipts, overlay, rejected)
