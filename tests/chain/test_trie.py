"""The one-pass trie root equals py-evm's HexaryTrie root."""

from __future__ import annotations

import rlp
from eth.constants import BLANK_ROOT_HASH
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from node.chain.trie import ordered_trie_root


def hexary_root(values: list[bytes]) -> bytes:
    trie = HexaryTrie({})
    for index, value in enumerate(values):
        trie[rlp.encode(index)] = value
    return trie.root_hash


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=120), max_size=300))
def test_root_matches_hexary_trie(values: list[bytes]) -> None:
    assert ordered_trie_root(values) == hexary_root(values)


def test_sizes_around_nibble_boundaries() -> None:
    for count in (1, 2, 15, 16, 17, 127, 128, 129, 255, 256, 257, 1_000):
        values = [bytes([i % 251]) * (1 + i % 40) for i in range(count)]
        assert ordered_trie_root(values) == hexary_root(values), count


def test_empty_is_blank_root() -> None:
    assert ordered_trie_root([]) == BLANK_ROOT_HASH
