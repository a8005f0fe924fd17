"""Every key the node writes, built in one place.

Each key starts with the schema version byte and a one-byte table tag, so a
data directory written by another schema is recognised on open instead of
being misread. Integers in keys are 8-byte big-endian, so LevelDB's byte
order is block order and range scans over a block range are prefix scans.
"""

from __future__ import annotations

SCHEMA_VERSION = 1
_V = bytes([SCHEMA_VERSION])

# Table tags.
_META = b"m"
_STATE = b"s"
_HEADER = b"h"
_BODY = b"b"
_RECEIPTS = b"r"
_CANONICAL = b"n"
_NUMBER = b"N"
_TX_LOOKUP = b"t"
_LOG_ADDRESS = b"a"
_LOG_TOPIC = b"o"

#: Key of the schema version record; written once by ``kura init``.
SCHEMA_KEY = b"kura-schema-version"


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def meta_key(name: str) -> bytes:
    """Key of a named metadata record (``head``, ``genesis``, ``config``)."""
    return _V + _META + name.encode("ascii")


def state_prefix() -> bytes:
    """Prefix under which trie nodes and contract code live, by their hash."""
    return _V + _STATE


def header_key(block_hash: bytes) -> bytes:
    return _V + _HEADER + block_hash


def body_key(block_hash: bytes) -> bytes:
    return _V + _BODY + block_hash


def receipts_key(block_hash: bytes) -> bytes:
    return _V + _RECEIPTS + block_hash


def canonical_key(number: int) -> bytes:
    """Key mapping a block number to the canonical block hash."""
    return _V + _CANONICAL + _u64(number)


def number_key(block_hash: bytes) -> bytes:
    """Key mapping a block hash to its number."""
    return _V + _NUMBER + block_hash


def tx_lookup_key(tx_hash: bytes) -> bytes:
    """Key mapping a transaction hash to (block number, index in block)."""
    return _V + _TX_LOOKUP + tx_hash


def log_address_key(address: bytes, number: int) -> bytes:
    """Marker: block ``number`` has at least one log emitted by ``address``."""
    return _V + _LOG_ADDRESS + address + _u64(number)


def log_address_prefix(address: bytes) -> bytes:
    return _V + _LOG_ADDRESS + address


def log_topic_key(topic: bytes, number: int) -> bytes:
    """Marker: block ``number`` has at least one log carrying ``topic``."""
    return _V + _LOG_TOPIC + topic + _u64(number)


def log_topic_prefix(topic: bytes) -> bytes:
    return _V + _LOG_TOPIC + topic


def number_from_index_key(key: bytes) -> int:
    """Block number at the end of a log index key."""
    return int.from_bytes(key[-8:], "big")
