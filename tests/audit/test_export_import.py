"""``kura export`` then ``kura import`` into an empty data directory gives the same head."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.audit.blockfile import open_block_file, read_items
from node.cli.main import main
from node.store.backend import LevelDBBackend
from node.store.chainstore import ChainStore
from tests.audit.conftest import BuiltChain


def head_of(data_dir: Path) -> tuple[bytes, bytes]:
    backend = LevelDBBackend(data_dir / "chaindata")
    try:
        store = ChainStore(backend)
        head_hash = store.head_hash()
        assert head_hash is not None
        header = store.header_by_hash(head_hash)
        assert header is not None
        return header.hash, header.state_root
    finally:
        backend.close()


@pytest.mark.parametrize("file_name", ["chain.rlp", "chain.rlp.gz"])
def test_export_import_same_head(built_chain: BuiltChain, tmp_path: Path, file_name: str, capsys):
    block_file = tmp_path / file_name
    genesis_file = tmp_path / "genesis.json"
    target = tmp_path / "imported"

    exported = main(
        ["export", str(block_file), "--data-dir", str(built_chain.data_dir), "--genesis-out", str(genesis_file)]
    )
    imported = main(["import", str(block_file), "--data-dir", str(target), "--genesis", str(genesis_file), "--quiet"])

    out, err = capsys.readouterr()
    assert exported == 0, err
    assert imported == 0, err
    assert f"Exported {built_chain.head_number + 1} blocks" in out
    assert head_of(target) == (built_chain.head_hash, built_chain.state_root)
    with open_block_file(block_file, "rb") as stream:
        assert sum(1 for _ in read_items(stream)) == built_chain.head_number + 1


def test_import_again_skips_stored_blocks(built_chain: BuiltChain, tmp_path: Path, capsys):
    block_file = tmp_path / "chain.rlp"
    genesis_file = tmp_path / "genesis.json"
    target = tmp_path / "imported"
    main(["export", str(block_file), "--data-dir", str(built_chain.data_dir), "--genesis-out", str(genesis_file)])
    main(["import", str(block_file), "--data-dir", str(target), "--genesis", str(genesis_file), "--quiet"])
    capsys.readouterr()

    code = main(["import", str(block_file), "--data-dir", str(target), "--quiet"])

    out = capsys.readouterr().out
    assert code == 0
    assert f"Imported 0 blocks ({built_chain.head_number + 1} already stored)" in out


def test_export_range_then_import_fails_on_gap(built_chain: BuiltChain, tmp_path: Path, capsys):
    block_file = tmp_path / "tail.rlp"
    genesis_file = tmp_path / "genesis.json"
    main(
        [
            "export",
            str(block_file),
            "--data-dir",
            str(built_chain.data_dir),
            "--from",
            "5",
            "--genesis-out",
            str(genesis_file),
            "--quiet",
        ]
    )
    capsys.readouterr()

    code = main(["import", str(block_file), "--data-dir", str(tmp_path / "new"), "--genesis", str(genesis_file)])

    err = capsys.readouterr().err
    assert code == 2
    assert "import stopped at height 5: parent hash mismatch" in err


def test_import_new_data_dir_needs_genesis(built_chain: BuiltChain, tmp_path: Path, capsys):
    block_file = tmp_path / "chain.rlp"
    main(["export", str(block_file), "--data-dir", str(built_chain.data_dir), "--quiet"])
    capsys.readouterr()

    code = main(["import", str(block_file), "--data-dir", str(tmp_path / "new")])

    assert code == 1
    assert "pass --genesis" in capsys.readouterr().err


def test_import_truncated_file_reports_offset(built_chain: BuiltChain, tmp_path: Path, capsys):
    block_file = tmp_path / "chain.rlp"
    genesis_file = tmp_path / "genesis.json"
    main(["export", str(block_file), "--data-dir", str(built_chain.data_dir), "--genesis-out", str(genesis_file)])
    data = block_file.read_bytes()
    block_file.write_bytes(data[: len(data) - 10])
    capsys.readouterr()

    code = main(["import", str(block_file), "--data-dir", str(tmp_path / "new"), "--genesis", str(genesis_file)])

    err = capsys.readouterr().err
    assert code == 1
    assert "file ends inside a block" in err
