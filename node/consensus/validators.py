"""Validator sets per block: the genesis set, changed by votes in headers.

A validator votes by creating a block whose seal carries ``vote`` (add or
remove an address). Votes are tallied per (address, add) pair, counting
each block proposer once. When more than half of the current validators
have cast the same vote, the change applies from the next block on, and
the tally starts again. Tallies also start again at every epoch boundary
(a block number divisible by the epoch length), so stale votes expire.
These are the rules of Besu's QBFT with header-based validator selection.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from node.chain.header import KuraHeader
from node.chain.seal import Vote

#: Blocks per voting epoch (Besu's default epoch length).
EPOCH_LENGTH = 30_000
_CACHE_SIZE = 2_048


@dataclass(frozen=True)
class Snapshot:
    """Validator set and open votes after a block."""

    validators: tuple[bytes, ...]
    #: (address, add) -> addresses of the validators that voted so.
    tally: dict[tuple[bytes, bool], frozenset[bytes]] = field(default_factory=dict)


def apply_header(snapshot: Snapshot, header: KuraHeader) -> Snapshot:
    """Apply ``header``'s vote to the snapshot after its parent; return the snapshot after ``header``."""
    validators = snapshot.validators
    tally = {} if header.block_number % EPOCH_LENGTH == 0 else dict(snapshot.tally)
    vote = header.seal.vote
    if vote is None or not _meaningful(vote, validators):
        return Snapshot(validators, tally)

    # The block's creator is its coinbase (as in Besu): a block re-proposed
    # in a later round carries another validator's proposer seal.
    voter = bytes(header.coinbase)
    # A validator's newer vote on the same address replaces its older one.
    for key in [(vote.address, True), (vote.address, False)]:
        if key in tally and voter in tally[key]:
            tally[key] = tally[key] - {voter}
    key = (vote.address, vote.add)
    tally[key] = tally.get(key, frozenset()) | {voter}

    if len(tally[key]) * 2 > len(validators):
        if vote.add:
            validators = tuple(sorted((*validators, vote.address)))
        else:
            validators = tuple(v for v in validators if v != vote.address)
        tally = {k: voters for k, voters in tally.items() if k[0] != vote.address}
        tally = {k: voters & set(validators) for k, voters in tally.items()}
    return Snapshot(validators, tally)


def _meaningful(vote: Vote, validators: tuple[bytes, ...]) -> bool:
    """Return whether the vote would change the set; only such votes count."""
    return (vote.address in validators) != vote.add


class ValidatorTracker:
    """Snapshots by block hash, computed from headers and cached."""

    def __init__(self, header_by_hash: Callable[[bytes], KuraHeader | None], genesis: KuraHeader) -> None:
        self._header_by_hash = header_by_hash
        self._genesis = genesis
        self._cache: OrderedDict[bytes, Snapshot] = OrderedDict()
        self._lock = threading.Lock()
        self._cache[genesis.hash] = Snapshot(tuple(genesis.seal.validators))

    def snapshot(self, header: KuraHeader) -> Snapshot:
        """Return the snapshot after ``header``, computing missing ones from its ancestors."""
        with self._lock:
            pending: list[KuraHeader] = []
            current: KuraHeader | None = header
            while current is not None and current.hash not in self._cache:
                pending.append(current)
                current = self._header_by_hash(current.parent_hash)
            if current is None:
                raise LookupError(f"header chain of block {header.block_number} does not reach a known snapshot")
            snapshot = self._cache[current.hash]
            for item in reversed(pending):
                snapshot = apply_header(snapshot, item)
                self._remember(item.hash, snapshot)
            return snapshot

    def next_validators(self, parent: KuraHeader) -> tuple[bytes, ...]:
        """Validators of the child of ``parent``."""
        return self.snapshot(parent).validators

    def _remember(self, block_hash: bytes, snapshot: Snapshot) -> None:
        self._cache[block_hash] = snapshot
        self._cache.move_to_end(block_hash)
        while len(self._cache) > _CACHE_SIZE:
            oldest = next(iter(self._cache))
            if oldest == self._genesis.hash:
                self._cache.move_to_end(oldest)
                oldest = next(iter(self._cache))
            del self._cache[oldest]


class VoteBox:
    """This validator's own pending votes, cast one per block it proposes."""

    def __init__(self) -> None:
        self._votes: dict[bytes, bool] = {}
        self._lock = threading.Lock()

    def propose(self, address: bytes, add: bool) -> None:
        with self._lock:
            self._votes[address] = add

    def discard(self, address: bytes) -> bool:
        with self._lock:
            return self._votes.pop(address, None) is not None

    def pending(self) -> dict[bytes, bool]:
        with self._lock:
            return dict(self._votes)

    def next_vote(self, validators: tuple[bytes, ...], block_number: int) -> Vote | None:
        """Pick the vote for the next proposal, rotating by block number.

        Votes that no longer change the set (already applied) are dropped.
        """
        with self._lock:
            for address, add in list(self._votes.items()):
                if (address in validators) == add:
                    del self._votes[address]
            if not self._votes:
                return None
            items = sorted(self._votes.items())
            address, add = items[block_number % len(items)]
            return Vote(address, add)
