"""Validator set changes by votes carried in headers."""

from __future__ import annotations

from eth.constants import ZERO_HASH32

from node.chain.crypto import address_of_private_key
from node.chain.header import KuraHeader
from node.chain.seal import ExtraData, Vote
from node.consensus.seals import add_proposer_seal
from node.consensus.validators import EPOCH_LENGTH, ValidatorTracker, VoteBox

KEYS = [bytes([i]) * 32 for i in range(1, 6)]
ADDRESSES = [address_of_private_key(key) for key in KEYS]
VALIDATORS = tuple(sorted(ADDRESSES[:4]))
NEWCOMER = ADDRESSES[4]
KEY_OF = dict(zip(ADDRESSES, KEYS, strict=True))


class HeaderChain:
    def __init__(self) -> None:
        self.by_hash: dict[bytes, KuraHeader] = {}
        self.genesis = self._header(None, 0, VALIDATORS, None, None)
        self.head = self.genesis
        self.tracker = ValidatorTracker(self.by_hash.get, self.genesis)

    def _header(self, parent, number, validators, vote, key) -> KuraHeader:
        header = KuraHeader(
            difficulty=0,
            block_number=number,
            gas_limit=30_000_000,
            timestamp=number,
            parent_hash=ZERO_HASH32 if parent is None else parent.hash,
            coinbase=bytes(20) if key is None else address_of_private_key(key),
            extra_data=ExtraData(validators=validators, vote=vote).encode(),
        )
        if key is not None:
            header = add_proposer_seal(header, key)
        self.by_hash[header.hash] = header
        return header

    def extend(self, proposer: bytes, vote: Vote | None = None, number: int | None = None) -> KuraHeader:
        validators = self.tracker.next_validators(self.head)
        self.head = self._header(self.head, number or self.head.block_number + 1, validators, vote, KEY_OF[proposer])
        return self.head


def test_majority_adds_validator_from_next_block() -> None:
    chain = HeaderChain()
    chain.extend(VALIDATORS[0], Vote(NEWCOMER, True))
    chain.extend(VALIDATORS[1], Vote(NEWCOMER, True))
    assert NEWCOMER not in chain.tracker.next_validators(chain.head)

    deciding = chain.extend(VALIDATORS[2], Vote(NEWCOMER, True))
    assert NEWCOMER not in deciding.seal.validators
    assert NEWCOMER in chain.tracker.next_validators(chain.head)
    assert len(chain.tracker.next_validators(chain.head)) == 5


def test_same_voter_counts_once() -> None:
    chain = HeaderChain()
    for _ in range(5):
        chain.extend(VALIDATORS[0], Vote(NEWCOMER, True))
    assert NEWCOMER not in chain.tracker.next_validators(chain.head)


def test_majority_removes_validator() -> None:
    chain = HeaderChain()
    target = VALIDATORS[3]
    for voter in VALIDATORS[:3]:
        chain.extend(voter, Vote(target, False))
    assert target not in chain.tracker.next_validators(chain.head)
    assert len(chain.tracker.next_validators(chain.head)) == 3


def test_changed_vote_replaces_old_one() -> None:
    chain = HeaderChain()
    target = VALIDATORS[3]
    chain.extend(VALIDATORS[0], Vote(target, False))
    chain.extend(VALIDATORS[0], Vote(target, True))  # no-op vote: target already in, not counted
    chain.extend(VALIDATORS[1], Vote(target, False))
    chain.extend(VALIDATORS[2], Vote(target, False))
    assert target not in chain.tracker.next_validators(chain.head)


def test_epoch_boundary_clears_tally() -> None:
    chain = HeaderChain()
    chain.extend(VALIDATORS[0], Vote(NEWCOMER, True))
    chain.extend(VALIDATORS[1], Vote(NEWCOMER, True))
    chain.extend(VALIDATORS[2], None, number=EPOCH_LENGTH)
    chain.extend(VALIDATORS[2], Vote(NEWCOMER, True))
    assert NEWCOMER not in chain.tracker.next_validators(chain.head)


def test_vote_credited_to_coinbase_not_resealer() -> None:
    """A re-proposed block keeps its creator's coinbase; the vote counts for the creator."""
    chain = HeaderChain()
    chain.extend(VALIDATORS[0], Vote(NEWCOMER, True))
    validators = chain.tracker.next_validators(chain.head)
    resealed = chain._header(
        chain.head, chain.head.block_number + 1, validators, Vote(NEWCOMER, True), KEY_OF[VALIDATORS[1]]
    )
    resealed = resealed.copy(coinbase=VALIDATORS[0])
    chain.by_hash[resealed.hash] = resealed
    chain.head = resealed
    assert chain.tracker.snapshot(resealed).tally[(NEWCOMER, True)] == frozenset({VALIDATORS[0]})


def test_tracker_rebuilds_from_headers_after_restart() -> None:
    chain = HeaderChain()
    for voter in VALIDATORS[:3]:
        chain.extend(voter, Vote(NEWCOMER, True))
    fresh = ValidatorTracker(chain.by_hash.get, chain.genesis)
    assert fresh.next_validators(chain.head) == chain.tracker.next_validators(chain.head)


def test_vote_box_rotates_and_drops_applied_votes() -> None:
    box = VoteBox()
    box.propose(NEWCOMER, True)
    box.propose(VALIDATORS[0], False)
    assert {box.next_vote(VALIDATORS, n) for n in range(2)} == {Vote(NEWCOMER, True), Vote(VALIDATORS[0], False)}

    assert box.next_vote((*VALIDATORS, NEWCOMER), 0) == Vote(VALIDATORS[0], False)
    assert box.pending() == {VALIDATORS[0]: False}
    assert box.discard(VALIDATORS[0]) is True
    assert box.next_vote(VALIDATORS, 0) is None
