"""Block sources for the replay: a data directory, a running node over JSON-RPC, or a block file.

Every source yields :class:`SourceBlock` items in block order from genesis and hands over the
genesis document the chain started from. Sources only read: none writes to the node it reads.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import rlp
from eth.abc import SignedTransactionAPI

from node.audit.blockfile import open_block_file, read_blocks
from node.audit.errors import AuditError, SourceError
from node.audit.rpc_blocks import METHOD_NOT_FOUND, RpcCallFailed, RpcClient, header_from_json, transaction_from_json
from node.chain.header import KuraHeader
from node.errors import BlockValidationError
from node.store import schema
from node.store.backend import LevelDBBackend
from node.store.chainstore import ChainStore

logger = logging.getLogger(__name__)

#: Blocks fetched per JSON-RPC batch: two calls each (block and receipts).
RPC_BATCH_BLOCKS = 25
#: Method that returns the genesis document, served by nodes that have the audit hook installed.
GENESIS_METHOD = "kura_getGenesis"


@dataclass
class SourceBlock:
    """One block as a source holds it, before any check."""

    header: KuraHeader
    transactions: list[SignedTransactionAPI]
    #: Hash the source files the block under (canonical index, or the ``hash`` field over RPC).
    claimed_hash: bytes | None = None
    #: Receipts as stored in a data directory: the RLP list of their consensus encodings.
    stored_receipts_rlp: bytes | None = None
    #: Receipt objects from ``eth_getBlockReceipts``.
    rpc_receipts: list[dict[str, Any]] | None = None

    @property
    def number(self) -> int:
        return int(self.header.block_number)


class BlockSource(Protocol):
    """A chain to replay: its genesis document and its blocks in order."""

    #: Short description for progress lines and errors, e.g. ``data dir /srv/kura``.
    description: str

    def genesis_document(self) -> dict[str, Any]:
        """Return the genesis document the chain started from."""

    def head_number(self) -> int | None:
        """Number of the last block the source holds, or None when it is known only at the end."""

    def blocks(self) -> Iterator[SourceBlock]:
        """Yield every block from genesis (number 0) to the head, in order."""

    def close(self) -> None:
        """Release files, handles and temporary copies."""


def load_genesis_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise AuditError(f"cannot read the genesis file {os.fspath(path)}: {error}") from None
    except ValueError as error:
        raise AuditError(f"genesis file {os.fspath(path)} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise AuditError(f"genesis file {os.fspath(path)} must contain a JSON object")
    return document


class DataDirSource:
    """The canonical chain of a ``kura`` data directory, with its stored receipts.

    LevelDB admits one process per directory, so the node must be stopped, unless ``copy`` is
    set: then the store is copied to a temporary directory first and the copy is read. A copy
    taken while the node writes holds the blocks committed before the copy, because LevelDB
    drops an unfinished last write-ahead log record when it opens the copy.
    """

    def __init__(self, data_dir: str | os.PathLike[str], *, copy: bool = False) -> None:
        chaindata = Path(data_dir) / "chaindata"
        if not chaindata.is_dir():
            raise AuditError(f"{chaindata} not found; pass the --data-dir of a node made by 'kura init' or 'kura dev'")
        self.description = f"data dir {os.fspath(data_dir)}"
        self._copy_dir: str | None = None
        if copy:
            self._copy_dir = tempfile.mkdtemp(prefix="kura-audit-copy-")
            target = Path(self._copy_dir) / "chaindata"
            shutil.copytree(chaindata, target, ignore=shutil.ignore_patterns("LOCK"))
            chaindata = target
        self._backend = LevelDBBackend(chaindata)
        self.store = ChainStore(self._backend)

    def genesis_document(self) -> dict[str, Any]:
        return self.store.genesis_document()

    def head_number(self) -> int | None:
        head_hash = self.store.head_hash()
        header = None if head_hash is None else self.store.header_by_hash(head_hash)
        if header is None:
            raise SourceError(f"{self.description} has no head block")
        return int(header.block_number)

    def blocks(self) -> Iterator[SourceBlock]:
        last = self.head_number()
        assert last is not None
        for number in range(last + 1):
            yield self.block(number)

    def block(self, number: int) -> SourceBlock:
        block_hash = self.store.canonical_hash(number)
        if block_hash is None:
            raise BlockValidationError(
                "canonical block missing", number=number, detail="the canonical index has no entry"
            )
        try:
            header = self.store.header_by_hash(block_hash)
        except Exception as error:  # rlp raises several unrelated types
            raise BlockValidationError("stored header undecodable", number=number, detail=str(error)) from None
        if header is None:
            raise BlockValidationError("stored header missing", number=number, got=f"0x{block_hash.hex()}")
        try:
            transactions = list(self.store.transactions(block_hash))
        except Exception as error:  # rlp and py-evm raise several unrelated types
            raise BlockValidationError("stored body undecodable", number=number, detail=str(error)) from None
        # Kept encoded: the replay compares bytes first and decodes only a mismatch.
        receipts = self._backend.get(schema.receipts_key(block_hash))
        return SourceBlock(
            header, transactions, claimed_hash=block_hash, stored_receipts_rlp=receipts or rlp.encode([])
        )

    def close(self) -> None:
        self._backend.close()
        if self._copy_dir is not None:
            shutil.rmtree(self._copy_dir, ignore_errors=True)


class RpcSource:
    """A running node's canonical chain over JSON-RPC, with its receipts.

    The genesis document comes from ``genesis_path`` when given, else from the node's
    ``kura_getGenesis`` method. Blocks come from ``eth_getBlockByNumber`` with full transactions
    and receipts from ``eth_getBlockReceipts``, in batches. The head is read once at the start,
    so blocks sealed during the replay are not included.
    """

    def __init__(
        self, url: str, *, genesis_path: str | os.PathLike[str] | None = None, last: int | None = None
    ) -> None:
        self.description = f"node {url}"
        self.client = RpcClient(url)
        self._genesis_path = genesis_path
        self._head = int(self.client.call("eth_blockNumber"), 16)
        if last is not None:
            self._head = min(self._head, last)

    def genesis_document(self) -> dict[str, Any]:
        if self._genesis_path is not None:
            return load_genesis_document(self._genesis_path)
        try:
            document = self.client.call(GENESIS_METHOD)
        except RpcCallFailed as error:
            if error.code != METHOD_NOT_FOUND:
                raise
            raise AuditError(
                f"the node at {self.client.url} does not serve {GENESIS_METHOD}; "
                "pass the chain's genesis file with --genesis"
            ) from None
        if not isinstance(document, dict):
            raise SourceError(f"{GENESIS_METHOD} returned {type(document).__name__}, expected a JSON object")
        return document

    def head_number(self) -> int | None:
        return self._head

    def blocks(self) -> Iterator[SourceBlock]:
        for first in range(0, self._head + 1, RPC_BATCH_BLOCKS):
            numbers = range(first, min(first + RPC_BATCH_BLOCKS, self._head + 1))
            calls: list[tuple[str, list[Any]]] = []
            for number in numbers:
                calls.append(("eth_getBlockByNumber", [hex(number), True]))
                calls.append(("eth_getBlockReceipts", [hex(number)]))
            results = self.client.batch(calls)
            for index, number in enumerate(numbers):
                block, receipts = results[2 * index], results[2 * index + 1]
                if block is None:
                    raise SourceError(f"the node has no block {number} although its head was {self._head}")
                header = header_from_json(block)
                if header.block_number != number:
                    raise SourceError(f"asked for block {number}, the node sent block {header.block_number}")
                transactions = [transaction_from_json(tx) for tx in block.get("transactions", [])]
                yield SourceBlock(
                    header,
                    transactions,
                    claimed_hash=header.hash,
                    rpc_receipts=receipts if isinstance(receipts, list) else None,
                )

    def close(self) -> None:
        pass


class BlockFileSource:
    """Blocks from a file written by ``kura export``, with the genesis document from a separate file.

    The file must start at block 0, as ``kura export`` writes it by default.
    """

    def __init__(self, path: str | os.PathLike[str], *, genesis_path: str | os.PathLike[str] | None) -> None:
        self.description = f"block file {os.fspath(path)}"
        self._path = path
        self._genesis_path = genesis_path
        try:
            self._stream = open_block_file(path, "rb")
        except OSError as error:
            raise AuditError(f"cannot open the block file {os.fspath(path)}: {error}") from None

    def genesis_document(self) -> dict[str, Any]:
        if self._genesis_path is None:
            raise AuditError("a block file does not contain the genesis document; pass the chain's genesis file")
        return load_genesis_document(self._genesis_path)

    def head_number(self) -> int | None:
        return None

    def blocks(self) -> Iterator[SourceBlock]:
        for header, transactions in read_blocks(self._stream):
            yield SourceBlock(header, transactions)

    def close(self) -> None:
        self._stream.close()
