"""Re-executing a chain block by block, checking every rule in named layers.

:class:`BlockImporter` is the import path of a node (seals, then execution, then commit, as
``NetworkBridge.import_block`` does it) with the checks an auditor adds. Each block passes
these layers in order, and the first broken rule raises BlockValidationError with the block
number, the rule, and the value found against the value expected:

1. header alone: the hash the source files the block under is the header's hash;
2. header against parent: it links to the replayed head (then ``Chain.execute_received``
   checks number, gas limit, base fee, timestamp and the constant fields);
3. seals: proposer seal and a quorum of commit seals by the validator set at that height;
4. body against header: transactions root and every transaction signature;
5. after execution: state root, receipts root, logs bloom and gas used
   (``Chain.execute_received``), then the receipts the source stored or served.

Execution itself covers layer 4 on a valid block: py-evm recovers every sender and rejects an
s above n/2, and ``execute_received`` compares the transactions root. So the explicit body
checks run only when execution fails, where they name the body rule in place of the execution
rule it caused. Running them on every block as well made a replay about 10% slower than a
node's import (``scripts/bench_replay.py``).

:func:`replay` runs a whole source through it into a fresh store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eth.abc import SignedTransactionAPI
from eth_hash.auto import keccak

from node.audit.progress import Progress
from node.audit.receipts import compare_receipts, compare_stored_receipts, fields_of_json
from node.audit.sources import BlockSource, SourceBlock
from node.chain.chain import Chain, initialize_store
from node.chain.crypto import SignatureError, recover_address
from node.chain.execution import ExecutedBlock
from node.chain.genesis import parse_genesis
from node.chain.header import KuraHeader
from node.chain.trie import ordered_trie_root
from node.consensus.seals import verify_seals
from node.consensus.validators import ValidatorTracker
from node.errors import BlockValidationError
from node.store.backend import KeyValueBackend, MemoryBackend

logger = logging.getLogger(__name__)

#: Order of the secp256k1 group.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

#: Called after each block is committed, with the chain and the executed block.
BlockObserver = Callable[[Chain, ExecutedBlock], None]


def _hex(value: bytes) -> str:
    return f"0x{bytes(value).hex()}"


class BlockImporter:
    """Checks blocks against the rules and commits them on top of ``chain``'s head."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        genesis = chain.store.header_by_number(0)
        if genesis is None:
            raise BlockValidationError("canonical block missing", number=0, detail="the target store has no genesis")
        self.genesis = genesis
        self.validators = ValidatorTracker(chain.store.header_by_hash, genesis)

    def check_genesis(self, block: SourceBlock) -> None:
        """Compare a source's block 0 with the genesis built from the genesis document."""
        if block.header.hash != self.genesis.hash:
            raise BlockValidationError(
                "genesis hash mismatch", number=0, got=_hex(block.header.hash), expected=_hex(self.genesis.hash)
            )
        self._check_claimed_hash(block)

    def import_block(self, block: SourceBlock) -> ExecutedBlock:
        """Check ``block`` in every layer and commit it as the new head; return it executed."""
        header = block.header
        number = int(header.block_number)

        # Header alone, then against the replayed parent.
        self._check_claimed_hash(block)
        parent = self.chain.head
        if header.parent_hash != parent.hash:
            raise BlockValidationError(
                "parent hash mismatch", number=number, got=_hex(header.parent_hash), expected=_hex(parent.hash)
            )

        verify_seals(header, self.validators.next_validators(parent))

        try:
            executed = self.chain.execute_received(header, block.transactions)
        except Exception as error:  # py-evm and eth-keys raise several unrelated types
            self.check_body(header, block)
            if isinstance(error, BlockValidationError):
                raise
            raise BlockValidationError("execution failed", number=number, detail=repr(error)) from error
        if block.stored_receipts_rlp is not None:
            compare_stored_receipts(number, block.stored_receipts_rlp, executed.receipts)
        if block.rpc_receipts is not None:
            compare_receipts(number, [fields_of_json(r) for r in block.rpc_receipts], executed.receipts)

        self.chain.commit(executed)
        return executed

    def _check_claimed_hash(self, block: SourceBlock) -> None:
        if block.claimed_hash is not None and block.claimed_hash != block.header.hash:
            raise BlockValidationError(
                "block hash mismatch",
                number=block.number,
                got=_hex(block.claimed_hash),
                expected=_hex(block.header.hash),
                detail="the source files the block under another hash than its header's",
            )

    def check_body(self, header: KuraHeader, block: SourceBlock) -> None:
        """Check the transactions root and every signature; BlockValidationError names the first failure."""
        number = int(header.block_number)
        root = ordered_trie_root([tx.encode() for tx in block.transactions])
        if root != header.transaction_root:
            raise BlockValidationError(
                "transaction_root mismatch",
                number=number,
                got=_hex(root),
                expected=_hex(header.transaction_root),
                detail="the body does not match its header",
            )
        for index, transaction in enumerate(block.transactions):
            problem = signature_problem(transaction)
            if problem is not None:
                raise BlockValidationError(
                    "transaction signature invalid",
                    number=number,
                    detail=f"tx_index={index} tx={_hex(transaction.hash)} {problem}",
                )


def signature_problem(transaction: SignedTransactionAPI) -> str | None:
    """Return why a transaction's signature is invalid, or None when it is valid.

    Valid means: y parity 0 or 1, 0 < r < n, 0 < s <= n/2 (EIP-2's low-s rule), and a public
    key recovers from the signing hash. It checks the same as py-evm's
    ``check_signature_validity`` with one recovery on coincurve instead of a recovery and a
    verification on eth-keys, which made replays measurably slower.
    """
    y_parity, r, s = transaction.y_parity, transaction.r, transaction.s
    if y_parity not in (0, 1):
        return f"y parity {y_parity} is not 0 or 1"
    if not 0 < r < SECP256K1_N:
        return "r is outside 1 to n-1"
    if not 0 < s <= SECP256K1_N // 2:
        return "s is outside 1 to n/2 (EIP-2)"
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([y_parity])
    try:
        recover_address(keccak(transaction.get_message_for_signing()), signature)
    except SignatureError as error:
        return str(error)
    return None


@dataclass(frozen=True)
class ReplayResult:
    head: KuraHeader
    blocks: int
    transactions: int
    seconds: float

    @property
    def blocks_per_second(self) -> float:
        return self.blocks / self.seconds if self.seconds > 0 else 0.0

    @property
    def transactions_per_second(self) -> float:
        return self.transactions / self.seconds if self.seconds > 0 else 0.0


def replay(
    source: BlockSource,
    *,
    backend: KeyValueBackend | None = None,
    progress: Progress | None = None,
    make_observers: Callable[[Chain], Sequence[BlockObserver]] | None = None,
    until: int | None = None,
) -> ReplayResult:
    """Re-execute the blocks of ``source`` from its genesis document into ``backend``.

    ``backend`` must be empty; an in-memory store is used when it is None. ``make_observers``
    is called once with the fresh chain, and each observer it returns is called with every
    committed block. The replay stops after block ``until`` when given, else at the source's last block.
    Raises BlockValidationError at the first broken rule, with the blocks before it committed.
    """
    genesis = parse_genesis(source.genesis_document())
    store = backend if backend is not None else MemoryBackend()
    initialize_store(store, genesis)
    chain = Chain(store)
    importer = BlockImporter(chain)
    observers = tuple(make_observers(chain)) if make_observers is not None else ()
    if progress is not None:
        head = source.head_number()
        progress.start(head if until is None or head is None else min(head, until))

    started = time.perf_counter()
    blocks = transactions = 0
    for block in source.blocks():
        if until is not None and block.number > until:
            break
        if block.number == 0:
            importer.check_genesis(block)
            continue
        executed = importer.import_block(block)
        for observer in observers:
            observer(chain, executed)
        blocks += 1
        transactions += len(executed.transactions)
        if progress is not None:
            progress.update(block.number, len(executed.transactions))
    seconds = time.perf_counter() - started

    if progress is not None:
        progress.finish()
    logger.info(
        "replay finished source=%s height=%d blocks=%d txs=%d seconds=%.2f",
        source.description,
        chain.head.block_number,
        blocks,
        transactions,
        seconds,
    )
    return ReplayResult(chain.head, blocks, transactions, seconds)
