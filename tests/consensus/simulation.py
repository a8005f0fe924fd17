"""A deterministic in-process network of QBFT validators on simulated time.

Every node runs its own QbftEngine on its own chain (a FakeChain unless the
cluster is given another chain factory). Messages travel
through SimNetwork, which loses, duplicates and delays them from a seeded
random generator; random delays reorder them. Timers and the clock read the
Scheduler's simulated time, so a run depends only on its seed and takes no
real waiting. A periodic block sync copies finalised blocks (after checking
their seals) from a reachable peer that is ahead, as the node's p2p sync
will, so a validator that missed a height's commits catches up.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from node.chain.crypto import address_of_private_key
from node.chain.header import KuraHeader
from node.consensus.qbft.block import ProposedBlock
from node.consensus.qbft.config import QbftConfig
from node.consensus.qbft.engine import QbftEngine
from node.consensus.qbft.messages import (
    Commit,
    CommitPayload,
    Message,
    Prepare,
    PreparePayload,
    Proposal,
    ProposalPayload,
    decode_message,
    encode_message,
    sign,
)
from node.consensus.seals import commit_seal
from node.errors import BlockValidationError
from tests.consensus.fake_chain import FakeChain, Ledger, genesis_header, make_block, validator_keys


class SimChain(Protocol):
    """Chain methods a simulated node uses, besides the engine's three Protocols."""

    validators: tuple[bytes, ...]
    #: Finalised blocks from genesis on, served to peers by block sync.
    blocks: list[ProposedBlock]

    @property
    def head(self) -> KuraHeader: ...

    @property
    def height(self) -> int: ...

    def validators_at(self, height: int) -> tuple[bytes, ...]: ...

    def create_block(self, parent: KuraHeader, *, round: int, timestamp: int) -> ProposedBlock: ...

    def validate_block(self, block: ProposedBlock) -> None: ...

    def import_block(self, block: ProposedBlock) -> None: ...


#: Makes node ``index``'s chain from its name, the validator set, its key and the shared ledger.
ChainFactory = Callable[[str, tuple[bytes, ...], bytes, Ledger], SimChain]


def fake_chain_factory(name: str, validators: tuple[bytes, ...], key: bytes, ledger: Ledger) -> SimChain:
    return FakeChain(name, genesis_header(validators), validators, key, ledger)


#: Simulated start time, Unix seconds; the genesis timestamp is 0.
START_TIME = 1_000_000.0
#: Timeouts short enough for quick simulations; delays below are scaled to them.
SIM_CONFIG = QbftConfig(block_period=1, round_timeout_base=1.0)


class Scheduler:
    """Simulated time and a queue of callbacks ordered by due time, then by scheduling order."""

    def __init__(self, start: float = START_TIME) -> None:
        self.now = start
        self.events = 0
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()

    def clock(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (self.now + max(0.0, delay), next(self._sequence), callback))

    def run_until(self, deadline: float, stop: Callable[[], bool] | None = None) -> bool:
        """Run callbacks due up to ``deadline``; return True as soon as ``stop()`` is true."""
        if stop is not None and stop():
            return True
        while self._queue and self._queue[0][0] <= deadline:
            due, _, callback = heapq.heappop(self._queue)
            self.now = due
            callback()
            self.events += 1
            if stop is not None and stop():
                return True
        self.now = max(self.now, deadline)
        return False


@dataclass
class Conditions:
    """Network behaviour: probabilities per message copy, delays in simulated seconds."""

    loss: float = 0.0
    duplicate: float = 0.0
    min_delay: float = 0.01
    max_delay: float = 0.2
    #: Probability that a copy is delayed up to ten times ``max_delay``, arriving after later messages.
    straggler: float = 0.0


class SimNetwork:
    def __init__(self, scheduler: Scheduler, rng: random.Random) -> None:
        self.scheduler = scheduler
        self.rng = rng
        self.nodes: list[SimNode] = []
        self.conditions = Conditions()
        #: Group index per node while partitioned; None when every node reaches every other.
        self.groups: list[int] | None = None

    def same_side(self, a: int, b: int) -> bool:
        return self.groups is None or self.groups[a] == self.groups[b]

    def reachable(self, a: int, b: int) -> bool:
        return self.nodes[a].alive and self.nodes[b].alive and self.same_side(a, b)

    def send(self, sender: int, recipient: int, data: bytes) -> None:
        if not self.reachable(sender, recipient):
            return
        conditions = self.conditions
        if self.rng.random() < conditions.loss:
            return
        copies = 2 if self.rng.random() < conditions.duplicate else 1
        for _ in range(copies):
            delay = self.rng.uniform(conditions.min_delay, conditions.max_delay)
            if self.rng.random() < conditions.straggler:
                delay *= self.rng.uniform(1.0, 10.0)
            self.scheduler.call_later(delay, partial(self._deliver, sender, recipient, data))

    def _deliver(self, sender: int, recipient: int, data: bytes) -> None:
        # A partition or crash that began while the message was in flight drops it.
        node = self.nodes[recipient]
        if node.alive and self.same_side(sender, recipient):
            node.engine.handle_message(data)


class SimGossip:
    def __init__(self, network: SimNetwork, index: int) -> None:
        self.network = network
        self.index = index

    def broadcast(self, message: bytes) -> None:
        for recipient in range(len(self.network.nodes)):
            if recipient != self.index:
                self.network.send(self.index, recipient, message)


class SimTimer:
    """RoundTimer on simulated time, for one incarnation of one node's engine."""

    def __init__(self, node: SimNode) -> None:
        self._node = node
        self._incarnation = node.incarnation
        self._round_generation = 0
        self._block_generation = 0
        #: (height, round, seconds) of every round timer started, for tests.
        self.round_timers: list[tuple[int, int, float]] = []

    def start_round_timer(self, height: int, round: int, seconds: float) -> None:
        self._round_generation += 1
        self.round_timers.append((height, round, seconds))
        generation = self._round_generation
        self._node.scheduler.call_later(seconds, lambda: self._fire_round(generation, height, round))

    def cancel_round_timer(self) -> None:
        self._round_generation += 1

    def start_block_timer(self, height: int, seconds: float) -> None:
        self._block_generation += 1
        generation = self._block_generation
        self._node.scheduler.call_later(seconds, lambda: self._fire_block(generation, height))

    def _live(self) -> bool:
        return self._node.alive and self._node.incarnation == self._incarnation

    def _fire_round(self, generation: int, height: int, round: int) -> None:
        if self._live() and generation == self._round_generation:
            self._node.engine.handle_timeout(height, round)

    def _fire_block(self, generation: int, height: int) -> None:
        if self._live() and generation == self._block_generation:
            self._node.engine.handle_block_timer(height)


class SimNode:
    def __init__(self, cluster: Cluster, index: int, key: bytes, chain: SimChain) -> None:
        self.cluster = cluster
        self.scheduler = cluster.scheduler
        self.index = index
        self.key = key
        self.address = address_of_private_key(key)
        self.chain = chain
        self.gossip: SimGossip | EquivocatingGossip = SimGossip(cluster.network, index)
        self.alive = False
        self.incarnation = 0
        self.engine: QbftEngine
        self.timer: SimTimer

    def boot(self) -> None:
        """Start a fresh engine on the chain's head, as a process start or restart does."""
        self.incarnation += 1
        self.alive = True
        self.timer = SimTimer(self)
        self.engine = QbftEngine(
            private_key=self.key,
            head=self.chain.head,
            validators=self.chain,
            creator=self.chain,
            importer=self.chain,
            gossip=self.gossip,
            timer=self.timer,
            clock=self.scheduler.clock,
            config=self.cluster.config,
        )
        self.engine.start()

    def crash(self) -> None:
        self.alive = False


class EquivocatingGossip:
    """A byzantine node's gossip: its engine's messages to some validators, conflicting twins to the others.

    Twins name a twin block of the same height and round, made and sealed
    for that round by the byzantine node: a second proposal carrying it, and
    prepares and commits for its hash. The commit seals are valid for the
    twin block's header. One recipient gets both versions, in random order.
    """

    def __init__(self, node: SimNode) -> None:
        self.node = node
        self.network = node.cluster.network
        self.rng = random.Random(node.cluster.seed * 1000 + node.index)
        self.twins_sent: Counter[str] = Counter()
        self._twin_blocks: dict[tuple[int, int], ProposedBlock] = {}

    def broadcast(self, message: bytes) -> None:
        recipients = [i for i in range(len(self.network.nodes)) if i != self.node.index]
        twin = self._twin(decode_message(message))
        if twin is None:
            for recipient in recipients:
                self.network.send(self.node.index, recipient, message)
            return
        self.rng.shuffle(recipients)
        half = len(recipients) // 2
        for recipient in recipients[:half]:
            self.network.send(self.node.index, recipient, message)
        for recipient in recipients[half:]:
            self.network.send(self.node.index, recipient, twin)
        both = [message, twin]
        self.rng.shuffle(both)
        for data in both:
            self.network.send(self.node.index, recipients[0], data)

    def _twin(self, message: Message) -> bytes | None:
        key = self.node.key
        if isinstance(message, Proposal):
            block = self._twin_block(message, message.block.header.timestamp)
            self.twins_sent["proposal"] += 1
            payload = ProposalPayload(message.height, message.round, block.hash)
            twin = Proposal(sign(payload, key), block, message.round_changes, message.prepares)
            return encode_message(twin)
        if isinstance(message, Prepare):
            block = self._twin_block(message, int(self.node.scheduler.now))
            self.twins_sent["prepare"] += 1
            return encode_message(Prepare(sign(PreparePayload(message.height, message.round, block.hash), key)))
        if isinstance(message, Commit):
            block = self._twin_block(message, int(self.node.scheduler.now))
            self.twins_sent["commit"] += 1
            payload_commit = CommitPayload(message.height, message.round, block.hash, commit_seal(block.header, key))
            return encode_message(Commit(sign(payload_commit, key)))
        return None

    def _twin_block(self, message: Message, timestamp: int) -> ProposedBlock:
        """Return the twin block of ``message``'s height and round, made on first use."""
        slot = (message.height, message.round)
        block = self._twin_blocks.get(slot)
        if block is None:
            # The engine sends while it works on message.height, so its head is the parent.
            parent = self.node.engine.head
            validators = self.node.chain.validators
            block = make_block(
                parent, self.node.key, validators, round=message.round, timestamp=timestamp, salt=b"twin"
            )
            self._twin_blocks[slot] = block
        return block


class Cluster:
    """N validators on one simulated network, with a shared ledger of finalised blocks."""

    def __init__(
        self,
        size: int,
        seed: int,
        *,
        config: QbftConfig = SIM_CONFIG,
        conditions: Conditions | None = None,
        sync_interval: float = 2.0,
        byzantine: Iterable[int] = (),
        chain_factory: ChainFactory = fake_chain_factory,
    ) -> None:
        self.seed = seed
        self.config = config
        self.rng = random.Random(seed)
        self.scheduler = Scheduler()
        self.network = SimNetwork(self.scheduler, self.rng)
        self.network.conditions = conditions or Conditions()
        self.ledger = Ledger()
        self.sync_interval = sync_interval
        self.byzantine = set(byzantine)

        self.keys = validator_keys(size)
        self.validators = tuple(address_of_private_key(key) for key in self.keys)
        self.nodes: list[SimNode] = []
        for index, key in enumerate(self.keys):
            chain = chain_factory(f"node{index}", self.validators, key, self.ledger)
            node = SimNode(self, index, key, chain)
            if index in self.byzantine:
                node.gossip = EquivocatingGossip(node)
            self.nodes.append(node)
        self.network.nodes = self.nodes

    def start(self) -> Cluster:
        for node in self.nodes:
            node.boot()
        self.scheduler.call_later(self.sync_interval, self._sync)
        return self

    @property
    def now(self) -> float:
        return self.scheduler.now

    @property
    def honest(self) -> list[SimNode]:
        return [node for node in self.nodes if node.index not in self.byzantine]

    def heights(self, nodes: Iterable[SimNode] | None = None) -> list[int]:
        return [node.chain.height for node in (self.honest if nodes is None else nodes)]

    def run_for(self, seconds: float) -> None:
        self.scheduler.run_until(self.now + seconds)

    def run_until_height(self, height: int, *, within: float, nodes: Iterable[SimNode] | None = None) -> bool:
        """Run until every given node (default: every honest one) has ``height``; False if ``within`` passes first."""
        watched = list(self.honest if nodes is None else nodes)
        return self.scheduler.run_until(self.now + within, lambda: all(node.chain.height >= height for node in watched))

    def partition(self, *groups: Iterable[int]) -> None:
        sides = [0] * len(self.nodes)
        for side, members in enumerate(groups):
            for index in members:
                sides[index] = side
        self.network.groups = sides

    def heal(self) -> None:
        self.network.groups = None

    def _sync(self) -> None:
        """Copy finalised blocks from a reachable peer that is ahead, as block sync would."""
        for node in self.nodes:
            if not node.alive:
                continue
            peers = sorted(self.nodes, key=lambda peer: peer.chain.height, reverse=True)
            for peer in peers:
                if peer.chain.height <= node.chain.height:
                    break
                if not self.network.reachable(node.index, peer.index):
                    continue
                if self.rng.random() < self.network.conditions.loss:
                    continue
                try:
                    for block in peer.chain.blocks[node.chain.height + 1 :]:
                        node.chain.import_block(block)
                except BlockValidationError as error:
                    self.ledger.conflicts.append(f"sync from node{peer.index} to node{node.index} failed: {error}")
                node.engine.handle_new_head(node.chain.head)
                break
        self.scheduler.call_later(self.sync_interval, self._sync)
