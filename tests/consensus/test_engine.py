"""One QBFT engine driven by hand-built messages and a manual timer."""

from __future__ import annotations

import logging

import pytest

from node.consensus.qbft.block import ProposedBlock
from node.consensus.qbft.config import QbftConfig
from node.consensus.qbft.engine import QbftEngine
from node.consensus.qbft.errors import Rule
from node.consensus.qbft.messages import (
    Commit,
    Prepare,
    Proposal,
    RoundChange,
)
from node.consensus.seals import proposer_of, verify_seals, with_commit_seals
from node.errors import StoreError
from tests.consensus.builders import (
    GENESIS,
    KEYS,
    NOW,
    OUTSIDER_KEY,
    VALIDATORS,
    block,
    commit,
    prepare,
    proposal,
    proposer_key,
    reproposal,
    round_change,
)
from tests.consensus.engine_harness import ManualTimer, RecordingGossip, make_node, prepared_node
from tests.consensus.fake_chain import FakeChain


class FailingImportChain(FakeChain):
    def import_block(self, block: ProposedBlock) -> None:
        raise StoreError("disk full")


# Happy path.


def test_round_zero_proposer_proposes_on_block_timer() -> None:
    node = make_node(proposer_key(1, 0))

    assert node.timer.block_timers == [(1, 0.0)]
    assert node.timer.round_timers == [(1, 0, 2.0)]
    node.engine.handle_block_timer(1)

    [sent] = node.gossip.of(Proposal)
    assert (sent.height, sent.round) == (1, 0)
    assert sent.block.header.seal.round == 0
    assert [p.digest for p in node.gossip.of(Prepare)] == [sent.digest]


def test_non_proposer_has_no_block_timer() -> None:
    node = make_node(KEYS[0])

    assert proposer_key(1, 0) != KEYS[0]
    assert node.timer.block_timers == []


def test_block_timer_waits_for_block_period() -> None:
    config = QbftConfig(block_period=5, round_timeout_base=2.0)
    chain = FakeChain("node", GENESIS, VALIDATORS, proposer_key(1, 0))
    timer = ManualTimer()
    engine = QbftEngine(
        private_key=proposer_key(1, 0),
        head=GENESIS,
        validators=chain,
        creator=chain,
        importer=chain,
        gossip=RecordingGossip(),
        timer=timer,
        clock=lambda: 2.0,
        config=config,
    )

    engine.start()

    assert timer.block_timers == [(1, 3.0)]
    assert timer.round_timers == [(1, 0, 5.0)]


def test_valid_proposal_is_prepared() -> None:
    node = make_node()
    sent = proposal()

    node.feed(sent)

    [sent_prepare] = node.gossip.of(Prepare)
    assert (sent_prepare.height, sent_prepare.round, sent_prepare.digest) == (1, 0, sent.digest)


def test_prepare_quorum_sends_commit_and_locks() -> None:
    node, sent = prepared_node()

    [sent_commit] = node.gossip.of(Commit)
    assert sent_commit.digest == sent.digest
    manager = node.engine.manager
    assert manager is not None
    assert manager.prepared is not None
    assert manager.prepared.round == 0
    assert manager.prepared.block.hash == sent.digest


def test_commit_quorum_imports_block_and_advances() -> None:
    node, sent = prepared_node()

    node.feed(commit(KEYS[1], 1, 0, sent.block), commit(KEYS[2], 1, 0, sent.block))

    assert node.chain.height == 1
    assert node.engine.height == 2
    final = node.chain.head
    assert final.hash == sent.digest
    assert len(verify_seals(final, VALIDATORS)) == 3
    assert node.timer.cancels == 1
    assert node.timer.round_timers[-1][:2] == (2, 0)


def test_prepares_before_proposal_count() -> None:
    node = make_node()
    sent = proposal()

    node.feed(prepare(KEYS[1], 1, 0, sent.digest), prepare(KEYS[2], 1, 0, sent.digest))
    assert node.gossip.of(Commit) == []
    node.feed(sent)

    assert [c.digest for c in node.gossip.of(Commit)] == [sent.digest]


# Equivocation, duplicates and drops.


def test_equivocating_proposal_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    node = make_node()
    first = proposal()
    second = proposal(proposed=block(salt=b"twin"))

    with caplog.at_level(logging.WARNING, logger="node.consensus.qbft"):
        node.feed(first, second)

    assert [p.digest for p in node.gossip.of(Prepare)] == [first.digest]
    warnings = [r.getMessage() for r in caplog.records if "equivocation" in r.getMessage()]
    assert len(warnings) == 1
    assert f"author=0x{first.author.hex()}" in warnings[0]
    assert "PROPOSAL height=1 round=0" in warnings[0]


def test_duplicate_proposal_ignored_quietly(caplog: pytest.LogCaptureFixture) -> None:
    node = make_node()
    sent = proposal()

    with caplog.at_level(logging.WARNING, logger="node.consensus.qbft"):
        node.feed(sent, sent)

    assert len(node.gossip.of(Prepare)) == 1
    assert caplog.records == []


def test_conflicting_commits_count_once() -> None:
    node, sent = prepared_node()
    other = block(salt=b"other")

    node.feed(commit(KEYS[3], 1, 0, other), commit(KEYS[3], 1, 0, sent.block))
    node.feed(commit(KEYS[1], 1, 0, sent.block))
    assert node.chain.height == 0

    node.feed(commit(KEYS[2], 1, 0, sent.block))
    assert node.chain.height == 1


def test_non_validator_message_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    node = make_node()
    outsider = prepare(OUTSIDER_KEY, 1, 0, bytes(32))

    with caplog.at_level(logging.WARNING, logger="node.consensus.qbft"):
        node.feed(outsider)

    assert node.engine.rejections[Rule.AUTHOR_NOT_VALIDATOR] == 1
    assert node.gossip.sent == []
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "rule=AUTHOR_NOT_VALIDATOR" in record.getMessage()
    assert f"author=0x{outsider.author.hex()}" in record.getMessage()
    assert "height=1 round=0" in record.getMessage()


def test_non_validator_future_message_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    node = make_node()

    with caplog.at_level(logging.WARNING, logger="node.consensus.qbft"):
        node.feed(prepare(OUTSIDER_KEY, 3, 0, bytes(32)))

    assert node.engine.rejections[Rule.AUTHOR_NOT_VALIDATOR] == 1
    assert "rule=AUTHOR_NOT_VALIDATOR" in caplog.records[0].getMessage()


def test_repeated_rejection_logged_once_at_warning(caplog: pytest.LogCaptureFixture) -> None:
    node = make_node()

    with caplog.at_level(logging.WARNING, logger="node.consensus.qbft"):
        for round in range(5):
            node.feed(prepare(OUTSIDER_KEY, 1, round, bytes(32)))

    assert node.engine.rejections[Rule.AUTHOR_NOT_VALIDATOR] == 5
    assert len(caplog.records) == 1


def test_undecodable_message_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    node = make_node()

    with caplog.at_level(logging.WARNING, logger="node.consensus.qbft"):
        node.engine.handle_message(b"\xc1garbage")

    assert node.engine.drops["NOT_MSGPACK"] == 1
    assert "dropped undecodable message" in caplog.records[0].getMessage()


def test_invalid_block_not_prepared() -> None:
    node = make_node()

    node.feed(proposal(proposed=block(salt=b"invalid")))

    assert node.gossip.of(Prepare) == []
    assert node.engine.rejections[Rule.BLOCK_INVALID] == 1


def test_wrong_proposer_rejected_after_accepted_proposal() -> None:
    node = make_node()
    node.feed(proposal())

    node.feed(proposal(key=KEYS[3], proposed=block(key=KEYS[3], salt=b"x")))

    assert node.engine.rejections[Rule.NOT_PROPOSER] == 1
    assert len(node.gossip.of(Prepare)) == 1


# Heights.


def test_old_height_messages_dropped() -> None:
    node, sent = prepared_node()
    node.feed(commit(KEYS[1], 1, 0, sent.block), commit(KEYS[2], 1, 0, sent.block))

    node.feed(commit(KEYS[3], 1, 0, sent.block))

    assert node.engine.drops["old height"] == 1


def _finalized_height_one() -> ProposedBlock:
    proposed = block()
    seals = [commit(key, 1, 0, proposed).commit_seal for key in KEYS[:3]]
    return ProposedBlock(with_commit_seals(proposed.header, seals), proposed.body)


def test_future_height_messages_replayed_after_new_head() -> None:
    node = make_node()
    first = _finalized_height_one()
    second = proposal(2, 0, proposed=block(2, 0, parent=first.header, timestamp=int(NOW) + 1))

    node.feed(second, prepare(KEYS[1], 2, 0, second.digest), prepare(KEYS[2], 2, 0, second.digest))
    assert node.gossip.sent == []
    node.chain.import_block(first)
    node.engine.handle_new_head(first.header)

    assert node.engine.height == 2
    assert [p.digest for p in node.gossip.of(Prepare)] == [second.digest]
    assert [c.digest for c in node.gossip.of(Commit)] == [second.digest]


def test_future_buffer_bounded_per_author() -> None:
    node = make_node(config=QbftConfig(max_buffered_per_author=2))

    node.feed(*(prepare(KEYS[2], 2, round, bytes(32)) for round in range(3)))

    assert node.engine.drops["buffer full"] == 1


def test_far_future_height_dropped() -> None:
    node = make_node(config=QbftConfig(future_heights=3))

    node.feed(prepare(KEYS[2], 5, 0, bytes(32)))

    assert node.engine.drops["too far ahead"] == 1


def test_new_head_behind_current_height_ignored() -> None:
    node = make_node()

    node.engine.handle_new_head(GENESIS)

    assert node.engine.height == 1
    assert len(node.timer.round_timers) == 1


def test_import_failure_keeps_height(caplog: pytest.LogCaptureFixture) -> None:
    node = make_node(chain_type=FailingImportChain)
    sent = proposal()
    node.feed(sent, prepare(KEYS[1], 1, 0, sent.digest), prepare(KEYS[2], 1, 0, sent.digest))

    with caplog.at_level(logging.ERROR, logger="node.consensus.qbft"):
        node.feed(commit(KEYS[1], 1, 0, sent.block), commit(KEYS[2], 1, 0, sent.block))

    assert node.engine.height == 1
    assert "import of finalized block failed height=1" in caplog.records[0].getMessage()


def test_observer_finalizes_without_sending() -> None:
    node = make_node(OUTSIDER_KEY)
    sent = proposal()

    node.feed(sent, *(prepare(k, 1, 0, sent.digest) for k in KEYS[:3]))
    node.feed(*(commit(k, 1, 0, sent.block) for k in KEYS[:3]))

    assert node.gossip.sent == []
    assert node.chain.height == 1


# Rounds.


def test_round_timeouts_back_off_exponentially() -> None:
    node = make_node()

    node.engine.handle_timeout(1, 0)
    node.engine.handle_timeout(1, 1)

    assert node.timer.round_timers == [(1, 0, 2.0), (1, 1, 4.0), (1, 2, 8.0)]
    assert [rc.round for rc in node.gossip.of(RoundChange)] == [1, 2]


def test_round_timeout_capped() -> None:
    node = make_node(config=QbftConfig(round_timeout_base=2.0, round_timeout_max=5.0))

    node.engine.handle_timeout(1, 0)
    node.engine.handle_timeout(1, 1)

    assert [seconds for _, _, seconds in node.timer.round_timers] == [2.0, 4.0, 5.0]


def test_stale_timeout_ignored() -> None:
    node = make_node()

    node.engine.handle_timeout(1, 4)
    node.engine.handle_timeout(7, 0)

    assert node.engine.round == 0
    assert node.gossip.sent == []


def test_f_plus_one_round_changes_pull_node_up() -> None:
    node = make_node()

    node.feed(round_change(KEYS[2], 1, 3))
    assert node.engine.round == 0
    node.feed(round_change(KEYS[3], 1, 3))

    assert node.engine.round == 3
    assert [rc.round for rc in node.gossip.of(RoundChange)] == [3]


def test_proposer_proposes_fresh_block_on_round_change_quorum() -> None:
    key = proposer_key(1, 1)
    node = make_node(key)
    node.engine.handle_timeout(1, 0)

    node.feed(*[round_change(k, 1, 1) for k in KEYS if k != key][:2])

    [sent] = node.gossip.of(Proposal)
    assert sent.round == 1
    assert len(sent.round_changes) == 3
    assert sent.prepares == ()
    assert sent.block.header.seal.round == 1


def test_proposer_reproposes_highest_prepared_block() -> None:
    key = proposer_key(1, 1)
    node = make_node(key)
    prepared = block(1, 0)
    node.engine.handle_timeout(1, 0)
    others = [k for k in KEYS if k != key]

    node.feed(round_change(others[0], 1, 1, prepared=prepared, prepared_round=0), round_change(others[1], 1, 1))

    [sent] = node.gossip.of(Proposal)
    assert sent.round == 1
    assert sent.block.hash == prepared.hash
    assert sent.block.header.seal.round == 1
    assert proposer_of(sent.block.header) == node.engine.address
    assert sent.block.header.coinbase == prepared.header.coinbase
    assert sent.block.body == prepared.body
    assert len(sent.prepares) == 3
    assert len(sent.round_changes) == 3
    assert [p.digest for p in node.gossip.of(Prepare)] == [sent.digest]


def test_locked_node_reports_certificate_in_round_change() -> None:
    node, sent = prepared_node()

    node.engine.handle_timeout(1, 0)

    [sent_round_change] = node.gossip.of(RoundChange)
    assert (sent_round_change.round, sent_round_change.prepared_round) == (1, 0)
    assert sent_round_change.prepared_digest == sent.digest
    assert sent_round_change.prepared_block is not None
    assert len(sent_round_change.prepares) == 3


def test_justified_proposal_for_later_round_moves_node() -> None:
    node = make_node()

    node.feed(reproposal(1, 2, block(1, 0), 0))

    assert node.engine.round == 2
    [sent_prepare] = node.gossip.of(Prepare)
    assert sent_prepare.round == 2
    assert node.timer.round_timers[-1] == (1, 2, 8.0)


def test_commit_quorum_from_earlier_round_finalizes() -> None:
    node, sent = prepared_node()
    node.engine.handle_timeout(1, 0)
    assert node.engine.round == 1

    node.feed(commit(KEYS[1], 1, 0, sent.block), commit(KEYS[2], 1, 0, sent.block))

    assert node.chain.height == 1


def test_commits_from_different_rounds_do_not_combine() -> None:
    # Four validators commit one block, but no single round has a quorum.
    node, sent = prepared_node()
    moved = reproposal(1, 2, sent.block, 0)
    node.feed(moved)

    node.feed(commit(KEYS[1], 1, 0, sent.block))
    node.feed(commit(KEYS[2], 1, 2, moved.block), commit(KEYS[3], 1, 2, moved.block))

    assert moved.digest == sent.digest
    assert node.chain.height == 0
