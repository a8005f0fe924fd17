"""Roots of the transaction and receipt tries, built in one pass.

Both tries map ``rlp(index)`` to the item's consensus encoding. All keys are
known up front, so the trie is built top-down from the sorted keys instead
of by repeated insertion into py-evm's ``HexaryTrie``, which re-encodes and
re-hashes the path on every insert. The result is the same Merkle-Patricia
root (checked against ``HexaryTrie`` in the tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_hash.auto import keccak

#: A node as RLP structure: bytes, or a list of nodes.
Node = Any


def nibbles_of(key: bytes) -> tuple[int, ...]:
    out = []
    for byte in key:
        out.append(byte >> 4)
        out.append(byte & 0x0F)
    return tuple(out)


def hex_prefix(nibbles: Sequence[int], leaf: bool) -> bytes:
    """Hex-prefix encoding of a path (Yellow Paper, appendix C)."""
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        packed = [(flag + 1) << 4 | nibbles[0]]
        rest = nibbles[1:]
    else:
        packed = [flag << 4]
        rest = nibbles
    packed.extend(rest[i] << 4 | rest[i + 1] for i in range(0, len(rest), 2))
    return bytes(packed)


def _reference(node: Node) -> Node:
    """Return how a parent refers to ``node``: inline below 32 encoded bytes, else by hash."""
    encoded = rlp.encode(node)
    return node if len(encoded) < 32 else keccak(encoded)


def build_subtrie(
    items: list[tuple[tuple[int, ...], bytes]], depth: int, reference: Callable[[Node], Node] = _reference
) -> Node:
    """Build the subtrie of ``items`` (sorted, distinct, non-empty nibble keys) below ``depth`` nibbles.

    ``reference`` turns a child node into what its parent stores, and may also save the node.
    """
    if len(items) == 1:
        path, value = items[0]
        return [hex_prefix(path[depth:], leaf=True), value]

    # Shared prefix below ``depth``: an extension node.
    first, last = items[0][0], items[-1][0]
    shared = 0
    limit = min(len(first), len(last)) - depth
    while shared < limit and first[depth + shared] == last[depth + shared]:
        shared += 1
    if shared:
        child = build_subtrie(items, depth + shared, reference)
        return [hex_prefix(first[depth : depth + shared], leaf=False), reference(child)]

    # Otherwise a branch on the nibble at ``depth``.
    branch: list[Node] = [b""] * 17
    start = 0
    if len(items[0][0]) == depth:
        branch[16] = items[0][1]
        start = 1
    while start < len(items):
        nibble = items[start][0][depth]
        end = start
        while end < len(items) and items[end][0][depth] == nibble:
            end += 1
        branch[nibble] = reference(build_subtrie(items[start:end], depth + 1, reference))
        start = end
    return branch


def ordered_trie_root(encoded_items: Sequence[bytes]) -> bytes:
    """Root of the trie mapping ``rlp(i)`` to ``encoded_items[i]``."""
    if not encoded_items:
        return BLANK_ROOT_HASH
    items = sorted((nibbles_of(rlp.encode(index)), value) for index, value in enumerate(encoded_items))
    return keccak(rlp.encode(build_subtrie(items, 0)))
