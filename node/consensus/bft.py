"""The QBFT engine wired to the chain, the pool, the network and wall-clock timers.

Every engine event runs on the node's core thread (see
:class:`node.p2p.bridge.CoreThread`), so the engine, block sync and
imports never interleave. Timers are threads that only enqueue work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import rlp
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from rlp.sedes import CountableList

from node.chain.chain import Chain
from node.chain.crypto import address_of_private_key
from node.chain.execution import ExecutedBlock
from node.chain.header import KuraHeader
from node.chain.seal import ExtraData
from node.consensus.qbft.block import ProposedBlock
from node.consensus.qbft.config import QbftConfig
from node.consensus.qbft.engine import QbftEngine
from node.consensus.qbft.errors import MessageDecodeError
from node.consensus.qbft.messages import RoundChange, decode_message, encode_message
from node.consensus.qbft.round_state import PreparedCertificate, signed_round_change
from node.consensus.seals import add_proposer_seal, check_senders_allowed
from node.consensus.validators import ValidatorTracker, VoteBox
from node.errors import BlockValidationError
from node.p2p import wire
from node.p2p.bridge import CoreThread, NetworkBridge, decode_block
from node.store.schema import meta_key
from node.txpool.pool import TxPool

logger = logging.getLogger(__name__)

_TX_LIST = CountableList(PragueTransactionBuilder)
#: Executed proposals kept for import, by block hash.
_EXECUTED_CACHE = 16
#: Share of the block period the proposer spends executing transactions. The
#: other validators execute the proposal again before they prepare, so the
#: proposer leaves them the rest of the period.
PROPOSAL_BUILD_SHARE = 0.4
#: Store key of this validator's vote journal (see node.consensus.qbft.interfaces.VoteJournal).
VOTE_JOURNAL_KEY = meta_key("qbft-vote-journal")
#: How often a validator re-checks for waiting transactions while it holds back an empty block.
_EMPTY_BLOCK_POLL_SECONDS = 0.1


class BftDriver:
    """Implements the engine's BlockCreator, BlockImporter, Gossip, RoundTimer, ValidatorProvider and VoteJournal."""

    def __init__(
        self,
        chain: Chain,
        pool: TxPool,
        bridge: NetworkBridge,
        core: CoreThread,
        tracker: ValidatorTracker,
        votes: VoteBox,
        private_key: bytes,
        *,
        sender_allowed: Callable[[bytes], bool] = lambda sender: True,
    ) -> None:
        self.chain = chain
        self.sender_allowed = sender_allowed
        self.pool = pool
        self.bridge = bridge
        self.core = core
        self.tracker = tracker
        self.votes = votes
        self._key = private_key
        self.address = address_of_private_key(private_key)
        self._executed: OrderedDict[bytes, ExecutedBlock] = OrderedDict()
        self._round_timer: threading.Timer | None = None
        self._block_timer: threading.Timer | None = None
        self._timer_lock = threading.Lock()
        self._stopped = False
        config = chain.config
        self.engine = QbftEngine(
            private_key=private_key,
            head=chain.head,
            validators=self,
            creator=self,
            importer=self,
            gossip=self,
            timer=self,
            config=QbftConfig(block_period=config.block_period, round_timeout_base=config.request_timeout),
            journal=self,
        )
        bridge.on_consensus = lambda payload, sender: self.engine.handle_message(payload)
        bridge.on_imported = self.engine.handle_new_head

    def start(self) -> None:
        self.core.submit(self.engine.start)

    def stop(self) -> None:
        with self._timer_lock:
            self._stopped = True
            for timer in (self._round_timer, self._block_timer):
                if timer is not None:
                    timer.cancel()

    # ValidatorProvider

    def validators_at(self, height: int) -> tuple[bytes, ...]:
        parent = self.chain.header_by_number(height - 1)
        if parent is None:
            raise LookupError(f"validators of height {height} are unknown: its parent is not stored")
        return self.tracker.next_validators(parent)

    # BlockCreator

    def create_block(self, parent: KuraHeader, *, round: int, timestamp: int) -> ProposedBlock:
        validators = self.tracker.next_validators(parent)
        extra = ExtraData(
            validators=validators,
            round=round,
            vote=self.votes.next_vote(validators, parent.block_number + 1),
        )
        started = time.perf_counter()
        template = self.chain.make_template(parent, timestamp=timestamp, coinbase=self.address, extra=extra)
        executed = self.chain.build(
            template,
            self.pool.pending(template.base_fee_per_gas),
            max_seconds=PROPOSAL_BUILD_SHARE * self.chain.config.block_period,
        )
        header = add_proposer_seal(executed.header, self._key)
        executed.header = header
        self._remember(header.hash, executed)
        body = rlp.encode(list(executed.transactions), sedes=_TX_LIST)
        logger.info(
            "proposing block height=%d round=%d txs=%d elapsed=%.3fs hash=0x%s",
            header.block_number,
            round,
            len(executed.transactions),
            time.perf_counter() - started,
            header.hash.hex(),
        )
        return ProposedBlock(header, body)

    # BlockImporter

    def validate_block(self, block: ProposedBlock) -> None:
        if block.hash in self._executed:
            return
        started = time.perf_counter()
        header, transactions = self._decode(block)
        check_senders_allowed(header.block_number, transactions, self.sender_allowed)
        self._remember(block.hash, self.chain.execute_received(header, transactions))
        logger.debug(
            "executed proposal height=%d txs=%d elapsed=%.3fs hash=0x%s",
            block.number,
            len(transactions),
            time.perf_counter() - started,
            block.hash.hex(),
        )

    def import_block(self, block: ProposedBlock) -> None:
        started = time.perf_counter()
        executed = self._executed.pop(block.hash, None)
        if executed is None:
            executed = self.chain.execute_received(*self._decode(block))
        if executed.header.hash != block.hash:
            raise BlockValidationError("finalised block differs from the executed one", number=block.number)
        executed.header = block.header
        self.chain.commit(executed)
        self._executed.clear()
        self.pool.on_block(executed.transactions, executed.rejected)
        self.bridge.announce(block.header, executed.transactions)
        logger.info(
            "finalised block height=%d round=%d txs=%d seals=%d elapsed=%.3fs hash=0x%s",
            block.number,
            block.header.seal.round,
            len(executed.transactions),
            len(block.header.seal.commit_seals),
            time.perf_counter() - started,
            block.hash.hex(),
        )

    def _decode(self, block: ProposedBlock) -> tuple[KuraHeader, list]:
        """Decode a proposed block, taking each transaction's pooled copy where the pool has one."""
        header, transactions = decode_block(rlp.encode(block.header), block.body)
        return header, self.pool.reuse_pooled(transactions)

    def _remember(self, block_hash: bytes, executed: ExecutedBlock) -> None:
        self._executed[block_hash] = executed
        while len(self._executed) > _EXECUTED_CACHE:
            self._executed.popitem(last=False)

    # Gossip

    def broadcast(self, message: bytes) -> None:
        network = self.bridge.network
        if network is not None:
            network.broadcast(wire.Consensus(message))

    # VoteJournal

    def record(self, height: int, round: int, prepared: PreparedCertificate | None) -> None:
        # Kept as this node's own signed ROUND-CHANGE for the round: it names the
        # height and round and carries the certificate in the wire encoding.
        message = signed_round_change(height, round, prepared, self._key)
        self.chain.store.backend.write_batch({VOTE_JOURNAL_KEY: encode_message(message)})

    def recall(self, height: int) -> tuple[int, PreparedCertificate | None] | None:
        stored = self.chain.store.backend.get(VOTE_JOURNAL_KEY)
        if stored is None:
            return None
        try:
            message = decode_message(stored)
        except MessageDecodeError as error:
            logger.warning("ignored an unreadable QBFT vote journal entry; starting the height at round 0: %s", error)
            return None
        if not isinstance(message, RoundChange) or message.height != height or message.author != self.address:
            # Another height, or a copy of another validator's store (a restored shelter).
            return None
        if message.prepared_block is None or message.prepared_round is None:
            return message.round, None
        return message.round, PreparedCertificate(message.prepared_round, message.prepared_block, message.prepares)

    # RoundTimer

    def start_round_timer(self, height: int, round: int, seconds: float) -> None:
        if round == 0:
            # Round 0 waits for a block: its countdown starts only once the
            # proposer may propose (see _block_due), or idle validators would
            # time out while the proposer holds back an empty block.
            self._arm("round", 0, lambda: self._round_zero_gate(height, seconds))
        else:
            self._arm("round", seconds, lambda: self.engine.handle_timeout(height, round))

    def _round_zero_gate(self, height: int, seconds: float) -> None:
        if height != self.engine.height or self.engine.round != 0:
            return
        if self._block_due():
            self._arm("round", seconds, lambda: self.engine.handle_timeout(height, 0))
        else:
            self._arm("round", _EMPTY_BLOCK_POLL_SECONDS, lambda: self._round_zero_gate(height, seconds))

    def cancel_round_timer(self) -> None:
        with self._timer_lock:
            if self._round_timer is not None:
                self._round_timer.cancel()
                self._round_timer = None

    def start_block_timer(self, height: int, seconds: float) -> None:
        self._arm("block", seconds, lambda: self._block_timer_fired(height))

    def _block_timer_fired(self, height: int) -> None:
        """Release the block timer once transactions wait or the empty-block period has passed.

        Every validator applies the same rule to its own pool, and
        transactions are gossiped to all of them, so they release together.
        """
        if height != self.engine.height:
            return
        if self._block_due():
            self.engine.handle_block_timer(height)
        else:
            self._arm("block", _EMPTY_BLOCK_POLL_SECONDS, lambda: self._block_timer_fired(height))

    def _block_due(self) -> bool:
        """Whether a block should be made now: transactions wait, or the empty-block period has passed."""
        empty_due = self.chain.head.timestamp + self.chain.config.empty_block_period
        if time.time() >= empty_due:
            return True
        # Not pool.has_pending: only the proposer's pending() call clears it.
        pending, _queued = self.pool.counts()
        return pending > 0

    def _arm(self, kind: str, seconds: float, event: Callable[[], None]) -> None:
        with self._timer_lock:
            if self._stopped:
                return
            previous = self._round_timer if kind == "round" else self._block_timer
            if previous is not None:
                previous.cancel()
            timer = threading.Timer(max(0.0, seconds), lambda: self.core.submit(event))
            timer.daemon = True
            if kind == "round":
                self._round_timer = timer
            else:
                self._block_timer = timer
            timer.start()
