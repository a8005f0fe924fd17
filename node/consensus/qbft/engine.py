"""The QBFT engine: decodes messages, routes them by height and moves from height to height.

The engine is event driven and transport agnostic. The node calls
``handle_message`` with bytes from a peer, ``handle_timeout`` and
``handle_block_timer`` when a timer set through :class:`RoundTimer` fires,
and ``handle_new_head`` when block sync imports a block. All calls must
come from one thread. The engine sends through :class:`Gossip` and handles
its own messages itself, after the event that produced them.

A validator that misses the commits of a height cannot finalise it from
consensus messages alone, because the others have moved on: the node's
block sync must import the block and call ``handle_new_head``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable

from node.chain.crypto import address_of_private_key
from node.chain.header import KuraHeader
from node.consensus.qbft.block import ProposedBlock
from node.consensus.qbft.config import QbftConfig
from node.consensus.qbft.errors import InvalidMessage, MessageDecodeError, Rule
from node.consensus.qbft.height_manager import HeightManager
from node.consensus.qbft.interfaces import (
    BlockCreator,
    BlockImporter,
    Gossip,
    RoundTimer,
    ValidatorProvider,
    VoteJournal,
)
from node.consensus.qbft.messages import Commit, Message, Prepare, Proposal, RoundChange, decode_message, encode_message
from node.consensus.qbft.validation import HeightContext

logger = logging.getLogger(__name__)

#: Distinct (author, rule) pairs reported at WARNING per height; later ones go to DEBUG.
_MAX_WARNED = 1024


class QbftEngine:
    """One validator's (or observer's) QBFT consensus, driven by events."""

    def __init__(
        self,
        *,
        private_key: bytes,
        head: KuraHeader,
        validators: ValidatorProvider,
        creator: BlockCreator,
        importer: BlockImporter,
        gossip: Gossip,
        timer: RoundTimer,
        clock: Callable[[], float] = time.time,
        config: QbftConfig | None = None,
        journal: VoteJournal | None = None,
    ) -> None:
        """``journal`` None keeps votes in memory only, as the simulated network does."""
        self.address = address_of_private_key(private_key)
        self._journal = journal
        self._key = private_key
        self._head = head
        self._validators = validators
        self._creator = creator
        self._importer = importer
        self._gossip = gossip
        self._timer = timer
        self._clock = clock
        self._config = config or QbftConfig()

        self._manager: HeightManager | None = None
        self._future: dict[int, list[Message]] = {}
        self._future_per_author: Counter[bytes] = Counter()
        self._local: deque[Message] = deque()
        self._finalized: ProposedBlock | None = None
        self._warned: set[tuple[bytes, str]] = set()
        #: Rejected messages by rule, for metrics and tests.
        self.rejections: Counter[Rule] = Counter()
        #: Messages dropped without a rule (undecodable, old height, full buffer), by reason.
        self.drops: Counter[str] = Counter()

    # State, for status reports and tests.

    @property
    def head(self) -> KuraHeader:
        return self._head

    @property
    def height(self) -> int:
        """The height being decided: the head's number plus one."""
        return int(self._head.block_number) + 1

    @property
    def round(self) -> int:
        return self._manager.round if self._manager is not None else 0

    @property
    def manager(self) -> HeightManager | None:
        return self._manager

    # Events.

    def start(self) -> None:
        """Begin deciding the child of the head given to the constructor."""
        logger.info("QBFT engine started address=0x%s height=%d", self.address.hex(), self.height)
        self._start_height(self._head)
        self._drain()

    def handle_message(self, data: bytes) -> None:
        """Decode, authenticate and process a message received from a peer."""
        try:
            message = decode_message(data, self._config.decode_limits)
        except MessageDecodeError as error:
            self.drops[error.failure.name] += 1
            self._warn_once(b"", error.failure.name, "dropped undecodable message bytes=%d: %s", len(data), error)
            return
        self._dispatch(message)
        self._drain()

    def handle_timeout(self, height: int, round: int) -> None:
        if self._manager is None or height != self.height:
            logger.debug("ignored round timer height=%d round=%d; current height=%d", height, round, self.height)
            return
        self._manager.handle_timeout(round)
        self._drain()

    def handle_block_timer(self, height: int) -> None:
        if self._manager is None or height != self.height:
            logger.debug("ignored block timer height=%d; current height=%d", height, self.height)
            return
        self._manager.handle_block_timer()
        self._drain()

    def handle_new_head(self, header: KuraHeader) -> None:
        """Move past ``header``, a block the node imported by other means than this engine (block sync)."""
        if header.block_number < self.height:
            logger.debug("ignored new head height=%d; current height=%d", header.block_number, self.height)
            return
        logger.info(
            "new head from block sync height=%d hash=0x%s; leaving height=%d round=%d",
            header.block_number,
            header.hash.hex(),
            self.height,
            self.round,
        )
        self._start_height(header)
        self._drain()

    # Routing.

    def _dispatch(self, message: Message) -> None:
        if message.height < self.height:
            self.drops["old height"] += 1
            logger.debug(
                "dropped %s for old height=%d round=%d author=0x%s",
                message.code.name,
                message.height,
                message.round,
                message.author.hex(),
            )
            return
        if message.height > self.height:
            self._buffer(message)
            return
        manager = self._manager
        assert manager is not None, "start() must run before messages are handled"
        try:
            if isinstance(message, Proposal):
                manager.handle_proposal(message)
            elif isinstance(message, Prepare):
                manager.handle_prepare(message)
            elif isinstance(message, Commit):
                manager.handle_commit(message)
            elif isinstance(message, RoundChange):
                manager.handle_round_change(message)
        except InvalidMessage as error:
            self._log_rejection(message, error)

    def _buffer(self, message: Message) -> None:
        """Keep a message for a later height until the engine reaches it, within the configured bounds."""
        config = self._config
        manager = self._manager
        assert manager is not None, "start() must run before messages are handled"
        if message.height > self.height + config.future_heights:
            self.drops["too far ahead"] += 1
            logger.debug("dropped %s for height=%d: too far ahead", message.code.name, message.height)
            return

        # NOTE: the author is checked against the current validator set, because
        # later sets are unknown until their parent is final. A validator added
        # at the next height loses its early messages.
        if not manager.context.is_validator(message.author):
            rejection = InvalidMessage(
                Rule.AUTHOR_NOT_VALIDATOR, height=message.height, round=message.round, author=message.author
            )
            self._log_rejection(message, rejection)
            return

        total = sum(self._future_per_author.values())
        from_author = self._future_per_author[message.author]
        if total >= config.max_buffered_messages or from_author >= config.max_buffered_per_author:
            self.drops["buffer full"] += 1
            self._warn_once(
                message.author,
                "buffer full",
                "dropped %s for height=%d round=%d author=0x%s: future-height buffer full",
                message.code.name,
                message.height,
                message.round,
                message.author.hex(),
            )
            return

        self._future.setdefault(message.height, []).append(message)
        self._future_per_author[message.author] += 1

    def _send(self, message: Message) -> None:
        self._gossip.broadcast(encode_message(message))
        self._local.append(message)

    def _on_finalized(self, block: ProposedBlock) -> None:
        # Imported from _drain, after the manager's handler has returned.
        self._finalized = block

    def _drain(self) -> None:
        """Import a finalised block, then process this node's own messages, until neither is left."""
        while True:
            if self._finalized is not None:
                block, self._finalized = self._finalized, None
                self._import(block)
            elif self._local:
                self._dispatch(self._local.popleft())
            else:
                return

    def _import(self, block: ProposedBlock) -> None:
        try:
            self._importer.import_block(block)
        except Exception:
            # The importer runs node code (execution, the store); whatever it
            # raises, this height stays undecided here until block sync calls
            # handle_new_head.
            logger.exception(
                "import of finalized block failed height=%d hash=0x%s; waiting for block sync",
                block.number,
                block.hash.hex(),
            )
            return
        self._start_height(block.header)

    def _start_height(self, head: KuraHeader) -> None:
        self._head = head
        height = self.height
        context = HeightContext(height, head, tuple(self._validators.validators_at(height)))
        self._manager = HeightManager(
            context,
            private_key=self._key,
            address=self.address,
            creator=self._creator,
            importer=self._importer,
            timer=self._timer,
            clock=self._clock,
            config=self._config,
            send=self._send,
            on_finalized=self._on_finalized,
            on_rejected=self._log_rejection,
            journal=self._journal,
        )
        self._warned.clear()

        replay = self._future.pop(height, [])
        for stale in [h for h in self._future if h < height]:
            del self._future[stale]
        self._future_per_author = Counter(m.author for messages in self._future.values() for m in messages)

        self._manager.start()
        for message in replay:
            self._dispatch(message)

    # Logging.

    def _log_rejection(self, message: Message, error: InvalidMessage) -> None:
        self.rejections[error.rule] += 1
        self._warn_once(
            message.author,
            error.rule.name,
            "rejected %s height=%d round=%d author=0x%s rule=%s: %s%s",
            message.code.name,
            message.height,
            message.round,
            message.author.hex(),
            error.rule.name,
            error.rule.value,
            f" ({error.detail})" if error.detail else "",
        )

    def _warn_once(self, author: bytes, reason: str, text: str, *args: object) -> None:
        """Log at WARNING the first time per height for (author, reason), at DEBUG after that."""
        key = (author, reason)
        if key in self._warned or len(self._warned) >= _MAX_WARNED:
            logger.debug(text, *args)
            return
        self._warned.add(key)
        logger.warning(text, *args)
