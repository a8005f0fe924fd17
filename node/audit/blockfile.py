"""Block files: blocks as concatenated RLP, geth's ``export``/``import`` format.

geth writes each block as the RLP list ``[header, transactions, uncles(, withdrawals)]`` with
nothing between blocks, and compresses with gzip when the file name ends in ``.gz``. A Kura
block file holds :class:`node.chain.header.KuraBlock` items, which have that shape: the Kura
header (seals in ``extraData``), the transactions, an empty uncle list and an empty withdrawal
list. The genesis document is not in the file, so an importer needs it beside the file.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from typing import BinaryIO

import rlp
from eth.abc import SignedTransactionAPI

from node.audit.errors import BlockFileError
from node.chain.header import KuraBlock, KuraHeader

#: Largest block item accepted when reading; a 30M-gas block of calldata stays far below it.
MAX_BLOCK_BYTES = 64 * 1024 * 1024


#: First two bytes of every gzip stream (RFC 1952).
GZIP_MAGIC = b"\x1f\x8b"


def open_block_file(path: str | os.PathLike[str], mode: str, *, compress: bool | None = None) -> BinaryIO:
    """Open ``path`` for binary reading (``"rb"``) or writing (``"wb"``).

    Writing compresses with gzip when ``compress`` is true, or when it is None and the name
    ends in ``.gz``. Reading recognises gzip by its magic bytes, whatever the name.
    """
    if mode == "rb":
        with open(path, "rb") as probe:
            compressed = probe.read(2) == GZIP_MAGIC
    else:
        compressed = os.fspath(path).endswith(".gz") if compress is None else compress
    if compressed:
        return gzip.open(path, mode)  # type: ignore[return-value]
    return open(path, mode)  # type: ignore[return-value]


def encode_block(header: KuraHeader, transactions: list[SignedTransactionAPI] | tuple) -> bytes:
    return rlp.encode(KuraBlock(header, transactions=list(transactions), uncles=[], withdrawals=[]))


def decode_block(item: bytes, *, offset: int = 0) -> tuple[KuraHeader, list[SignedTransactionAPI]]:
    """Decode one block item; BlockFileError if it is not a Kura block."""
    try:
        block = rlp.decode(item, sedes=KuraBlock)
    except Exception as error:  # rlp and py-evm raise several unrelated types
        raise BlockFileError(f"undecodable block: {error}", offset=offset) from None
    return block.header, list(block.transactions)


def read_items(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Yield (offset, item) for each top-level RLP list in ``stream``, without reading it whole."""
    offset = 0
    while True:
        first = stream.read(1)
        if not first:
            return
        prefix = first[0]
        if prefix < 0xC0:
            raise BlockFileError(f"expected an RLP list, found prefix byte 0x{prefix:02x}", offset=offset)
        header = first
        if prefix <= 0xF7:
            length = prefix - 0xC0
        else:
            size_bytes = stream.read(prefix - 0xF7)
            if len(size_bytes) != prefix - 0xF7:
                raise BlockFileError("file ends inside an RLP length", offset=offset)
            header += size_bytes
            length = int.from_bytes(size_bytes, "big")
        if length > MAX_BLOCK_BYTES:
            raise BlockFileError(f"block of {length} bytes exceeds the {MAX_BLOCK_BYTES}-byte maximum", offset=offset)
        payload = stream.read(length)
        if len(payload) != length:
            raise BlockFileError(f"file ends inside a block: {len(payload)} of {length} bytes", offset=offset)
        yield offset, header + payload
        offset += len(header) + length


def read_blocks(stream: BinaryIO) -> Iterator[tuple[KuraHeader, list[SignedTransactionAPI]]]:
    for offset, item in read_items(stream):
        yield decode_block(item, offset=offset)
