"""The block a QBFT proposal carries: a sealed header and an opaque body.

The engine reads only the header. The body (in the node, the RLP list of
the block's transactions) is passed unchanged between the block creator
and the block importer, which bind it to the header through the
transaction root.

A block has one hash in every round but one header per round. The
proposal of round r carries r in its seal and the proposer seal of r's
proposer (:func:`for_round`). The block hash counts the round as 0 and
omits both kinds of seal (:mod:`node.chain.seal`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

import rlp
from eth_typing import Hash32

from node.chain.header import KuraHeader
from node.consensus.qbft.errors import DecodeFailure, MessageDecodeError
from node.consensus.seals import add_proposer_seal


@dataclass(frozen=True)
class ProposedBlock:
    """A header with its body. ``hash`` is the round-free block hash that proposals, prepares and commits name."""

    header: KuraHeader
    body: bytes

    @property
    def hash(self) -> Hash32:
        return self.header.hash

    @property
    def number(self) -> int:
        return int(self.header.block_number)

    def to_wire(self) -> list[bytes]:
        return [rlp.encode(self.header), self.body]

    @classmethod
    def from_wire(cls, fields: Any) -> ProposedBlock:
        """Decode ``[header RLP, body]``; raise MessageDecodeError(BAD_BLOCK) on anything else."""
        if not isinstance(fields, list) or len(fields) != 2:
            raise MessageDecodeError(DecodeFailure.BAD_BLOCK, "block must be [header, body]")
        header_rlp, body = fields
        if not isinstance(header_rlp, bytes) or not isinstance(body, bytes):
            raise MessageDecodeError(DecodeFailure.BAD_BLOCK, "block header and body must be bytes")
        return cls(decode_header(header_rlp), body)


def for_round(block: ProposedBlock, round: int, private_key: bytes) -> ProposedBlock:
    """Reseal ``block`` as a proposal of ``round`` by the holder of ``private_key``, as Besu's re-proposal does.

    Writes ``round`` into the seal, replaces the proposer seal with one by
    ``private_key`` and drops any commit seals. The body and the block hash
    stay the same. Raises SealFormatError if the header's extraData is not
    a seal.
    """
    seal = replace(block.header.seal, round=round, proposer_seal=b"", commit_seals=())
    header = add_proposer_seal(block.header.copy(extra_data=seal.encode()), private_key)
    return ProposedBlock(header, block.body)


def decode_header(data: bytes) -> KuraHeader:
    """Decode a header's RLP; raise MessageDecodeError(BAD_BLOCK) if it is not one."""
    try:
        return cast(KuraHeader, rlp.decode(data, sedes=KuraHeader))
    except (rlp.DecodingError, rlp.DeserializationError) as error:
        raise MessageDecodeError(DecodeFailure.BAD_BLOCK, f"header: {error}") from None
