"""Key-value backends: LevelDB through plyvel, and a dict for tests.

Both backends offer the same small surface: point reads, prefix scans and
one atomic batch write. Nothing else writes to the store, so a block is
either wholly on disk or not at all.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Protocol

import plyvel
from trie.hexary import HexaryTrie

from node.errors import StoreError


def release_trie_caches() -> None:
    """Drop py-evm's class-wide trie node cache.

    ``HexaryTrie`` memoises node encodings in an ``lru_cache`` keyed by the
    trie instance, so the cache keeps every overlay it saw alive (memory
    grows with each block) and, at interpreter exit, it outlives the
    LevelDB handle, whose late destruction makes the exit raise.
    """
    HexaryTrie._cached_create_node_to_db_mapping.cache_clear()


# Runs before module teardown, so no LevelDB handle is reached from the
# trie cache when the interpreter destroys objects at exit.
atexit.register(release_trie_caches)


class KeyValueBackend(Protocol):
    """The storage contract the chain relies on."""

    def get(self, key: bytes) -> bytes | None:
        """Return the value under ``key``, or None."""

    def write_batch(self, puts: Mapping[bytes, bytes], deletes: tuple[bytes, ...] = ()) -> None:
        """Apply every put and delete atomically and durably, or none of them."""

    def iterate(self, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Yield (key, value) for start <= key < stop, in key order."""

    def close(self) -> None:
        """Release the store; later calls are invalid."""


class LevelDBBackend:
    """LevelDB on disk. One process may open a data directory at a time."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        self.path = os.fspath(path)
        if create:
            os.makedirs(self.path, exist_ok=True)
        try:
            self._db = plyvel.DB(self.path, create_if_missing=create)
        except plyvel.IOError as error:
            raise StoreError(
                f"cannot open the store at {self.path}: {error}. "
                "Another kura process may be using this data directory; stop it first."
            ) from error
        except plyvel.Error as error:
            raise StoreError(f"cannot open the store at {self.path}: {error}. Run 'kura init' to create it.") from error

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def write_batch(self, puts: Mapping[bytes, bytes], deletes: tuple[bytes, ...] = ()) -> None:
        # sync=True: the batch is on stable storage before the call returns,
        # so a receipt served after this point survives a crash or power loss.
        with self._db.write_batch(sync=True) as batch:
            for key, value in puts.items():
                batch.put(key, value)
            for key in deletes:
                batch.delete(key)

    def iterate(self, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]:
        yield from self._db.iterator(start=start, stop=stop)

    def close(self) -> None:
        release_trie_caches()
        if not self._db.closed:
            self._db.close()


class MemoryBackend:
    """A dict behind the same interface, for unit tests."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def write_batch(self, puts: Mapping[bytes, bytes], deletes: tuple[bytes, ...] = ()) -> None:
        with self._lock:
            self._data.update(puts)
            for key in deletes:
                self._data.pop(key, None)

    def iterate(self, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]:
        with self._lock:
            keys = sorted(k for k in self._data if start <= k < stop)
        for key in keys:
            yield key, self._data[key]

    def close(self) -> None:
        self._data = {}
