from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from node.store.backend import LevelDBBackend
from tests.audit.builders import build_traffic, new_dev_chain

#: Transactions in the shared test chain: the issuer story and a few blocks of transfers.
CHAIN_TRANSACTIONS = 320


@dataclass(frozen=True)
class BuiltChain:
    data_dir: Path
    head_number: int
    head_hash: bytes
    state_root: bytes
    transactions: int

    def copy(self, target: Path) -> Path:
        """Copy the data directory, so a test may alter the copy."""
        shutil.copytree(self.data_dir, target)
        return target


@pytest.fixture(scope="session")
def built_chain(tmp_path_factory: pytest.TempPathFactory) -> BuiltChain:
    """A dev-genesis chain in a LevelDB data directory, built once per session and never altered."""
    data_dir = tmp_path_factory.mktemp("audit-chain") / "data"
    backend = LevelDBBackend(data_dir / "chaindata", create=True)
    try:
        chain = new_dev_chain(backend)
        sealed = build_traffic(chain, CHAIN_TRANSACTIONS)
        head = chain.head
    finally:
        backend.close()
    return BuiltChain(data_dir, int(head.block_number), head.hash, head.state_root, sealed)


@pytest.fixture(scope="session")
def dev_genesis_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from node.cli.main import DEV_GENESIS

    return Path(DEV_GENESIS)
