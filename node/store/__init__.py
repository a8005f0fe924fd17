"""Storage: the key schema, the LevelDB and in-memory backends, block overlays."""

from node.store.backend import KeyValueBackend, LevelDBBackend, MemoryBackend
from node.store.overlay import StateOverlay

__all__ = ["KeyValueBackend", "LevelDBBackend", "MemoryBackend", "StateOverlay"]
