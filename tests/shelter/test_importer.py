"""The snapshot importer on a synthetic ledger: what it accepts and each rule it rejects by."""

from __future__ import annotations

import os
from typing import Any

import msgpack
import pytest
import rlp
from eth_hash.auto import keccak

from node.chain.header import KuraHeader
from node.consensus.seals import commit_seal, with_commit_seals
from node.shelter import errors
from node.shelter.errors import ShelterRejected
from node.shelter.importer import SnapshotImporter
from node.store import schema
from node.store.backend import MemoryBackend
from tests.shelter.synthetic_ledger import LedgerShape, rlp_list, snapshot_records

SHAPE = LedgerShape(holders=300, blocks=4, transfers_per_block=20)


@pytest.fixture(scope="module")
def records() -> list[Any]:
    unpacker = msgpack.Unpacker(raw=False)
    for piece in snapshot_records(SHAPE):
        unpacker.feed(piece)
    return list(unpacker)


def run_import(records: list[Any]) -> tuple[SnapshotImporter, MemoryBackend]:
    backend = MemoryBackend()
    importer = SnapshotImporter(backend)
    importer.feed(msgpack.unpackb(msgpack.packb(record, use_bin_type=True), raw=False) for record in records)
    return importer, backend


def state_entries(records: list[Any]) -> list[bytes]:
    return [value for record in records if record[0] == "state" for value in record[1]]


def with_state(records: list[Any], entries: list[bytes]) -> list[Any]:
    """``records`` with the state replaced by ``entries`` in one record, and the end record's count to match."""
    blocks = [record for record in records if record[0] not in ("state", "end")]
    end = ["end", {**records[-1][1], "state_entries": len(entries)}]
    return [*blocks, ["state", entries], end]


def test_synthetic_ledger_imports(records: list[Any]) -> None:
    importer, backend = run_import(records)
    assert importer.finished
    assert importer.info is not None
    assert importer.blocks == SHAPE.blocks + 1
    assert backend.get(schema.meta_key("head")) == importer.info.block_hash
    for value in state_entries(records)[:50]:
        assert backend.get(schema.state_prefix() + keccak(value)) == value


def test_missing_state_entry_rejected(records: list[Any]) -> None:
    entries = state_entries(records)
    with pytest.raises(ShelterRejected) as raised:
        run_import(with_state(records, entries[:-1]))
    assert raised.value.rule == errors.STATE_ROOT_MISMATCH
    assert "missing" in raised.value.message


def test_unreachable_state_entry_rejected(records: list[Any]) -> None:
    stray = rlp.encode([b"\x20" + os.urandom(31), os.urandom(40)])
    with pytest.raises(ShelterRejected) as raised:
        run_import(with_state(records, [*state_entries(records), stray]))
    assert raised.value.rule == errors.STATE_ROOT_MISMATCH
    assert "not reachable" in raised.value.message


def test_repeated_state_entry_rejected(records: list[Any]) -> None:
    entries = state_entries(records)
    with pytest.raises(ShelterRejected) as raised:
        run_import(with_state(records, [*entries, entries[5]]))
    assert raised.value.rule == errors.STATE_ROOT_MISMATCH
    assert "appears twice" in raised.value.message


def test_child_before_parent_rejected(records: list[Any]) -> None:
    entries = state_entries(records)
    with pytest.raises(ShelterRejected) as raised:
        # The root node moved to the end: every other node arrives before the node that refers to it.
        run_import(with_state(records, [*entries[1:], entries[0]]))
    assert raised.value.rule == errors.STATE_ROOT_MISMATCH
    assert "not reachable" in raised.value.message


def _replace_block(records: list[Any], number: int, **fields: bytes) -> list[Any]:
    changed = []
    for record in records:
        if record[0] == "block" and record[1] == number:
            record = [*record]
            for name, value in fields.items():
                record[{"header": 2, "body": 3, "receipts": 4}[name]] = value
        changed.append(record)
    return changed


def test_commit_seals_by_outsider_rejected(records: list[Any]) -> None:
    block = next(record for record in records if record[0] == "block" and record[1] == 2)
    header = rlp.decode(block[2], sedes=KuraHeader)
    outsider = bytes(31) + b"\x07"
    forged = with_commit_seals(header, [commit_seal(header, outsider)] * 3)
    with pytest.raises(ShelterRejected) as raised:
        run_import(_replace_block(records, 2, header=rlp.encode(forged)))
    assert raised.value.rule == errors.SEAL_INVALID
    assert "block 2" in raised.value.message


def test_dropped_transaction_rejected(records: list[Any]) -> None:
    block = next(record for record in records if record[0] == "block" and record[1] == 3)
    transactions = rlp.decode(block[3])
    with pytest.raises(ShelterRejected) as raised:
        run_import(_replace_block(records, 3, body=rlp_list(transactions[1:])))
    assert raised.value.rule == errors.SNAPSHOT_INVALID
    assert "transaction root mismatch" in raised.value.message


def test_body_not_rlp_rejected(records: list[Any]) -> None:
    with pytest.raises(ShelterRejected) as raised:
        run_import(_replace_block(records, 1, body=b"\xf9\xff"))
    assert raised.value.rule == errors.SNAPSHOT_INVALID
    assert "not an RLP list" in raised.value.message
