"""``kura export`` and ``kura import``: a chain to a block file and back into a data directory."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from node.audit.blockfile import encode_block, open_block_file
from node.audit.errors import AuditError
from node.audit.progress import Progress
from node.audit.replay import BlockImporter
from node.audit.sources import BlockSource, SourceBlock
from node.chain.chain import Chain
from node.errors import BlockValidationError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferResult:
    """Blocks written or imported, and the head block at the end."""

    first: int | None
    last: int | None
    blocks: int
    transactions: int
    skipped: int
    seconds: float

    @property
    def blocks_per_second(self) -> float:
        return self.blocks / self.seconds if self.seconds > 0 else 0.0


def export_blocks(
    source: BlockSource,
    path: str | os.PathLike[str],
    *,
    first: int = 0,
    last: int | None = None,
    progress: Progress | None = None,
) -> TransferResult:
    """Write blocks ``first`` to ``last`` (the head when None) of ``source`` to a block file.

    The file is written under a temporary name and renamed at the end, so an interrupted export
    leaves no partial file under ``path``.
    """
    head = source.head_number()
    if last is None:
        last = head
    if last is not None and first > last:
        raise AuditError(f"--from {first} is after --to {last}; the block range is empty")
    if progress is not None:
        progress.start(last)

    started = time.perf_counter()
    written = transactions = 0
    temporary = f"{os.fspath(path)}.partial"
    with open_block_file(temporary, "wb", compress=os.fspath(path).endswith(".gz")) as stream:
        for block in source.blocks():
            if block.number < first:
                continue
            if last is not None and block.number > last:
                break
            stream.write(encode_block(block.header, block.transactions))
            written += 1
            transactions += len(block.transactions)
            if progress is not None:
                progress.update(block.number, len(block.transactions))
    os.replace(temporary, path)
    if progress is not None:
        progress.finish()
    seconds = time.perf_counter() - started
    logger.info("exported blocks from=%d to=%s count=%d path=%s", first, last, written, os.fspath(path))
    return TransferResult(first, last, written, transactions, 0, seconds)


def import_blocks(chain: Chain, blocks: Iterable[SourceBlock], *, progress: Progress | None = None) -> TransferResult:
    """Import blocks on top of ``chain``'s head through the checks of :class:`BlockImporter`.

    Blocks at or below the head are skipped after checking that they are the stored ones, so a
    file that overlaps what the data directory already holds imports only its new blocks.
    """
    importer = BlockImporter(chain)
    if progress is not None:
        progress.start(None)
    started = time.perf_counter()
    first = last = None
    imported = transactions = skipped = 0
    for block in blocks:
        if block.number == 0:
            importer.check_genesis(block)
            skipped += 1
            continue
        if block.number <= chain.head.block_number:
            stored = chain.store.canonical_hash(block.number)
            if stored != block.header.hash:
                raise BlockValidationError(
                    "block conflicts with the stored chain",
                    number=block.number,
                    got=f"0x{block.header.hash.hex()}",
                    expected=None if stored is None else f"0x{stored.hex()}",
                )
            skipped += 1
            continue
        executed = importer.import_block(block)
        first = block.number if first is None else first
        last = block.number
        imported += 1
        transactions += len(executed.transactions)
        if progress is not None:
            progress.update(block.number, len(executed.transactions))
    if progress is not None:
        progress.finish()
    seconds = time.perf_counter() - started
    logger.info("imported blocks count=%d skipped=%d head=%d", imported, skipped, chain.head.block_number)
    return TransferResult(first, last, imported, transactions, skipped, seconds)
