"""The one-pass trie builder and RLP list splitter against py-trie, pyrlp and node.chain.trie."""

from __future__ import annotations

import os
import random

import pytest
import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_hash.auto import keccak
from trie import HexaryTrie

from node.chain.trie import ordered_trie_root as chain_ordered_trie_root
from node.shelter.trie import RLPFormatError, list_items, ordered_trie_root, trie_root


@pytest.mark.parametrize("count", [0, 1, 2, 3, 15, 16, 17, 127, 128, 129, 300, 1000])
@pytest.mark.parametrize("item_size", [1, 5, 40, 181])
def test_ordered_root_matches_chain_trie(count: int, item_size: int) -> None:
    # Items of 1 and 5 bytes make leaves short enough to be embedded in their parent.
    items = [os.urandom(item_size) for _ in range(count)]
    assert ordered_trie_root(items) == chain_ordered_trie_root(items)


@pytest.mark.parametrize("count", [1, 2, 10, 1000])
def test_root_and_nodes_match_hexary_trie(count: int) -> None:
    generator = random.Random(count)
    pairs = {generator.randbytes(32): generator.randbytes(generator.randint(1, 100)) for _ in range(count)}
    # Keys that share a long prefix force extension nodes.
    pairs.update({b"\x12\x34" + generator.randbytes(2) + bytes(28): generator.randbytes(40) for _ in range(count // 2)})
    # prune=True drops the nodes that later inserts replace, so the database holds only the final trie.
    expected = HexaryTrie({}, prune=True)
    for key, value in pairs.items():
        expected[key] = value

    stored: dict[bytes, bytes] = {}
    keys = sorted(key.hex() for key in pairs)
    root = trie_root(keys, [pairs[bytes.fromhex(key)] for key in keys], lambda node: stored.setdefault(keccak(node), node))

    assert root == expected.root_hash
    assert stored == {key: value for key, value in expected.db.items() if key != BLANK_ROOT_HASH}


def test_empty_trie_root() -> None:
    assert trie_root([], []) == BLANK_ROOT_HASH
    assert ordered_trie_root([]) == BLANK_ROOT_HASH


def test_list_items_matches_rlp_decode() -> None:
    typed = [b"\x02" + rlp.encode([1, 2, os.urandom(size)]) for size in (0, 1, 55, 56, 300)]
    legacy = [[b"\x01", os.urandom(20), os.urandom(70)], []]
    encoded = rlp.encode([*typed, *legacy, b"\x05", b""])
    assert list_items(encoded) == [*typed, *(rlp.encode(item) for item in legacy), b"\x05", b""]
    assert list_items(rlp.encode([])) == []


@pytest.mark.parametrize(
    "data",
    [b"", rlp.encode(b"not a list"), rlp.encode([b"a", b"b"]) + b"\x00", rlp.encode([b"x" * 60])[:-1]],
    ids=["empty", "string", "trailing byte", "item past the end"],
)
def test_list_items_rejects_malformed(data: bytes) -> None:
    with pytest.raises(RLPFormatError):
        list_items(data)
