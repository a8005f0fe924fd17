"""``kura audit replay`` from a data directory and a block file, and the short benchmark variant."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import rlp
from eth.vm.forks.prague.transactions import PragueTransactionBuilder

from node.audit.replay import SECP256K1_N, replay, signature_problem
from node.audit.sources import BlockFileSource, DataDirSource
from node.audit.transfer import export_blocks
from node.cli.main import main
from node.store.backend import LevelDBBackend
from tests.audit.builders import Wallets, new_dev_chain
from tests.audit.conftest import BuiltChain
from tests.support.process import REPO

sys.path.insert(0, str(REPO / "scripts"))
import bench_replay  # noqa: E402


def test_replay_data_dir_reaches_head(built_chain: BuiltChain):
    source = DataDirSource(built_chain.data_dir)
    try:
        result = replay(source)
    finally:
        source.close()

    assert result.head.state_root == built_chain.state_root
    assert result.head.hash == built_chain.head_hash
    assert result.blocks == built_chain.head_number
    assert result.transactions == built_chain.transactions


def test_replay_block_file_reaches_head(built_chain: BuiltChain, dev_genesis_file: Path, tmp_path: Path):
    block_file = tmp_path / "chain.rlp.gz"
    source = DataDirSource(built_chain.data_dir)
    try:
        export_blocks(source, block_file)
    finally:
        source.close()

    file_source = BlockFileSource(block_file, genesis_path=dev_genesis_file)
    try:
        result = replay(file_source)
    finally:
        file_source.close()

    assert result.head.state_root == built_chain.state_root
    assert result.blocks == built_chain.head_number


def test_replay_cli_into_leveldb_store(built_chain: BuiltChain, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    store_dir = tmp_path / "replayed"

    code = main(["audit", "replay", "--data-dir", str(built_chain.data_dir), "--store-dir", str(store_dir)])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"state root 0x{built_chain.state_root.hex()}" in out
    assert "blocks/s" in err
    backend = LevelDBBackend(store_dir)
    try:
        from node.store.chainstore import ChainStore

        assert ChainStore(backend).head_hash() == built_chain.head_hash
    finally:
        backend.close()


def test_replay_cli_stops_at_to(built_chain: BuiltChain, capsys: pytest.CaptureFixture[str]):
    code = main(["audit", "replay", "--data-dir", str(built_chain.data_dir), "--to", "3", "--quiet"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Replayed 3 blocks" in out


def test_replay_cli_rejects_copy_without_data_dir(dev_genesis_file: Path, tmp_path: Path, capsys):
    code = main(["audit", "replay", "--blocks", str(tmp_path / "x.rlp"), "--genesis", str(dev_genesis_file), "--copy"])

    assert code == 1
    assert "--copy applies to --data-dir only" in capsys.readouterr().err


def test_replay_data_dir_copy_while_locked(built_chain: BuiltChain, tmp_path: Path):
    data_dir = built_chain.copy(tmp_path / "data")
    holder = LevelDBBackend(data_dir / "chaindata")  # stands for the running node's lock
    try:
        source = DataDirSource(data_dir, copy=True)
        try:
            result = replay(source)
        finally:
            source.close()
    finally:
        holder.close()

    assert result.head.state_root == built_chain.state_root


def test_signature_problem_high_s(tmp_path: Path):
    from node.store.backend import MemoryBackend

    chain = new_dev_chain(MemoryBackend())
    valid = Wallets(chain).send("customer", "0x" + "11" * 20, value=1)
    # The same signature with s replaced by n - s and the parity flipped recovers the same
    # key, so only EIP-2's low-s rule rejects it.
    items = rlp.decode(valid.encode()[1:])
    items[-3] = b"" if items[-3] else b"\x01"
    items[-1] = (SECP256K1_N - valid.s).to_bytes(32, "big")
    flipped = PragueTransactionBuilder.decode(b"\x02" + rlp.encode(items))

    assert signature_problem(valid) is None
    assert signature_problem(flipped) == "s is outside 1 to n/2 (EIP-2)"


def test_replay_benchmark_short_variant(tmp_path: Path):
    """The CI variant of scripts/bench_replay.py: same chain, node import against replay."""
    result = bench_replay.run(300, tmp_path, repeats=1)

    print(
        f"\nreplay benchmark, {result.transactions} txs: node import {result.import_tps:.0f} tx/s, "
        f"audit replay {result.replay_tps:.0f} tx/s"
    )
    assert result.import_state_root == result.head_state_root
    assert result.replay_state_root == result.head_state_root
    # NOTE: a loose bound, because the machine is shared; scripts/bench_replay.py with the
    # default 10,000 transactions is the measurement to quote.
    assert result.replay_seconds < 2 * result.import_seconds


def test_check_body_names_signature_rule():
    from node.audit.replay import BlockImporter
    from node.audit.sources import SourceBlock
    from node.chain.chain import Chain
    from node.chain.trie import ordered_trie_root
    from node.errors import BlockValidationError
    from node.store.backend import MemoryBackend

    chain: Chain = new_dev_chain(MemoryBackend())
    valid = Wallets(chain).send("customer", "0x" + "11" * 20, value=1)
    items = rlp.decode(valid.encode()[1:])
    items[-3] = b"" if items[-3] else b"\x01"
    items[-1] = (SECP256K1_N - valid.s).to_bytes(32, "big")
    flipped = PragueTransactionBuilder.decode(b"\x02" + rlp.encode(items))
    header = chain.head.copy(transaction_root=ordered_trie_root([flipped.encode()]))

    with pytest.raises(BlockValidationError) as raised:
        BlockImporter(chain).check_body(header, SourceBlock(header, [flipped]))

    assert raised.value.rule == "transaction signature invalid"
    assert "tx_index=0" in raised.value.message
