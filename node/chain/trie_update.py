"""Apply many key changes to a stored Merkle-Patricia trie in one pass.

py-evm writes a block's storage changes into an account's storage trie one
key at a time through ``HexaryTrie``: each insert re-encodes and re-hashes
every node on its path, and prunes the nodes the previous insert made. A
block of token transfers changes hundreds of slots of one contract, so the
upper nodes are rebuilt hundreds of times. :func:`update_trie` walks the
trie once with all changes sorted, rebuilds each touched node once, and
hashes it once.

A trie's root depends only on its contents, so the result equals
``HexaryTrie``'s for the same changes; the tests compare the two on random
tries. :class:`BatchedStorageLookup` puts this under py-evm's account
storage (see :func:`install`).

NOTE: :class:`BatchedStorageLookup` replaces ``eth.db.storage.StorageLookup``
of py-evm 0.12.1b1, which the project pins, and keeps its interface
(``has_changed_root``, ``get_changed_root``, ``commit_to``, ``new_trie``,
``rollback_trie``). A version bump must re-check it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import rlp
from eth.constants import BLANK_ROOT_HASH
from eth.db import storage as evm_storage
from eth.db.backends.base import BaseDB
from eth_hash.auto import keccak
from eth_typing import Address, Hash32
from eth_utils import ValidationError
from trie import HexaryTrie

from node.chain.evm_caches import read_node
from node.chain.trie import build_subtrie, hex_prefix, nibbles_of

#: A decoded trie node: ``b""`` (blank), ``[path, value_or_child]`` or a 17-item branch.
Node = Any
#: A change: the key's nibbles below the current node, and the new value (None deletes).
Change = tuple[tuple[int, ...], bytes | None]

BLANK: bytes = b""
#: py-evm's own class, kept for comparison in the tests.
PY_EVM_STORAGE_LOOKUP = evm_storage.StorageLookup
_installed = False


def _decode_path(encoded: bytes) -> tuple[tuple[int, ...], bool]:
    """Return the nibbles and the leaf flag of a hex-prefix encoded path."""
    flag = encoded[0] >> 4
    nibbles = nibbles_of(encoded[1:])
    if flag & 1:
        nibbles = (encoded[0] & 0x0F, *nibbles)
    return nibbles, flag >= 2


class _TrieWriter:
    """A bottom-up rebuilder of trie nodes, which collects every new hashed node in ``written``."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.written: dict[bytes, bytes] = {}

    def resolve(self, reference: Node) -> Node:
        if reference == BLANK or isinstance(reference, list):
            return reference
        return read_node(self.db, reference)

    def reference(self, node: Node) -> Node:
        """Return how a parent refers to ``node``: inline below 32 encoded bytes, else by hash."""
        if node == BLANK:
            return BLANK
        encoded = rlp.encode(node)
        if len(encoded) < 32:
            return node
        node_hash = keccak(encoded)
        self.written[node_hash] = encoded
        return node_hash

    def update(self, node: Node, changes: list[Change]) -> Node:
        if node == BLANK:
            return self.build([(path, value) for path, value in changes if value is not None])
        if len(node) == 2:
            path, is_leaf = _decode_path(node[0])
            if is_leaf:
                merged: dict[tuple[int, ...], bytes | None] = {path: node[1]}
                merged.update(changes)
                return self.build(sorted((key, value) for key, value in merged.items() if value is not None))
            return self._update_extension(path, node[1], changes)
        return self._update_branch(node, changes)

    def _update_extension(self, path: tuple[int, ...], child: Node, changes: list[Change]) -> Node:
        size = len(path)
        if all(key[:size] == path for key, _ in changes):
            updated = self.update(self.resolve(child), [(key[size:], value) for key, value in changes])
            return self.prefixed(path, updated)
        # Some change leaves the shared path: continue from the equivalent
        # branch, whose one child is the rest of the extension. That child is
        # a new node, kept decoded: it is not in the database to resolve.
        branch: list[Node] = [BLANK] * 17
        rest = path[1:]
        branch[path[0]] = child if not rest else [hex_prefix(rest, leaf=False), child]
        return self._update_branch(branch, changes)

    def _update_branch(self, branch: list[Node], changes: list[Change]) -> Node:
        children = list(branch)
        updated: dict[int, Node] = {}
        start = 0
        while start < len(changes):
            key, value = changes[start]
            if not key:
                children[16] = BLANK if value is None else value
                start += 1
                continue
            nibble = key[0]
            end = start + 1
            while end < len(changes) and changes[end][0][:1] == (nibble,):
                end += 1
            group = [(path[1:], new) for path, new in changes[start:end]]
            updated[nibble] = self.update(self.resolve(children[nibble]), group)
            start = end

        live = [i for i in range(16) if (updated[i] if i in updated else children[i]) != BLANK]
        value = children[16]
        if not live:
            return [hex_prefix((), leaf=True), value] if value != BLANK else BLANK
        if len(live) == 1 and value == BLANK:
            only = live[0]
            child = updated[only] if only in updated else self.resolve(children[only])
            return self.prefixed((only,), child)
        for nibble in range(16):
            node = updated.get(nibble, children[nibble])
            # Decoded children (changed ones, and any node the caller built)
            # become references; hashes of unchanged children stay as they are.
            if nibble in updated or isinstance(node, list):
                children[nibble] = self.reference(node)
        return children

    def prefixed(self, prefix: tuple[int, ...], node: Node) -> Node:
        """Return ``node`` as reached through ``prefix`` more nibbles, merged into its path when it has one."""
        if node == BLANK:
            return BLANK
        if len(node) == 2:
            path, is_leaf = _decode_path(node[0])
            return [hex_prefix(prefix + path, leaf=is_leaf), node[1]]
        return [hex_prefix(prefix, leaf=False), self.reference(node)]

    def build(self, items: list[tuple[tuple[int, ...], bytes]]) -> Node:
        """Build a new subtrie holding ``items`` (sorted, distinct keys)."""
        if not items:
            return BLANK
        return build_subtrie(items, 0, self.reference)


def update_trie(db: Any, root_hash: bytes, changes: Mapping[bytes, bytes | None]) -> tuple[bytes, dict[bytes, bytes]]:
    """Apply ``changes`` (key to new value, None to delete) to the trie at ``root_hash`` in ``db``.

    Returns the new root hash and the new nodes by hash; ``db`` is only read.
    The root node is always stored by hash, even when shorter than 32 bytes.
    """
    writer = _TrieWriter(db)
    root = BLANK if root_hash == BLANK_ROOT_HASH else writer.resolve(root_hash)
    node = writer.update(root, sorted((nibbles_of(key), value) for key, value in changes.items()))
    if node == BLANK:
        return BLANK_ROOT_HASH, writer.written
    encoded = rlp.encode(node)
    new_root = keccak(encoded)
    writer.written[new_root] = encoded
    return new_root, writer.written


class _Layered(BaseDB):
    """A read-only view that looks in ``top`` first, then in ``bottom``."""

    def __init__(self, top: Mapping[bytes, bytes], bottom: Any) -> None:
        self.top = top
        self.bottom = bottom

    def __getitem__(self, key: bytes) -> bytes:
        value = self.top.get(key)
        return value if value is not None else self.bottom[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        raise TypeError("read-only view")

    def __delitem__(self, key: bytes) -> None:
        raise TypeError("read-only view")

    def _exists(self, key: bytes) -> bool:
        return key in self.top or key in self.bottom

    def __iter__(self) -> Iterator[bytes]:
        raise TypeError("read-only view is not iterable")


class BatchedStorageLookup(evm_storage.StorageLookup):
    """py-evm's per-account storage trie, with writes applied in one :func:`update_trie` pass.

    Writes wait in ``_pending`` until the root is asked for or the trie is
    committed. Reads see pending writes first, then the trie at the last
    computed root (its new nodes in ``_new_nodes``, the rest in the database).
    """

    def __init__(self, db: Any, storage_root: Hash32, address: Address) -> None:
        self._db = db
        self._address = address
        self._initialize_to_root_hash(storage_root)

    def _initialize_to_root_hash(self, root_hash: Hash32) -> None:
        self._root = root_hash
        self._pending: dict[bytes, bytes | None] = {}
        #: New nodes since the last commit; None until the first write, as py-evm's "no write trie yet".
        self._new_nodes: dict[bytes, bytes] | None = None
        #: What :meth:`new_trie` replaced, for :meth:`rollback_trie`.
        self._saved_tries: list[tuple[dict[bytes, bytes | None], dict[bytes, bytes] | None, Hash32]] = []

    def _nodes(self) -> Any:
        """Return the database seen through the new nodes not yet committed."""
        return self._db if not self._new_nodes else _Layered(self._new_nodes, self._db)

    def _reader(self) -> HexaryTrie:
        return HexaryTrie(self._nodes(), root_hash=self._root)

    def __getitem__(self, key: bytes) -> bytes:
        hashed_slot = self._decode_key(key)
        if hashed_slot in self._pending:
            value = self._pending[hashed_slot]
            return BLANK if value is None else value
        return self._reader()[hashed_slot]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._write(self._decode_key(key), value)

    def __delitem__(self, key: bytes) -> None:
        self._write(self._decode_key(key), None)

    def _write(self, hashed_slot: bytes, value: bytes | None) -> None:
        if self._new_nodes is None:
            self._new_nodes = {}
        self._pending[hashed_slot] = value

    def _exists(self, key: bytes) -> bool:
        return self[key] != BLANK

    def _flush(self) -> None:
        if not self._pending:
            return
        assert self._new_nodes is not None
        new_root, written = update_trie(self._nodes(), self._root, self._pending)
        self._root = Hash32(new_root)
        self._new_nodes.update(written)
        self._pending = {}

    @property
    def has_changed_root(self) -> bool:
        return self._new_nodes is not None

    def get_changed_root(self) -> Hash32:
        if self._new_nodes is None:
            raise ValidationError("Asked for changed root when no writes have been made")
        self._flush()
        return self._root

    def commit_to(self, db: Any) -> None:
        if self._new_nodes is None:
            raise ValidationError(
                "It is invalid to commit an account's storage if it has no pending changes; "
                "check has_changed_root first"
            )
        self._flush()
        for node_hash, encoded in self._new_nodes.items():
            db[node_hash] = encoded
        self._initialize_to_root_hash(self._root)

    def new_trie(self) -> int:
        """Switch to an empty trie, keeping the current one for a revert; return its index."""
        self._saved_tries.append((self._pending, self._new_nodes, self._root))
        index = len(self._saved_tries)
        self._root = BLANK_ROOT_HASH
        self._pending = {}
        self._new_nodes = None
        return index

    def rollback_trie(self, trie_index: int) -> None:
        """Go back to the trie saved by the :meth:`new_trie` call that returned ``trie_index``.

        NOTE: no test compares this with py-evm's class. Under Prague, storage
        is wiped only as a transaction ends, so no block reverts across a wipe.
        """
        if trie_index >= len(self._saved_tries):
            raise ValidationError(
                f"Trying to roll back a delete to index {trie_index}, but there are "
                f"only {len(self._saved_tries)} indices available."
            )
        self._pending, self._new_nodes, self._root = self._saved_tries[trie_index]
        del self._saved_tries[trie_index:]


def install() -> None:
    """Make py-evm's account storage use :class:`BatchedStorageLookup`; safe to call more than once."""
    global _installed
    if _installed:
        return
    evm_storage.StorageLookup = BatchedStorageLookup  # type: ignore[misc]
    _installed = True
