"""One QBFT engine on a FakeChain, fed hand-built messages, with a recording gossip and a manual timer."""

from __future__ import annotations

from dataclasses import dataclass, field

from node.consensus.qbft.config import QbftConfig
from node.consensus.qbft.engine import QbftEngine
from node.consensus.qbft.interfaces import VoteJournal
from node.consensus.qbft.messages import Message, Proposal, decode_message, encode_message
from tests.consensus.builders import GENESIS, KEYS, NOW, VALIDATORS, prepare, proposal
from tests.consensus.fake_chain import FakeChain

CONFIG = QbftConfig(block_period=1, round_timeout_base=2.0)


class RecordingGossip:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    def broadcast(self, message: bytes) -> None:
        self.sent.append(decode_message(message))

    def of(self, kind: type) -> list:
        return [message for message in self.sent if isinstance(message, kind)]


@dataclass
class ManualTimer:
    round_timers: list[tuple[int, int, float]] = field(default_factory=list)
    block_timers: list[tuple[int, float]] = field(default_factory=list)
    cancels: int = 0

    def start_round_timer(self, height: int, round: int, seconds: float) -> None:
        self.round_timers.append((height, round, seconds))

    def cancel_round_timer(self) -> None:
        self.cancels += 1

    def start_block_timer(self, height: int, seconds: float) -> None:
        self.block_timers.append((height, seconds))


@dataclass
class Node:
    engine: QbftEngine
    chain: FakeChain
    gossip: RecordingGossip
    timer: ManualTimer

    def feed(self, *messages: Message) -> None:
        for message in messages:
            self.engine.handle_message(encode_message(message))


def make_node(
    key: bytes = KEYS[0],
    *,
    config: QbftConfig = CONFIG,
    chain_type: type[FakeChain] = FakeChain,
    journal: VoteJournal | None = None,
) -> Node:
    chain = chain_type("node", GENESIS, VALIDATORS, key)
    gossip = RecordingGossip()
    timer = ManualTimer()
    engine = QbftEngine(
        private_key=key,
        head=chain.head,
        validators=chain,
        creator=chain,
        importer=chain,
        gossip=gossip,
        timer=timer,
        clock=lambda: NOW,
        config=config,
        journal=journal,
    )
    engine.start()
    return Node(engine, chain, gossip, timer)


def prepared_node(key: bytes = KEYS[0], journal: VoteJournal | None = None) -> tuple[Node, Proposal]:
    """A node that accepted the round-0 proposal of height 1 and saw a quorum prepare it."""
    node = make_node(key, journal=journal)
    sent = proposal()
    node.feed(sent)
    node.feed(*[prepare(k, 1, 0, sent.digest) for k in KEYS if k != key][:2])
    return node, sent
