"""Frames and messages on a peer connection.

A frame is a 4-byte big-endian length followed by that many bytes of
msgpack: a map with the message type under ``"t"`` and its fields. Every
field is type-checked on decode; anything malformed raises WireError and
the peer is disconnected.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import msgpack

#: Largest frame accepted, in bytes. A batch of blocks is the largest message.
MAX_FRAME = 16 * 1024 * 1024
#: Largest number of blocks requested or sent in one message.
MAX_BLOCKS_PER_MESSAGE = 64
#: Largest number of transactions gossiped in one message.
MAX_TRANSACTIONS_PER_MESSAGE = 1_024
PROTOCOL_VERSION = 1


class WireError(ValueError):
    """A frame or message breaks the wire format; ``rule`` names what."""

    def __init__(self, rule: str, detail: str = "") -> None:
        super().__init__(f"{rule}: {detail}" if detail else rule)
        self.rule = rule


@dataclass(frozen=True)
class Hello:
    version: int
    chain_id: int
    genesis_hash: bytes
    head_number: int
    head_hash: bytes


@dataclass(frozen=True)
class Status:
    head_number: int
    head_hash: bytes


@dataclass(frozen=True)
class Transactions:
    raw: list[bytes]


@dataclass(frozen=True)
class Consensus:
    """An opaque, signed consensus message; the engine decodes and checks it."""

    payload: bytes


@dataclass(frozen=True)
class GetBlocks:
    start: int
    count: int


@dataclass(frozen=True)
class Blocks:
    """Finalised blocks as (header RLP, transactions RLP) pairs, in order."""

    blocks: list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class NewBlock:
    header: bytes
    body: bytes


Message = Hello | Status | Transactions | Consensus | GetBlocks | Blocks | NewBlock

_TYPES: dict[str, type] = {
    "hello": Hello,
    "status": Status,
    "txs": Transactions,
    "consensus": Consensus,
    "get_blocks": GetBlocks,
    "blocks": Blocks,
    "new_block": NewBlock,
}
_NAMES = {cls: name for name, cls in _TYPES.items()}


def encode(message: Message) -> bytes:
    fields: dict[str, Any] = {"t": _NAMES[type(message)]}
    fields.update(message.__dict__)
    body = msgpack.packb(fields, use_bin_type=True)
    if len(body) > MAX_FRAME:
        raise WireError("frame too large", f"{len(body)} bytes, limit {MAX_FRAME}")
    return len(body).to_bytes(4, "big") + body


def _uint(fields: dict[str, Any], name: str) -> int:
    value = fields.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WireError("invalid field", f"{name} must be a non-negative integer")
    return value


def _bytes(fields: dict[str, Any], name: str, length: int | None = None) -> bytes:
    value = fields.get(name)
    if not isinstance(value, bytes) or (length is not None and len(value) != length):
        expected = f"{length} bytes" if length is not None else "bytes"
        raise WireError("invalid field", f"{name} must be {expected}")
    return value


def _byte_list(fields: dict[str, Any], name: str, limit: int) -> list[bytes]:
    value = fields.get(name)
    if not isinstance(value, list) or len(value) > limit or not all(isinstance(item, bytes) for item in value):
        raise WireError("invalid field", f"{name} must be a list of at most {limit} byte strings")
    return value


def decode(body: bytes) -> Message:
    """Decode one frame body (without its length prefix)."""
    try:
        fields = msgpack.unpackb(body, raw=False, strict_map_key=True, max_bin_len=MAX_FRAME)
    except Exception as error:  # msgpack raises several unrelated types
        raise WireError("not msgpack", str(error)) from None
    if not isinstance(fields, dict):
        raise WireError("not a message map")
    kind = fields.get("t")
    if kind == "hello":
        return Hello(
            _uint(fields, "version"),
            _uint(fields, "chain_id"),
            _bytes(fields, "genesis_hash", 32),
            _uint(fields, "head_number"),
            _bytes(fields, "head_hash", 32),
        )
    if kind == "status":
        return Status(_uint(fields, "head_number"), _bytes(fields, "head_hash", 32))
    if kind == "txs":
        return Transactions(_byte_list(fields, "raw", MAX_TRANSACTIONS_PER_MESSAGE))
    if kind == "consensus":
        return Consensus(_bytes(fields, "payload"))
    if kind == "get_blocks":
        count = _uint(fields, "count")
        if count == 0 or count > MAX_BLOCKS_PER_MESSAGE:
            raise WireError("invalid field", f"count must be 1 to {MAX_BLOCKS_PER_MESSAGE}")
        return GetBlocks(_uint(fields, "start"), count)
    if kind == "blocks":
        blocks = fields.get("blocks")
        if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS_PER_MESSAGE:
            raise WireError("invalid field", f"blocks must be a list of at most {MAX_BLOCKS_PER_MESSAGE}")
        pairs = []
        for item in blocks:
            if not (isinstance(item, list) and len(item) == 2 and all(isinstance(part, bytes) for part in item)):
                raise WireError("invalid field", "each block must be [header, body]")
            pairs.append((item[0], item[1]))
        return Blocks(pairs)
    if kind == "new_block":
        return NewBlock(_bytes(fields, "header"), _bytes(fields, "body"))
    raise WireError("unknown message type", repr(kind)[:40])


async def read_message(reader: asyncio.StreamReader) -> Message:
    prefix = await reader.readexactly(4)
    length = int.from_bytes(prefix, "big")
    if length > MAX_FRAME:
        raise WireError("frame too large", f"{length} bytes, limit {MAX_FRAME}")
    return decode(await reader.readexactly(length))
