"""Per-round and per-height message collections of the QBFT state machine.

Each collection keeps at most one message per author and kind: the first
valid one. A later message with the same content is a duplicate, because
the network may deliver a message twice. A later message with other
content is a conflict, which only a byzantine author sends. Both are dropped.
A commit counts as the author's one commit of the round from its arrival,
even while its seal waits for the round's block to be checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from node.consensus.qbft.block import ProposedBlock
from node.consensus.qbft.messages import (
    Commit,
    Prepare,
    PreparePayload,
    Proposal,
    RoundChange,
    RoundChangePayload,
    Signed,
    sign,
)

M = TypeVar("M", Prepare, RoundChange)


class AddResult(Enum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class PreparedCertificate:
    """A block this node saw a quorum prepare in ``round``, with those prepares.

    ``block`` is the header proposed in ``round``, so its seal carries that
    round. Once prepared, a node reports the certificate in each round change
    of the height, so any later proposal must re-propose this block, resealed
    for its own round, unless a higher round prepared another one.
    """

    round: int
    block: ProposedBlock
    prepares: tuple[Signed[PreparePayload], ...]


def signed_round_change(
    height: int, round: int, prepared: PreparedCertificate | None, private_key: bytes
) -> RoundChange:
    """Sign a ROUND-CHANGE to ``round`` that reports ``prepared``, the sender's lock, if it has one."""
    if prepared is None:
        return RoundChange(sign(RoundChangePayload(height, round), private_key))
    payload = RoundChangePayload(height, round, prepared.round, prepared.block.hash)
    return RoundChange(sign(payload, private_key), prepared.block, prepared.prepares)


@dataclass
class RoundState:
    """Messages collected in one round of one height, and flags for what this node sent in it."""

    round: int
    quorum: int
    proposal: Proposal | None = None
    sent_proposal: bool = False
    sent_commit: bool = False
    prepares: dict[bytes, Prepare] = field(default_factory=dict)
    #: Commits whose seal was checked against this round's block of their digest, by author.
    commits: dict[bytes, Commit] = field(default_factory=dict)
    #: Commits that arrived before this round's block of their digest, by author; not counted yet.
    unchecked_commits: dict[bytes, Commit] = field(default_factory=dict)
    #: Blocks by hash whose header is a proposal of this round: the seal carries this
    #: round and the proposer seal is by this round's proposer. Commit seals of the
    #: round sign their commit hash, and finalisation puts the seals into them.
    blocks: dict[bytes, ProposedBlock] = field(default_factory=dict)

    def add_prepare(self, prepare: Prepare) -> AddResult:
        return _add(self.prepares, prepare)

    def add_commit(self, commit: Commit, *, checked: bool) -> AddResult:
        """Keep the author's first commit of the round; hold it unchecked unless ``checked``."""
        existing = self.commits.get(commit.author) or self.unchecked_commits.get(commit.author)
        if existing is not None:
            return AddResult.DUPLICATE if existing.signed.encoded == commit.signed.encoded else AddResult.CONFLICT
        if checked:
            self.commits[commit.author] = commit
        else:
            self.unchecked_commits[commit.author] = commit
        return AddResult.ADDED

    def take_unchecked_commits(self, digest: bytes) -> list[Commit]:
        """Remove and return the unchecked commits for ``digest``; the caller checks and re-adds them."""
        taken = [commit for commit in self.unchecked_commits.values() if commit.digest == digest]
        for commit in taken:
            del self.unchecked_commits[commit.author]
        return taken

    def prepares_for(self, digest: bytes) -> tuple[Signed[PreparePayload], ...]:
        return tuple(prepare.signed for prepare in self.prepares.values() if prepare.digest == digest)

    def commits_for(self, digest: bytes) -> list[Commit]:
        """Return the checked commits for ``digest``."""
        return [commit for commit in self.commits.values() if commit.digest == digest]

    def prepared_certificate(self) -> PreparedCertificate | None:
        """Return the certificate for the accepted proposal once a quorum prepared it, else None."""
        if self.proposal is None:
            return None
        prepares = self.prepares_for(self.proposal.digest)
        if len(prepares) < self.quorum:
            return None
        return PreparedCertificate(self.round, self.proposal.block, prepares)


class RoundChangeSet:
    """Valid round changes of one height, by target round and author."""

    def __init__(self, quorum: int, max_faulty: int) -> None:
        self._quorum = quorum
        self._max_faulty = max_faulty
        self._by_round: dict[int, dict[bytes, RoundChange]] = {}

    def add(self, round_change: RoundChange) -> AddResult:
        collected = self._by_round.setdefault(round_change.round, {})
        return _add(collected, round_change)

    def discard_below(self, round: int) -> None:
        for stale in [r for r in self._by_round if r < round]:
            del self._by_round[stale]

    def catch_up_round(self, current: int) -> int | None:
        """Return the round to move to because f+1 validators are past ``current``, else None.

        f+1 authors include at least one honest validator, so the lowest of
        their rounds is a round some honest validator reached. Each author
        counts with its highest round; the result is the highest round that
        f+1 of them have reached.
        """
        highest: dict[bytes, int] = {}
        for round, collected in self._by_round.items():
            if round <= current:
                continue
            for author in collected:
                highest[author] = max(highest.get(author, round), round)
        needed = self._max_faulty + 1
        if len(highest) < needed:
            return None
        return sorted(highest.values(), reverse=True)[needed - 1]

    def justification(self, round: int) -> list[RoundChange] | None:
        """Return a quorum of round changes for ``round`` that includes the highest prepared one, else None."""
        collected = list(self._by_round.get(round, {}).values())
        if len(collected) < self._quorum:
            return None
        collected.sort(key=lambda rc: -1 if rc.prepared_round is None else rc.prepared_round, reverse=True)
        return collected[: self._quorum]


def _add(collected: dict[bytes, M], message: M) -> AddResult:
    existing = collected.get(message.author)
    if existing is None:
        collected[message.author] = message
        return AddResult.ADDED
    if existing.signed.encoded == message.signed.encoded:
        return AddResult.DUPLICATE
    return AddResult.CONFLICT
