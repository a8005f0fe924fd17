"""Validity rules of QBFT messages: one case per rejection rule, and valid messages that pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from eth_typing import Address

from node.chain.seal import ExtraData
from node.consensus.qbft.block import ProposedBlock, for_round
from node.consensus.qbft.config import QbftConfig
from node.consensus.qbft.errors import InvalidMessage, Rule
from node.consensus.qbft.messages import Commit, Message, RoundChange, RoundChangePayload, sign
from node.consensus.qbft.validation import (
    CommitValidator,
    HeightContext,
    PrepareValidator,
    ProposalValidator,
    RoundChangeValidator,
    proposer_for,
)
from node.consensus.seals import add_proposer_seal
from tests.consensus.builders import (
    GENESIS,
    KEYS,
    NOW,
    OUTSIDER_KEY,
    VALIDATORS,
    block,
    commit,
    other_keys,
    prepare,
    prepares_for,
    proposal,
    proposer_key,
    reproposal,
    round_change,
    with_round,
)
from tests.consensus.fake_chain import FakeChain, genesis_header, make_block

CONTEXT = HeightContext(1, GENESIS, VALIDATORS)
CONFIG = QbftConfig(block_period=1, max_clock_skew=2.0)


def validate(message: Message) -> None:
    """Run the validator for ``message``'s type at height 1 on a chain whose head is GENESIS."""
    importer = FakeChain("validator", GENESIS, VALIDATORS, KEYS[0])
    validators = {
        "PROPOSAL": ProposalValidator(CONTEXT, importer, CONFIG, lambda: NOW).validate,
        "PREPARE": PrepareValidator(CONTEXT).validate,
        "COMMIT": validate_commit,
        "ROUND_CHANGE": RoundChangeValidator(CONTEXT).validate,
    }
    validators[message.code.name](message)  # type: ignore[operator]


def validate_commit(commit: Commit) -> None:
    """Check ``commit`` as the engine does once its round's block is known: ``block()`` proposed in its round."""
    round_block = for_round(block(), commit.round, proposer_key(1, commit.round))
    assert round_block.hash == commit.digest
    validator = CommitValidator(CONTEXT)
    validator.validate(commit)
    validator.validate_seal(commit, round_block.header)


def _header_with_extra(proposed: ProposedBlock, extra: bytes) -> ProposedBlock:
    return ProposedBlock(proposed.header.copy(extra_data=extra), proposed.body)


def _round_change_missing_block() -> RoundChange:
    prepared = block()
    payload = RoundChangePayload(1, 1, 0, prepared.hash)
    return RoundChange(sign(payload, KEYS[0]), None, prepares_for(KEYS[:3], 1, 0, prepared.hash))


def _round_change_unexpected_prepares() -> RoundChange:
    prepared = block()
    return RoundChange(sign(RoundChangePayload(1, 1), KEYS[0]), None, prepares_for(KEYS[:3], 1, 0, prepared.hash))


def _round_change_other_block() -> RoundChange:
    prepared = block()
    other = block(salt=b"other")
    payload = RoundChangePayload(1, 1, 0, prepared.hash)
    return RoundChange(sign(payload, KEYS[0]), other, prepares_for(KEYS[:3], 1, 0, prepared.hash))


def _justification(round: int, count: int = 3, **kwargs) -> tuple:
    return tuple(round_change(key, 1, round, **kwargs).signed for key in KEYS[:count])


def _reproposal_reporting_lower_round() -> Message:
    # Round changes report block A prepared in round 0 and block B prepared in
    # round 1; the proposal re-proposes A, not the highest prepared B.
    block_a = block(1, 0)
    block_b = block(1, 1)
    round_changes = (
        round_change(KEYS[0], 1, 2, prepared=block_a, prepared_round=0).signed,
        round_change(KEYS[1], 1, 2, prepared=block_b, prepared_round=1).signed,
        round_change(KEYS[2], 1, 2).signed,
    )
    good = reproposal(1, 2, block_a, 0)
    return replace(good, round_changes=round_changes)


def _reproposal_of_other_content() -> Message:
    prepared = block(1, 0)
    good = reproposal(1, 2, prepared, 0)
    fresh = block(1, 2, salt=b"fresh")
    return proposal(1, 2, proposed=fresh, round_changes=good.round_changes, prepares=good.prepares)


def _reproposal_keeping_old_round() -> Message:
    prepared = block(1, 0)
    return replace(reproposal(1, 2, prepared, 0), block=prepared)


def _reproposal_keeping_old_proposer_seal() -> Message:
    # The round is rewritten, but the proposer seal is still round 0's, over another proposal hash.
    prepared = block(1, 0)
    moved = ProposedBlock(with_round(prepared.header, 2), prepared.body)
    return replace(reproposal(1, 2, prepared, 0), block=moved)


def _fresh_block_with_other_coinbase() -> Message:
    proposed = block()
    header = proposed.header.copy(coinbase=Address(VALIDATORS[0]))
    assert VALIDATORS[0] != proposer_for(VALIDATORS, 1, 0)
    return proposal(proposed=ProposedBlock(add_proposer_seal(header, proposer_key(1, 0)), proposed.body))


def _reproposal_with_prepares(prepares_keys: list[bytes], prepared_round_of_prepares: int = 0) -> Message:
    prepared = block(1, 0)
    good = reproposal(1, 2, prepared, 0)
    prepares = prepares_for(prepares_keys, 1, prepared_round_of_prepares, prepared.hash)
    return replace(good, prepares=prepares)


@dataclass(frozen=True)
class Case:
    rule: Rule
    build: Callable[[], Message]
    name: str = ""


NON_PROPOSER = other_keys(proposer_key(1, 0))[0]
OTHER_GENESIS = genesis_header(VALIDATORS, timestamp=5)
HEIGHT_ONE = make_block(GENESIS, KEYS[0], VALIDATORS, round=0, timestamp=1)

CASES = [
    Case(Rule.AUTHOR_NOT_VALIDATOR, lambda: prepare(OUTSIDER_KEY, 1, 0, bytes(32))),
    Case(Rule.NOT_PROPOSER, lambda: proposal(key=NON_PROPOSER)),
    Case(Rule.DIGEST_MISMATCH, lambda: proposal(digest=bytes(32))),
    Case(Rule.BLOCK_NUMBER, lambda: proposal(proposed=block(2, 0, key=proposer_key(1, 0), parent=HEIGHT_ONE.header))),
    Case(Rule.BLOCK_PARENT, lambda: proposal(proposed=block(1, 0, parent=OTHER_GENESIS))),
    Case(Rule.BLOCK_SEAL, lambda: proposal(proposed=_header_with_extra(block(), b"not a seal"))),
    Case(Rule.BLOCK_ROUND, lambda: proposal(proposed=block(1, 1, key=proposer_key(1, 0)))),
    Case(Rule.BLOCK_ROUND, _reproposal_keeping_old_round, "re-proposal keeps prepared round"),
    Case(
        Rule.BLOCK_VALIDATORS,
        lambda: proposal(proposed=make_block(GENESIS, proposer_key(1, 0), VALIDATORS[:3], round=0, timestamp=int(NOW))),
    ),
    Case(Rule.PROPOSER_SEAL, lambda: proposal(proposed=block(key=NON_PROPOSER)), "signed by another"),
    Case(
        Rule.PROPOSER_SEAL,
        lambda: proposal(proposed=_header_with_extra(block(), ExtraData(validators=VALIDATORS).encode())),
        "missing",
    ),
    Case(Rule.PROPOSER_SEAL, _reproposal_keeping_old_proposer_seal, "re-proposal keeps old seal"),
    Case(
        Rule.PROPOSER_SEAL,
        lambda: replace(reproposal(1, 2, block(1, 0), 0), block=for_round(block(1, 0), 2, NON_PROPOSER)),
        "re-proposal sealed by another",
    ),
    Case(Rule.BLOCK_COINBASE, _fresh_block_with_other_coinbase),
    Case(Rule.BLOCK_TIMESTAMP_EARLY, lambda: proposal(proposed=block(timestamp=0))),
    Case(Rule.BLOCK_TIMESTAMP_FUTURE, lambda: proposal(proposed=block(timestamp=int(NOW) + 10))),
    Case(Rule.BLOCK_INVALID, lambda: proposal(proposed=block(salt=b"invalid"))),
    Case(Rule.JUSTIFICATION_UNEXPECTED, lambda: proposal(round_changes=_justification(0))),
    Case(Rule.JUSTIFICATION_ROUND_CHANGE, lambda: proposal(1, 1, round_changes=_justification(2)), "other round"),
    Case(
        Rule.JUSTIFICATION_ROUND_CHANGE,
        lambda: proposal(1, 1, round_changes=(*_justification(1), round_change(OUTSIDER_KEY, 1, 1).signed)),
        "non-validator",
    ),
    Case(
        Rule.JUSTIFICATION_DUPLICATE,
        lambda: proposal(1, 1, round_changes=(*_justification(1, 2), round_change(KEYS[0], 1, 1).signed)),
    ),
    Case(Rule.JUSTIFICATION_QUORUM, lambda: proposal(1, 1, round_changes=_justification(1, 2))),
    Case(
        Rule.JUSTIFICATION_PREPARED_UNEXPECTED,
        lambda: proposal(1, 1, round_changes=_justification(1), prepares=prepares_for(KEYS[:3], 1, 0, bytes(32))),
    ),
    Case(Rule.NOT_HIGHEST_PREPARED, _reproposal_reporting_lower_round, "lower round"),
    Case(Rule.NOT_HIGHEST_PREPARED, _reproposal_of_other_content, "other content"),
    Case(Rule.COMMIT_SEAL, lambda: commit(KEYS[0], 1, 0, block(), seal_key=KEYS[1]), "signed by another"),
    Case(Rule.COMMIT_SEAL, lambda: commit(KEYS[0], 1, 2, block(), seal_round=0), "seal of another round"),
    Case(Rule.ROUND_CHANGE_ROUND_ZERO, lambda: round_change(KEYS[0], 1, 0)),
    Case(
        Rule.PREPARED_ROUND_NOT_BELOW,
        lambda: round_change(KEYS[0], 1, 1, prepared=block(), prepared_round=1),
    ),
    Case(Rule.PREPARED_CERTIFICATE_MISSING, _round_change_missing_block),
    Case(Rule.PREPARED_CERTIFICATE_UNEXPECTED, _round_change_unexpected_prepares),
    Case(Rule.PREPARED_BLOCK_MISMATCH, _round_change_other_block),
    Case(
        Rule.CERTIFICATE_PREPARE,
        lambda: round_change(
            KEYS[0], 1, 2, prepared=block(), prepared_round=0, prepares=prepares_for(KEYS[:3], 1, 1, block().hash)
        ),
        "other round",
    ),
    Case(
        Rule.CERTIFICATE_PREPARE,
        lambda: round_change(
            KEYS[0],
            1,
            1,
            prepared=block(),
            prepared_round=0,
            prepares=prepares_for([*KEYS[:2], OUTSIDER_KEY], 1, 0, block().hash),
        ),
        "non-validator",
    ),
    Case(
        Rule.CERTIFICATE_DUPLICATE,
        lambda: round_change(
            KEYS[0],
            1,
            1,
            prepared=block(),
            prepared_round=0,
            prepares=prepares_for([KEYS[0], KEYS[1], KEYS[0]], 1, 0, block().hash),
        ),
    ),
    Case(
        Rule.CERTIFICATE_QUORUM,
        lambda: round_change(
            KEYS[0], 1, 1, prepared=block(), prepared_round=0, prepares=prepares_for(KEYS[:2], 1, 0, block().hash)
        ),
    ),
    Case(Rule.CERTIFICATE_QUORUM, lambda: _reproposal_with_prepares(KEYS[:2]), "in a proposal"),
    Case(Rule.CERTIFICATE_QUORUM, lambda: _reproposal_with_prepares([]), "proposal without prepares"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.rule.name}{'-' + case.name if case.name else ''}")
def test_rejection_names_rule(case: Case) -> None:
    message = case.build()

    with pytest.raises(InvalidMessage) as error:
        validate(message)

    assert error.value.rule is case.rule
    assert error.value.author == message.author
    assert (error.value.height, error.value.round) == (message.height, message.round)


def test_every_rule_has_a_case() -> None:
    assert {case.rule for case in CASES} == set(Rule)


def test_proposal_in_round_zero_is_valid() -> None:
    validate(proposal())


def test_fresh_proposal_justified_by_round_changes_is_valid() -> None:
    validate(proposal(1, 1, round_changes=_justification(1)))


def test_reproposal_of_highest_prepared_is_valid() -> None:
    validate(reproposal(1, 2, block(1, 0), 0))


def test_reproposal_among_lower_prepared_is_valid() -> None:
    block_a = block(1, 0)
    block_b = block(1, 1)
    round_changes = (
        round_change(KEYS[0], 1, 2, prepared=block_a, prepared_round=0).signed,
        round_change(KEYS[1], 1, 2, prepared=block_b, prepared_round=1).signed,
        round_change(KEYS[2], 1, 2).signed,
    )
    good = reproposal(1, 2, block_b, 1)

    validate(replace(good, round_changes=round_changes))


def test_round_change_with_certificate_is_valid() -> None:
    validate(round_change(KEYS[3], 1, 1, prepared=block(), prepared_round=0))


def test_round_change_with_older_round_header_is_valid() -> None:
    # Prepared in round 1, but the attached header still carries round 0: the
    # certificate names the block by its round-free hash, and a re-proposer reseals it.
    prepared = block(1, 0)

    validate(round_change(KEYS[3], 1, 2, prepared=prepared, prepared_round=1))


def test_reproposal_is_resealed_for_its_round() -> None:
    prepared = block(1, 0)
    moved = reproposal(1, 2, prepared, 0)

    assert moved.block.hash == prepared.hash
    assert moved.block.header.seal.round == 2
    assert moved.block.header.coinbase == prepared.header.coinbase
    validate(moved)


def test_prepare_and_commit_are_valid() -> None:
    proposed = block()

    validate(prepare(KEYS[2], 1, 0, proposed.hash))
    validate(commit(KEYS[2], 1, 0, proposed))
    validate(commit(KEYS[2], 1, 3, proposed))


def test_proposer_rotates_with_height_and_round() -> None:
    assert proposer_for(VALIDATORS, 1, 0) == VALIDATORS[1]
    assert proposer_for(VALIDATORS, 1, 1) == VALIDATORS[2]
    assert proposer_for(VALIDATORS, 1, 3) == VALIDATORS[0]
    assert proposer_for(VALIDATORS, 6, 0) == VALIDATORS[2]


def test_context_quorum_and_fault_bound() -> None:
    assert (CONTEXT.quorum, CONTEXT.max_faulty) == (3, 1)
    seven = HeightContext(1, GENESIS, tuple(bytes([i]) * 20 for i in range(7)))
    assert (seven.quorum, seven.max_faulty) == (5, 2)
