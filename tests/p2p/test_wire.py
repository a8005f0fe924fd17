"""Wire messages round-trip, and malformed frames name the broken rule."""

from __future__ import annotations

import msgpack
import pytest

from node.p2p import wire

MESSAGES = [
    wire.Hello(1, 1337, b"\x01" * 32, 5, b"\x02" * 32),
    wire.Status(7, b"\x03" * 32),
    wire.Transactions([b"\x01\x02", b"\x03"]),
    wire.Consensus(b"payload"),
    wire.GetBlocks(10, 64),
    wire.Blocks([(b"header", b"body")]),
    wire.NewBlock(b"header", b"body"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(message: wire.Message) -> None:
    frame = wire.encode(message)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert wire.decode(frame[4:]) == message


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"t": "status", "head_number": -1, "head_hash": b"\x00" * 32}, "invalid field"),
        ({"t": "status", "head_number": 1, "head_hash": b"\x00" * 31}, "invalid field"),
        ({"t": "get_blocks", "start": 0, "count": 0}, "invalid field"),
        ({"t": "get_blocks", "start": 0, "count": wire.MAX_BLOCKS_PER_MESSAGE + 1}, "invalid field"),
        ({"t": "txs", "raw": ["text"]}, "invalid field"),
        ({"t": "blocks", "blocks": [[b"only-header"]]}, "invalid field"),
        ({"t": "teleport"}, "unknown message type"),
        ([1, 2, 3], "not a message map"),
    ],
)
def test_malformed_rejected(fields: object, rule: str) -> None:
    with pytest.raises(wire.WireError) as caught:
        wire.decode(msgpack.packb(fields, use_bin_type=True))
    assert caught.value.rule == rule


def test_garbage_is_not_msgpack() -> None:
    with pytest.raises(wire.WireError) as caught:
        wire.decode(b"\xc1\xc1\xc1")
    assert caught.value.rule == "not msgpack"
