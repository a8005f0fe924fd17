"""A write overlay that py-evm's state code uses as its database.

Executing a block writes trie nodes and code into the overlay, never into
the store. The chain then commits the overlay's writes together with the
block's header, body, receipts and indexes in one atomic batch, or drops
them if the block is rejected. Reads fall through to the committed store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eth.abc import AtomicWriteBatchAPI
from eth.db.atomic import AtomicDBWriteBatch
from eth.db.backends.base import BaseAtomicDB

from node.store import schema
from node.store.backend import KeyValueBackend


class StateOverlay(BaseAtomicDB):
    """State keys (node hashes, code hashes) over the ``s`` table of a backend."""

    def __init__(self, backend: KeyValueBackend) -> None:
        self._backend = backend
        self._prefix = schema.state_prefix()
        self.writes: dict[bytes, bytes] = {}

    def __getitem__(self, key: bytes) -> bytes:
        value = self.writes.get(key)
        if value is not None:
            return value
        value = self._backend.get(self._prefix + key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value

    def __delitem__(self, key: bytes) -> None:
        # Trie nodes are content-addressed and shared between blocks, so
        # the node never deletes them. py-evm deletes only when pruning,
        # which the node does not enable.
        raise NotImplementedError("the state store keeps every trie node")

    def _exists(self, key: bytes) -> bool:
        return key in self.writes or self._backend.get(self._prefix + key) is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        with AtomicDBWriteBatch._commit_unless_raises(self) as batch:
            yield batch

    def prefixed_writes(self) -> dict[bytes, bytes]:
        """The overlay's writes keyed as they go into the store."""
        prefix = self._prefix
        return {prefix + key: value for key, value in self.writes.items()}
