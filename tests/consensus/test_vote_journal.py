"""A validator that restarts mid-height resumes past the rounds it voted in, with its lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.chain.crypto import address_of_private_key
from node.consensus.bft import BftDriver
from node.consensus.qbft.messages import Prepare, RoundChange
from node.consensus.qbft.round_state import PreparedCertificate
from node.store.backend import LevelDBBackend
from tests.consensus.builders import KEYS, block, proposal
from tests.consensus.engine_harness import make_node, prepared_node
from tests.support.chains import VALIDATOR_KEY, new_chain


class MemoryJournal:
    def __init__(self) -> None:
        self.entry: tuple[int, int, PreparedCertificate | None] | None = None

    def record(self, height: int, round: int, prepared: PreparedCertificate | None) -> None:
        self.entry = (height, round, prepared)

    def recall(self, height: int) -> tuple[int, PreparedCertificate | None] | None:
        if self.entry is None or self.entry[0] != height:
            return None
        return self.entry[1], self.entry[2]


def test_restart_after_prepare_skips_round() -> None:
    journal = MemoryJournal()
    first = make_node(KEYS[1], journal=journal)
    first.feed(proposal())
    assert [message.round for message in first.gossip.of(Prepare)] == [0]
    assert journal.entry is not None
    assert journal.entry[:2] == (1, 0)

    restarted = make_node(KEYS[1], journal=journal)

    assert restarted.engine.round == 1
    [announced] = restarted.gossip.of(RoundChange)
    assert announced.round == 1
    assert announced.prepared_round is None
    # The round-0 proposer equivocates: the restarted node must not prepare again in round 0.
    restarted.feed(proposal(proposed=block(salt=b"twin")))
    assert restarted.gossip.of(Prepare) == []


def test_restart_after_lock_keeps_certificate() -> None:
    journal = MemoryJournal()
    _, sent = prepared_node(KEYS[1], journal=journal)

    restarted = make_node(KEYS[1], journal=journal)

    [announced] = restarted.gossip.of(RoundChange)
    assert announced.round == 1
    assert announced.prepared_round == 0
    assert announced.prepared_digest == sent.digest
    assert announced.prepared_block is not None
    assert len(announced.prepares) == 3


def test_journal_of_other_height_ignored() -> None:
    journal = MemoryJournal()
    journal.entry = (7, 3, None)

    node = make_node(KEYS[1], journal=journal)

    assert node.engine.round == 0
    assert node.gossip.of(RoundChange) == []


def test_failed_record_sends_nothing() -> None:
    class FullDisk(MemoryJournal):
        def record(self, height: int, round: int, prepared: PreparedCertificate | None) -> None:
            raise OSError("no space left on device")

    node = make_node(KEYS[1], journal=FullDisk())

    with pytest.raises(OSError):
        node.feed(proposal())
    assert node.gossip.of(Prepare) == []


def _driver(backend: LevelDBBackend) -> BftDriver:
    # Only the journal methods are under test: they need the chain, the key and the address.
    driver = BftDriver.__new__(BftDriver)
    driver.chain = new_chain(backend)
    driver._key = VALIDATOR_KEY
    driver.address = address_of_private_key(VALIDATOR_KEY)
    return driver


def test_driver_journal_survives_reopen(tmp_path: Path) -> None:
    _, sent = prepared_node(KEYS[0])
    certificate = PreparedCertificate(0, sent.block, ())
    backend = LevelDBBackend(tmp_path / "chaindata", create=True)
    try:
        driver = _driver(backend)
        driver.record(1, 2, certificate)
    finally:
        backend.close()

    reopened = LevelDBBackend(tmp_path / "chaindata")
    try:
        driver = _driver(reopened)
        recalled = driver.recall(1)
        assert recalled is not None
        round, prepared = recalled
        assert round == 2
        assert prepared is not None
        assert prepared.round == 0
        assert prepared.block.hash == sent.digest
        assert driver.recall(2) is None
    finally:
        reopened.close()
