"""The chain: a store, its genesis rules, and the blocks on top of them.

:class:`Chain` is what the consensus engine, the transaction pool and the
JSON-RPC server share. It executes and commits blocks and serves reads
of committed blocks and state. It does not decide which block comes
next: that is the consensus engine's job.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence

from eth.abc import ComputationAPI, ReceiptAPI, SignedTransactionAPI, StateAPI
from eth.constants import ZERO_HASH32
from eth.vm.chain_context import ChainContext
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth.vm.message import Message
from eth_typing import Address, BlockNumber

from node.chain.execution import ExecutedBlock, execute_block, make_vm
from node.chain.genesis import Genesis, build_genesis_header, build_genesis_state, parse_genesis
from node.chain.header import KuraHeader
from node.chain.seal import ExtraData
from node.chain.vm import EMPTY_REQUESTS_HASH
from node.errors import BlockValidationError, StoreError
from node.store import schema
from node.store.backend import KeyValueBackend, release_trie_caches
from node.store.chainstore import ChainStore
from node.store.overlay import StateOverlay

logger = logging.getLogger(__name__)


def initialize_store(backend: KeyValueBackend, genesis: Genesis) -> KuraHeader:
    """Write the genesis block into an empty store; return its header.

    A store that already contains the same genesis is left as it is. One
    that contains another genesis raises StoreError.
    """
    store = ChainStore(backend)
    overlay = StateOverlay(backend)
    header = build_genesis_header(genesis, build_genesis_state(genesis, overlay))

    existing = store.canonical_hash(0)
    if existing is not None:
        if existing != header.hash or store.genesis_document() != json.loads(json.dumps(genesis.raw)):
            raise StoreError(
                f"the data directory already contains genesis 0x{existing.hex()} with another "
                f"configuration than this file (0x{header.hash.hex()}); use another --data-dir"
            )
        return header

    meta = {
        "genesis": json.dumps(genesis.raw, sort_keys=True).encode(),
    }
    backend.write_batch({schema.SCHEMA_KEY: str(schema.SCHEMA_VERSION).encode()})
    store.commit_block(header, [], [], overlay.prefixed_writes(), extra_meta=meta)
    return header


class Chain:
    """Committed blocks and state, and block execution on top of the head."""

    def __init__(self, backend: KeyValueBackend) -> None:
        self.store = ChainStore(backend)
        version = self.store.schema_version()
        if version is None:
            raise StoreError("the data directory is not initialised; run 'kura init' first")
        if version != schema.SCHEMA_VERSION:
            raise StoreError(
                f"the data directory has store schema {version}, this kura reads schema "
                f"{schema.SCHEMA_VERSION}; use a matching kura version"
            )
        self.genesis = parse_genesis(self.store.genesis_document())
        self.config = self.genesis.config
        self.chain_context = ChainContext(self.config.chain_id)
        head_hash = self.store.head_hash()
        head = None if head_hash is None else self.store.header_by_hash(head_hash)
        if head is None:
            raise StoreError("the data directory has no head block; it is corrupt, restore it")
        self._head = head
        self._commit_lock = threading.Lock()
        #: Called with (header, transactions, receipts) after each commit.
        self.listeners: list = []

    @property
    def head(self) -> KuraHeader:
        return self._head

    @property
    def chain_id(self) -> int:
        return self.config.chain_id

    # Building and importing

    def next_base_fee(self, parent: KuraHeader) -> int:
        if self.config.free_gas:
            return 0
        return calculate_expected_base_fee_per_gas(parent)

    def make_template(self, parent: KuraHeader, *, timestamp: int, coinbase: bytes, extra: ExtraData) -> KuraHeader:
        """Build the header of ``parent``'s child before execution."""
        return KuraHeader(
            difficulty=0,
            block_number=BlockNumber(parent.block_number + 1),
            gas_limit=self.config.gas_limit,
            timestamp=timestamp,
            coinbase=Address(coinbase),
            parent_hash=parent.hash,
            state_root=parent.state_root,
            extra_data=extra.encode(),
            # PREVRANDAO has no randomness source here; the parent hash at
            # least makes it differ per block. Contracts must not use it as
            # randomness on this chain.
            mix_hash=parent.hash,
            nonce=bytes(8),
            base_fee_per_gas=self.next_base_fee(parent),
            parent_beacon_block_root=ZERO_HASH32,
            requests_hash=EMPTY_REQUESTS_HASH,
        )

    def build(
        self,
        template: KuraHeader,
        transactions: Sequence[SignedTransactionAPI],
        *,
        max_seconds: float | None = None,
    ) -> ExecutedBlock:
        """Execute a new block; with ``max_seconds``, stop taking transactions after that much execution."""
        overlay = StateOverlay(self.store.backend)
        deadline = None if max_seconds is None else time.perf_counter() + max_seconds
        return execute_block(
            template,
            transactions,
            overlay,
            self.store.header_by_hash,
            self.chain_context,
            building=True,
            deadline=deadline,
        )

    def execute_received(self, header: KuraHeader, transactions: Sequence[SignedTransactionAPI]) -> ExecutedBlock:
        """Re-execute a received block and check every execution result in its header.

        Raises BlockValidationError naming the first field that differs.
        """
        parent = self.store.header_by_hash(header.parent_hash)
        if parent is None:
            raise BlockValidationError("unknown parent", number=header.block_number, got=header.parent_hash.hex())
        self.check_header_against_parent(header, parent)
        template = header.copy(state_root=parent.state_root)
        overlay = StateOverlay(self.store.backend)
        executed = execute_block(
            template, transactions, overlay, self.store.header_by_hash, self.chain_context, building=False
        )
        for name in ("state_root", "transaction_root", "receipt_root", "gas_used", "bloom"):
            got, expected = getattr(header, name), getattr(executed.header, name)
            if got != expected:
                raise BlockValidationError(
                    f"{name} mismatch", number=header.block_number, got=_show(got), expected=_show(expected)
                )
        executed.header = header
        return executed

    def check_header_against_parent(self, header: KuraHeader, parent: KuraHeader) -> None:
        number = header.block_number
        checks = (
            ("block number", header.block_number, parent.block_number + 1),
            ("gas limit", header.gas_limit, self.config.gas_limit),
            ("base fee", header.base_fee_per_gas, self.next_base_fee(parent)),
            ("difficulty", header.difficulty, 0),
            ("requests hash", header.requests_hash, EMPTY_REQUESTS_HASH),
            ("parent beacon block root", header.parent_beacon_block_root, ZERO_HASH32),
            ("blob gas used", header.blob_gas_used, 0),
        )
        for rule, got, expected in checks:
            if got != expected:
                raise BlockValidationError(rule, number=number, got=_show(got), expected=_show(expected))
        if header.timestamp <= parent.timestamp:
            raise BlockValidationError(
                "timestamp not after parent", number=number, got=header.timestamp, expected=f"> {parent.timestamp}"
            )

    def commit(self, executed: ExecutedBlock) -> None:
        """Store an executed, sealed block as the new head."""
        header = executed.header
        with self._commit_lock:
            if header.parent_hash != self._head.hash:
                raise BlockValidationError(
                    "parent is not the head",
                    number=header.block_number,
                    got=header.parent_hash.hex(),
                    expected=self._head.hash.hex(),
                )
            self.store.commit_block(
                header, executed.transactions, executed.receipts, executed.overlay.prefixed_writes()
            )
            self._head = header
        release_trie_caches()
        for listener in list(self.listeners):
            try:
                listener(header, executed.transactions, executed.receipts)
            except Exception:
                logger.exception("block listener failed height=%d", header.block_number)

    # Reads

    def header_by_number(self, number: int) -> KuraHeader | None:
        if number > self._head.block_number:
            return None
        return self.store.header_by_number(number)

    def header_by_hash(self, block_hash: bytes) -> KuraHeader | None:
        header = self.store.header_by_hash(block_hash)
        if header is None:
            return None
        if self.store.canonical_hash(header.block_number) != header.hash:
            return None
        return header

    def transactions(self, header: KuraHeader) -> tuple[SignedTransactionAPI, ...]:
        return self.store.transactions(header.hash)

    def receipts(self, header: KuraHeader) -> tuple[ReceiptAPI, ...]:
        return self.store.receipts(header.hash)

    def state_at(self, header: KuraHeader) -> StateAPI:
        """Open a throw-away state at ``header``; writes to it are never stored."""
        overlay = StateOverlay(self.store.backend)
        return make_vm(header, overlay, self.store.header_by_hash, self.chain_context).state

    def pending_template(self) -> KuraHeader:
        """Build a header for executing calls against the head, as the next block would."""
        head = self._head
        return self.make_template(
            head,
            timestamp=head.timestamp + self.config.block_period,
            coinbase=head.coinbase,
            extra=ExtraData(validators=self.config.validators),
        )

    def run_read_call(
        self, header: KuraHeader, transaction: Callable[[StateAPI], SignedTransactionAPI]
    ) -> ComputationAPI:
        """Run a call's message on ``header``'s state without the transaction around it.

        Skips what only matters to a mined transaction: the signature and
        nonce checks, buying gas, the nonce increment, refunds and fees. The
        message gets the gas left after intrinsic gas and the same warm
        addresses as in a transaction, so the EVM runs the call as it would
        in a block. For ``eth_call`` to a contract; contract creation and
        ``eth_estimateGas`` use :meth:`run_call`.
        """
        state = self.state_at(header)
        tx = transaction(state)
        executor = state.get_transaction_executor()
        code, delegation = executor.get_code_at_address(tx.to)  # type: ignore[attr-defined]  # Prague executors have it
        message = Message(
            gas=tx.gas - tx.intrinsic_gas,
            to=tx.to,
            sender=tx.sender,
            value=tx.value,
            data=tx.data,
            code=code,
            is_delegation=delegation is not None,
        )
        return executor.build_computation(message, tx)

    def run_call(
        self, header: KuraHeader, make_transaction: Callable[[StateAPI], SignedTransactionAPI]
    ) -> ComputationAPI:
        """Execute a transaction on top of ``header``'s state in ``header``'s block context; store nothing.

        ``make_transaction`` receives the state first, so it can read the
        sender's nonce from the same state object the call runs on.
        """
        state = self.state_at(header)
        return state.apply_transaction(make_transaction(state))


def _show(value: object) -> object:
    return f"0x{value.hex()}" if isinstance(value, bytes) else value
