"""A replay names the height and the rule when a stored body, receipt or seal was altered.

Each test alters one record in LevelDB on a copy of the shared data directory, then replays
the copy through the API (to check the error's fields) and the command line (exit status 2 and
the message on stderr).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import rlp

from node.audit.replay import replay
from node.audit.sources import DataDirSource
from node.chain.header import KuraHeader
from node.cli.main import main
from node.errors import BlockValidationError
from node.store import schema
from node.store.backend import LevelDBBackend
from node.store.chainstore import ChainStore
from tests.audit.conftest import BuiltChain

#: Block whose records the tests alter: a block of transfers after the issuer story.
TAMPERED_HEIGHT = 9


def tamper(data_dir: Path, change: Callable[[LevelDBBackend, ChainStore, bytes], None]) -> None:
    backend = LevelDBBackend(data_dir / "chaindata")
    try:
        store = ChainStore(backend)
        block_hash = store.canonical_hash(TAMPERED_HEIGHT)
        assert block_hash is not None
        change(backend, store, block_hash)
    finally:
        backend.close()


def replay_error(data_dir: Path) -> BlockValidationError:
    source = DataDirSource(data_dir)
    try:
        with pytest.raises(BlockValidationError) as raised:
            replay(source)
    finally:
        source.close()
    return raised.value


def assert_cli_names(data_dir: Path, rule: str, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["audit", "replay", "--data-dir", str(data_dir), "--quiet"])

    err = capsys.readouterr().err
    assert code == 2, err
    assert f"replay stopped at height {TAMPERED_HEIGHT}: {rule}" in err
    return err


def test_altered_body_names_transactions_root(built_chain: BuiltChain, tmp_path: Path, capsys):
    data_dir = built_chain.copy(tmp_path / "data")

    def drop_last_transaction(backend: LevelDBBackend, store: ChainStore, block_hash: bytes) -> None:
        items = rlp.decode(backend.get(schema.body_key(block_hash)))
        assert len(items) > 1
        backend.write_batch({schema.body_key(block_hash): rlp.encode(items[:-1])})

    tamper(data_dir, drop_last_transaction)
    error = replay_error(data_dir)

    assert error.number == TAMPERED_HEIGHT
    assert error.rule == "transaction_root mismatch"
    assert error.got != error.expected
    assert_cli_names(data_dir, "transaction_root mismatch", capsys)


def test_altered_receipt_names_stored_receipt(built_chain: BuiltChain, tmp_path: Path, capsys):
    data_dir = built_chain.copy(tmp_path / "data")

    def raise_cumulative_gas(backend: LevelDBBackend, store: ChainStore, block_hash: bytes) -> None:
        encoded = rlp.decode(backend.get(schema.receipts_key(block_hash)))
        first = encoded[0]
        assert first[0] == 2  # an EIP-1559 receipt: type byte, then [status, gas, bloom, logs]
        fields = rlp.decode(first[1:])
        fields[1] = rlp.sedes.big_endian_int.serialize(rlp.sedes.big_endian_int.deserialize(fields[1]) + 1)
        encoded[0] = first[:1] + rlp.encode(fields)
        backend.write_batch({schema.receipts_key(block_hash): rlp.encode(encoded)})

    tamper(data_dir, raise_cumulative_gas)
    error = replay_error(data_dir)

    assert error.number == TAMPERED_HEIGHT
    assert error.rule == "stored receipt mismatch"
    assert error.got == error.expected + 1
    assert "tx_index=0 field=cumulative_gas_used" in error.message
    err = assert_cli_names(data_dir, "stored receipt mismatch", capsys)
    assert f"found:    {error.got}" in err
    assert f"expected: {error.expected}" in err


def test_altered_commit_seal_names_seal_rule(built_chain: BuiltChain, tmp_path: Path, capsys):
    data_dir = built_chain.copy(tmp_path / "data")

    def flip_commit_seal_byte(backend: LevelDBBackend, store: ChainStore, block_hash: bytes) -> None:
        header = store.header_by_hash(block_hash)
        assert header is not None
        seal = header.seal
        damaged = bytearray(seal.commit_seals[0])
        damaged[10] ^= 0x01
        altered = header.copy(extra_data=replace(seal, commit_seals=(bytes(damaged),)).encode())
        # Seals are outside the block hash, so the altered header stays under the same key.
        assert altered.hash == block_hash
        backend.write_batch({schema.header_key(block_hash): rlp.encode(altered, sedes=KuraHeader)})

    tamper(data_dir, flip_commit_seal_byte)
    error = replay_error(data_dir)

    assert error.number == TAMPERED_HEIGHT
    assert error.rule in ("commit seal by non-validator", "commit seal invalid")
    assert_cli_names(data_dir, error.rule, capsys)


def test_altered_proposer_seal_names_proposer_rule(built_chain: BuiltChain, tmp_path: Path):
    data_dir = built_chain.copy(tmp_path / "data")

    def drop_proposer_seal(backend: LevelDBBackend, store: ChainStore, block_hash: bytes) -> None:
        header = store.header_by_hash(block_hash)
        assert header is not None
        altered = header.copy(extra_data=replace(header.seal, proposer_seal=b"").encode())
        backend.write_batch({schema.header_key(block_hash): rlp.encode(altered, sedes=KuraHeader)})

    tamper(data_dir, drop_proposer_seal)
    error = replay_error(data_dir)

    assert error.number == TAMPERED_HEIGHT
    assert error.rule == "proposer seal missing"


def test_altered_state_root_names_state_root(built_chain: BuiltChain, tmp_path: Path):
    data_dir = built_chain.copy(tmp_path / "data")

    def repoint_canonical_index(backend: LevelDBBackend, store: ChainStore, block_hash: bytes) -> None:
        header = store.header_by_hash(block_hash)
        assert header is not None
        forged = header.copy(state_root=b"\x01" * 32)
        backend.write_batch(
            {
                schema.header_key(forged.hash): rlp.encode(forged, sedes=KuraHeader),
                schema.canonical_key(TAMPERED_HEIGHT): forged.hash,
            }
        )

    tamper(data_dir, repoint_canonical_index)
    error = replay_error(data_dir)

    # The forged header keeps the old seals, which sign another proposal hash.
    assert error.number == TAMPERED_HEIGHT
    assert error.rule in ("proposer not a validator", "commit seal by non-validator")


def test_wrong_genesis_names_genesis_rule(built_chain: BuiltChain, tmp_path: Path, capsys):
    import json

    from node.audit.transfer import export_blocks
    from tests.audit.builders import dev_genesis_document

    block_file = tmp_path / "chain.rlp"
    source = DataDirSource(built_chain.data_dir)
    try:
        export_blocks(source, block_file)
    finally:
        source.close()
    other = dev_genesis_document()
    other["gasLimit"] = hex(29_000_000)
    genesis_file = tmp_path / "other-genesis.json"
    genesis_file.write_text(json.dumps(other), encoding="utf-8")

    code = main(["audit", "replay", "--blocks", str(block_file), "--genesis", str(genesis_file), "--quiet"])

    err = capsys.readouterr().err
    assert code == 2
    assert "replay stopped at height 0: genesis hash mismatch" in err
