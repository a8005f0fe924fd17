"""Block building, sealing, re-execution and storage on both backends."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from node.chain.chain import Chain, initialize_store
from node.chain.genesis import parse_genesis
from node.consensus.seals import verify_seals
from node.errors import BlockValidationError, StoreError
from node.store.backend import LevelDBBackend
from tests.support.chains import (
    USERS,
    VALIDATOR,
    genesis_document,
    new_chain,
    open_backend,
    seal_and_commit,
    transfer,
)

BACKENDS = ["memory", "leveldb"]


@pytest.mark.parametrize("kind", BACKENDS)
def test_block_with_transfers_is_stored(kind: str, tmp_path: Path) -> None:
    chain = new_chain(open_backend(kind, tmp_path))
    executed = seal_and_commit(chain, [transfer(0, 0, value=5), transfer(1, 0, value=7)])

    assert chain.head.hash == executed.header.hash
    assert len(chain.transactions(chain.head)) == 2
    receipts = chain.receipts(chain.head)
    assert [r.gas_used for r in receipts] == [21_000, 42_000]
    location = chain.store.tx_location(executed.transactions[1].hash)
    assert location == (1, 1)
    state = chain.state_at(chain.head)
    assert state.get_nonce(bytes.fromhex(USERS[0].address[2:])) == 1


@pytest.mark.parametrize("kind", BACKENDS)
def test_invalid_transactions_left_out(kind: str, tmp_path: Path) -> None:
    chain = new_chain(open_backend(kind, tmp_path))
    executed = seal_and_commit(chain, [transfer(0, 5), transfer(1, 0), transfer(2, 0, value=10**30)])

    assert [tx.hash for tx in executed.transactions] == [executed.transactions[0].hash]
    reasons = [reason for _, reason in executed.rejected]
    assert len(reasons) == 2
    assert any("nonce" in reason.lower() for reason in reasons)


def test_seals_verify_and_hash_ignores_commit_seals(tmp_path: Path) -> None:
    chain = new_chain(open_backend("memory", tmp_path))
    seal_and_commit(chain, [])
    header = chain.head

    assert verify_seals(header, (VALIDATOR,)) == [VALIDATOR]
    stripped = header.copy(extra_data=header.seal.without_commit_seals().encode())
    assert stripped.hash == header.hash
    with pytest.raises(BlockValidationError) as caught:
        verify_seals(stripped, (VALIDATOR,))
    assert caught.value.rule == "too few commit seals"


def test_block_hash_ignores_round_and_seals(tmp_path: Path) -> None:
    chain = new_chain(open_backend("memory", tmp_path))
    seal_and_commit(chain, [])
    header = chain.head
    later_round = header.copy(extra_data=replace(header.seal, round=3, proposer_seal=b"").encode())

    assert later_round.hash == header.hash
    assert later_round.proposal_hash != header.proposal_hash
    assert later_round.commit_hash != header.commit_hash


def test_commit_seals_bind_their_round(tmp_path: Path) -> None:
    chain = new_chain(open_backend("memory", tmp_path))
    seal_and_commit(chain, [])
    header = chain.head
    moved = header.copy(extra_data=replace(header.seal, round=1).encode())

    with pytest.raises(BlockValidationError) as caught:
        verify_seals(moved, (VALIDATOR,))
    assert caught.value.rule in ("proposer not a validator", "commit seal by non-validator")


def test_received_block_reexecutes_to_same_roots(tmp_path: Path) -> None:
    producer = new_chain(open_backend("memory", tmp_path))
    follower = new_chain(open_backend("memory", tmp_path))
    executed = seal_and_commit(producer, [transfer(0, 0), transfer(3, 0)])

    replayed = follower.execute_received(executed.header, executed.transactions)
    follower.commit(replayed)

    assert follower.head.hash == producer.head.hash
    assert follower.head.state_root == producer.head.state_root


def test_received_block_with_wrong_state_root_rejected(tmp_path: Path) -> None:
    producer = new_chain(open_backend("memory", tmp_path))
    follower = new_chain(open_backend("memory", tmp_path))
    executed = seal_and_commit(producer, [transfer(0, 0)])
    forged = executed.header.copy(state_root=b"\x11" * 32)

    with pytest.raises(BlockValidationError) as caught:
        follower.execute_received(forged, executed.transactions)
    assert caught.value.rule == "state_root mismatch"


def test_received_block_with_wrong_base_fee_rejected(tmp_path: Path) -> None:
    producer = new_chain(open_backend("memory", tmp_path))
    follower = new_chain(open_backend("memory", tmp_path))
    executed = seal_and_commit(producer, [])
    forged = executed.header.copy(base_fee_per_gas=executed.header.base_fee_per_gas + 1)

    with pytest.raises(BlockValidationError) as caught:
        follower.execute_received(forged, [])
    assert caught.value.rule == "base fee"


def test_free_gas_chain_has_zero_base_fee(tmp_path: Path) -> None:
    chain = new_chain(open_backend("memory", tmp_path), zeroBaseFee=True)
    executed = seal_and_commit(chain, [transfer(0, 0, fee=0, tip=0)])

    assert chain.head.base_fee_per_gas == 0
    assert len(executed.transactions) == 1


def test_eip1559_base_fee_moves_with_gas_used(tmp_path: Path) -> None:
    chain = new_chain(open_backend("memory", tmp_path))
    first = chain.head.base_fee_per_gas
    seal_and_commit(chain, [])
    assert 0 < chain.head.base_fee_per_gas < first


def test_reopen_leveldb_keeps_head(tmp_path: Path) -> None:
    backend = open_backend("leveldb", tmp_path)
    chain = new_chain(backend)
    seal_and_commit(chain, [transfer(0, 0)])
    head = chain.head.hash
    backend.close()

    reopened = Chain(LevelDBBackend(tmp_path / "chaindata"))
    assert reopened.head.hash == head
    assert len(reopened.transactions(reopened.head)) == 1


def test_other_genesis_on_same_store_rejected(tmp_path: Path) -> None:
    backend = open_backend("leveldb", tmp_path)
    new_chain(backend)
    other = genesis_document()
    other["config"]["chainId"] = 7

    with pytest.raises(StoreError):
        initialize_store(backend, parse_genesis(other))


def test_uninitialised_store_rejected(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Chain(open_backend("leveldb", tmp_path))


def test_commit_on_stale_parent_rejected(tmp_path: Path) -> None:
    chain = new_chain(open_backend("memory", tmp_path))
    template = chain.make_template(chain.head, timestamp=5, coinbase=VALIDATOR, extra=chain.head.seal)
    stale = chain.build(template, [])
    seal_and_commit(chain, [])

    with pytest.raises(BlockValidationError) as caught:
        chain.commit(stale)
    assert caught.value.rule == "parent is not the head"


def test_build_deadline_leaves_transactions_for_later(tmp_path: Path) -> None:
    chain = new_chain(open_backend("memory", tmp_path))
    template = chain.make_template(chain.head, timestamp=1, coinbase=VALIDATOR, extra=chain.head.seal)

    closed = chain.build(template, [transfer(0, 0), transfer(1, 0)], max_seconds=0)
    assert closed.transactions == []
    assert closed.rejected == []

    roomy = chain.build(template, [transfer(0, 0), transfer(1, 0)], max_seconds=10)
    assert len(roomy.transactions) == 2
