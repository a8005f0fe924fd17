"""Turning a block reference into a committed header."""

from __future__ import annotations

from node.chain.header import KuraHeader
from node.errors import ResourceNotFound
from node.rpc.params import BlockRef
from node.rpc.registry import RpcContext


def header_or_none(ctx: RpcContext, ref: BlockRef) -> KuraHeader | None:
    """The header ``ref`` names, or None when no such block exists.

    Every block is final when committed (BFT finality), so ``safe`` and
    ``finalized`` are the head; ``pending`` is the head too, since the
    node builds the next block only when it seals it.
    """
    chain = ctx.chain
    if ref.tag is not None:
        if ref.tag == "earliest":
            return chain.header_by_number(0)
        return chain.head
    if ref.number is not None:
        return chain.header_by_number(ref.number)
    assert ref.block_hash is not None
    if ref.require_canonical:
        return chain.header_by_hash(ref.block_hash)
    return chain.store.header_by_hash(ref.block_hash)


def header_for_state(ctx: RpcContext, ref: BlockRef) -> KuraHeader:
    """Like header_or_none, but a missing block is an error (state queries need one)."""
    header = header_or_none(ctx, ref)
    if header is None:
        if ref.block_hash is not None:
            raise ResourceNotFound(f"header for hash not found: 0x{ref.block_hash.hex()}")
        raise ResourceNotFound("header not found")
    return header
