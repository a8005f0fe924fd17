"""Process-wide caches under py-evm: decoded trie nodes and JUMPDEST analysis.

Both cache facts that never change: a trie node's content is fixed by its
hash, and which positions of a contract's code are valid jump targets is
fixed by the code. py-evm recomputes both for every state object and every
call frame; with the caches, an ``eth_call`` or a block reuses the work of
the ones before it.

NOTE: both hook into internals of py-evm 0.12.1b1 and trie 4.0.0
(``HexaryTrie.get_node`` and ``CodeStream``), which the project pins. A
version bump must re-check them; the chain and trie tests exercise both.
"""

from __future__ import annotations

from typing import Any

from eth.vm.code_stream import CodeStream
from trie.constants import BLANK_NODE, BLANK_NODE_HASH
from trie.hexary import HexaryTrie
from trie.utils.nodes import decode_node

#: Decoded trie nodes kept, by node hash; the whole cache is dropped when full.
MAX_TRIE_NODES = 100_000
#: Contracts whose jump analysis is kept; the whole cache is dropped when full.
MAX_CODES = 2_048

_nodes: dict[bytes, Any] = {}
_jump_targets: dict[bytes, tuple[set[int], set[int]]] = {}
_installed = False


def _copy(node: list[Any]) -> list[Any]:
    # HexaryTrie updates the lists it gets from get_node in place, so every
    # caller gets its own copy of the cached node.
    return [item if isinstance(item, bytes) else _copy(item) for item in node]


def read_node(db: Any, node_hash: bytes) -> Any:
    """Return the decoded node stored in ``db`` under ``node_hash``, through the cache.

    The result is shared with other callers, so a caller must not modify it.
    """
    node = _nodes.get(node_hash)
    if node is None:
        node = decode_node(db[node_hash])
        if len(_nodes) >= MAX_TRIE_NODES:
            _nodes.clear()
        _nodes[node_hash] = node
    return node


def _get_node(self: HexaryTrie, node_hash: Any) -> Any:
    if node_hash == BLANK_NODE or node_hash == BLANK_NODE_HASH:
        return BLANK_NODE
    if len(node_hash) < 32:
        return decode_node(node_hash)
    node = read_node(self.db, node_hash)
    return _copy(node) if isinstance(node, list) else node


_original_code_stream_init = CodeStream.__init__


def _code_stream_init(self: CodeStream, code_bytes: bytes) -> None:
    _original_code_stream_init(self, code_bytes)
    key = bytes(code_bytes)
    shared = _jump_targets.get(key)
    if shared is None:
        if len(_jump_targets) >= MAX_CODES:
            _jump_targets.clear()
        shared = (set(), set())
        _jump_targets[key] = shared
    # The sets only ever gain positions whose validity follows from the code.
    self.valid_positions, self.invalid_positions = shared


def install() -> None:
    """Hook the caches into py-evm; safe to call more than once."""
    global _installed
    if _installed:
        return
    HexaryTrie.get_node = _get_node  # type: ignore[method-assign]
    CodeStream.__init__ = _code_stream_init  # type: ignore[method-assign]
    _installed = True
