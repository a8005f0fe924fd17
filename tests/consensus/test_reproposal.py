"""Re-proposals and round-bound commit seals: one engine driven by hand-built messages.

A block keeps its hash in every round, but each round's proposal carries its
own header: the round in the seal and that round's proposer seal. Commit
seals sign the commit hash of that header, so they bind the round.
"""

from __future__ import annotations

import pytest

from node.chain.crypto import address_of_private_key
from node.consensus.qbft.block import for_round
from node.consensus.qbft.errors import Rule
from node.consensus.qbft.messages import Commit, Proposal
from node.consensus.qbft.validation import proposer_for
from node.consensus.seals import proposer_of, verify_seals, with_commit_seals
from node.errors import BlockValidationError
from tests.consensus.builders import (
    KEYS,
    VALIDATORS,
    block,
    commit,
    prepare,
    prepares_for,
    proposal,
    proposer_key,
    reproposal,
    round_change,
)
from tests.consensus.engine_harness import make_node, prepared_node

#: Validators other than KEYS[0], the node under test in most cases.
OTHERS = KEYS[1:]


# The finalised header.


def test_height_decided_after_reproposal_keeps_hash() -> None:
    node, first = prepared_node(KEYS[0])
    node.engine.handle_timeout(1, 0)
    moved = reproposal(1, 1, first.block, 0)

    node.feed(moved)
    node.feed(*(prepare(key, 1, 1, moved.digest) for key in OTHERS[:2]))
    node.feed(*(commit(key, 1, 1, moved.block) for key in OTHERS[:2]))

    assert node.chain.height == 1
    final = node.chain.head
    assert final.seal.round == 1
    assert final.hash == first.digest
    assert proposer_of(final) == proposer_for(VALIDATORS, 1, 1)
    assert final.coinbase == first.block.header.coinbase
    committers = verify_seals(final, VALIDATORS)
    assert sorted(committers) == sorted(address_of_private_key(key) for key in KEYS[:3])


def test_finalised_header_carries_only_its_rounds_seals() -> None:
    node, first = prepared_node(KEYS[0])
    node.engine.handle_timeout(1, 0)
    moved = reproposal(1, 1, first.block, 0)

    node.feed(moved)
    node.feed(*(prepare(key, 1, 1, moved.digest) for key in OTHERS[:2]))
    node.feed(*(commit(key, 1, 1, moved.block) for key in OTHERS[:2]))

    own = node.gossip.of(Commit)
    assert [sent.round for sent in own] == [0, 1]
    seals = node.chain.head.seal.commit_seals
    assert own[1].commit_seal in seals
    assert own[0].commit_seal not in seals


def test_commit_seals_from_two_rounds_fail_verify_seals() -> None:
    round_zero = block()
    round_one = for_round(round_zero, 1, proposer_key(1, 1))
    zero_seals = [commit(key, 1, 0, round_zero).commit_seal for key in KEYS]
    one_seals = [commit(key, 1, 1, round_one).commit_seal for key in KEYS]
    mixed = [zero_seals[0], zero_seals[1], one_seals[2], one_seals[3]]

    assert round_one.hash == round_zero.hash
    assert len(verify_seals(with_commit_seals(round_zero.header, zero_seals[:3]), VALIDATORS)) == 3
    assert len(verify_seals(with_commit_seals(round_one.header, one_seals[:3]), VALIDATORS)) == 3
    for header in (round_zero.header, round_one.header):
        with pytest.raises(BlockValidationError) as error:
            verify_seals(with_commit_seals(header, mixed), VALIDATORS)
        assert error.value.rule == "commit seal by non-validator"


def test_seals_of_earlier_round_fail_in_reproposed_header() -> None:
    round_zero = block()
    round_two = for_round(round_zero, 2, proposer_key(1, 2))
    zero_seals = [commit(key, 1, 0, round_zero).commit_seal for key in KEYS[:3]]

    with pytest.raises(BlockValidationError):
        verify_seals(with_commit_seals(round_two.header, zero_seals), VALIDATORS)


# The re-proposer.


def test_reproposer_reseals_header_of_older_round() -> None:
    # The round change reports round 1 but attaches the header of round 0; the
    # block hash is the same, so the certificate holds and the re-proposer reseals it.
    key = proposer_key(1, 2)
    node = make_node(key)
    prepared = block(1, 0)
    others = [k for k in KEYS if k != key]

    node.feed(
        round_change(others[0], 1, 2, prepared=prepared, prepared_round=1),
        round_change(others[1], 1, 2),
    )

    assert node.engine.round == 2
    [sent] = node.gossip.of(Proposal)
    assert sent.round == 2
    assert sent.block.hash == prepared.hash
    assert sent.block.header.seal.round == 2
    assert proposer_of(sent.block.header) == address_of_private_key(key)
    assert [p.payload.round for p in sent.prepares] == [1, 1, 1]
    assert node.engine.rejections == {}


# Commits checked against their round's header.


def test_commit_sealed_for_other_round_rejected() -> None:
    node, first = prepared_node(KEYS[0])
    moved = reproposal(1, 2, first.block, 0)
    node.feed(moved)

    node.feed(commit(KEYS[1], 1, 2, moved.block, seal_round=0))
    node.feed(*(commit(key, 1, 2, moved.block) for key in KEYS[2:]))

    assert node.engine.rejections[Rule.COMMIT_SEAL] == 1
    assert node.chain.height == 0
    node.feed(commit(KEYS[1], 1, 2, moved.block))
    assert node.chain.height == 1
    assert node.chain.head.seal.round == 2


def test_commits_before_proposal_held_until_it_arrives() -> None:
    node = make_node(KEYS[0])
    sent = proposal()

    node.feed(*(commit(key, 1, 0, sent.block) for key in OTHERS))
    assert node.chain.height == 0
    node.feed(sent)

    assert node.chain.height == 1
    assert len(verify_seals(node.chain.head, VALIDATORS)) == 3
    assert node.engine.rejections == {}


def test_held_commit_with_bad_seal_rejected() -> None:
    node = make_node(KEYS[0])
    sent = proposal()

    node.feed(commit(KEYS[1], 1, 0, sent.block, seal_key=KEYS[2]), commit(KEYS[3], 1, 0, sent.block))
    assert node.engine.rejections == {}
    node.feed(sent)

    assert node.engine.rejections[Rule.COMMIT_SEAL] == 1
    assert node.chain.height == 0


# Blocks learned from round changes.


def test_round_change_header_finalises_commits_of_its_round() -> None:
    # The node missed the round-1 proposal; a round change carries its header.
    node, first = prepared_node(KEYS[0])
    moved = reproposal(1, 1, first.block, 0)
    node.feed(*(commit(key, 1, 1, moved.block) for key in OTHERS))
    assert node.chain.height == 0

    node.feed(round_change(KEYS[1], 1, 2, prepared=moved.block, prepared_round=1))

    assert node.chain.height == 1
    final = node.chain.head
    assert final.seal.round == 1
    assert proposer_of(final) == proposer_for(VALIDATORS, 1, 1)
    assert len(verify_seals(final, VALIDATORS)) == 3


def test_round_change_header_of_other_round_not_used() -> None:
    node, first = prepared_node(KEYS[0])
    moved = reproposal(1, 1, first.block, 0)
    node.feed(*(commit(key, 1, 1, moved.block) for key in OTHERS))

    # Prepared in round 1, but the attached header is round 0's.
    node.feed(round_change(KEYS[1], 1, 2, prepared=first.block, prepared_round=1))
    assert node.chain.height == 0
    assert node.engine.rejections == {}

    prepares = prepares_for(KEYS[:3], 1, 1, moved.digest)
    node.feed(round_change(KEYS[2], 1, 2, prepared=moved.block, prepared_round=1, prepares=prepares))
    assert node.chain.height == 1
    assert node.chain.head.seal.round == 1
