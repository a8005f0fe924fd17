"""Snapshot of a ledger at one finalized height, as a stream of msgpack records.

The stream holds, in this order (one msgpack array per record):

1. ``["kura-shelter-snapshot", 1, info]``: chain id, height, block hash,
   state root and the genesis document (JSON text, as the store keeps it);
2. ``["block", number, header_rlp, body_rlp, receipts_rlp]`` for every
   block from 0 to the height, values exactly as the store keeps them;
3. ``["state", [value, ...]]``: every trie node reachable from the state
   root at the height (account trie and storage tries) and every contract
   code, in depth-first order, in batches. Keys are not stored because each
   is Keccak-256 of its value, so the importer recomputes them;
4. ``["end", {"blocks": count, "state_entries": count}]``.

Each record depends only on the ledger up to the height, so two nodes with
the same chain write the same bytes. Records stream: memory stays bounded
by one block and one state batch, whatever the ledger size.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import msgpack
import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3

from node.shelter import errors
from node.shelter.errors import ShelterRejected
from node.shelter.trie import RLPFormatError, list_items
from node.store import schema
from node.store.backend import KeyValueBackend

SNAPSHOT_MAGIC = "kura-shelter-snapshot"
SNAPSHOT_VERSION = 1
#: Trie nodes per "state" record; about 0.5 MiB of typical nodes.
STATE_BATCH = 4096


@dataclass(frozen=True)
class SnapshotInfo:
    chain_id: int
    height: int
    block_hash: bytes
    state_root: bytes
    genesis: str

    def to_record(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "height": self.height,
            "block_hash": self.block_hash,
            "state_root": self.state_root,
            "genesis": self.genesis,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SnapshotInfo:
        return cls(record["chain_id"], record["height"], record["block_hash"], record["state_root"], record["genesis"])


#: Kinds of state entry that a trie node refers to.
ACCOUNT_NODE = 0
STORAGE_NODE = 1
CODE = 2


def walk_state(get: Callable[[bytes], bytes | None], state_root: bytes) -> Iterator[bytes]:
    """Yield every stored trie node and contract code reachable from ``state_root``, depth first.

    ``get`` reads a value by its Keccak-256 key. Nodes shorter than 32 bytes
    are embedded in their parent and not stored separately, as in py-trie.
    Every entry comes after an entry (or the root) that refers to it, which
    :class:`node.shelter.importer.SnapshotImporter` relies on.
    Raises ShelterRejected(snapshot_invalid) when a reachable node is missing.
    """
    seen: set[bytes] = set()
    pending: list[tuple[bytes, int]] = [] if state_root == BLANK_ROOT_HASH else [(state_root, ACCOUNT_NODE)]
    while pending:
        node_hash, kind = pending.pop()
        if node_hash in seen:
            continue
        seen.add(node_hash)
        raw = _get_required(get, node_hash, "trie node")
        yield raw
        for reference, reference_kind in trie_references(raw, kind):
            if reference_kind != CODE:
                pending.append((reference, reference_kind))
            elif reference not in seen:
                seen.add(reference)
                yield _get_required(get, reference, "contract code")


def _get_required(get: Callable[[bytes], bytes | None], key: bytes, what: str) -> bytes:
    value = get(key)
    if value is None:
        raise ShelterRejected(errors.SNAPSHOT_INVALID, f"{what} 0x{key.hex()} reachable from the state root is missing")
    return value


def trie_references(raw: bytes, kind: int) -> list[tuple[bytes, int]]:
    """The stored entries that trie node ``raw`` refers to, each with its kind, in the node's order.

    ``kind`` names the trie the node belongs to. Hashed children keep it;
    an account leaf adds its storage root (STORAGE_NODE) and code hash
    (CODE) unless they are empty. Raises ShelterRejected(snapshot_invalid)
    if ``raw`` is not an RLP trie node.
    """
    references: list[tuple[bytes, int]] = []
    try:
        _node_references(raw, kind, references)
    except (ValueError, IndexError) as error:
        raise ShelterRejected(errors.SNAPSHOT_INVALID, f"a state trie node is not valid RLP: {error}") from None
    return references


def _node_references(raw: bytes, kind: int, references: list[tuple[bytes, int]]) -> None:
    items = list_items(raw)
    if len(items) == 17:
        children = items[:16]
        value = items[16]
    elif len(items) == 2:
        # Hex-prefix encoding: a first nibble of 2 or 3 marks a leaf, 0 or 1 an extension.
        if items[0][0] >> 4 >= 2:
            children, value = [], items[1]
        else:
            children, value = [items[1]], b""
    else:
        raise RLPFormatError(f"a trie node has 2 or 17 items, got {len(items)}")

    for child in children:
        # list_items returns an embedded node whole (it starts with a list prefix) and a hash as its 32 bytes.
        if len(child) == 32:
            references.append((child, kind))
        elif child and child[0] >= 0xC0:
            _node_references(child, kind, references)
    if value and kind == ACCOUNT_NODE:
        _nonce, _balance, storage_root, code_hash = list_items(value)
        if storage_root != BLANK_ROOT_HASH:
            references.append((storage_root, STORAGE_NODE))
        if code_hash != EMPTY_SHA3:
            references.append((code_hash, CODE))


def write_snapshot(backend: KeyValueBackend, height: int, emit: Callable[[bytes], None]) -> SnapshotInfo:
    """Serialize the ledger at canonical ``height`` and pass each packed record to ``emit``."""
    packer = msgpack.Packer(use_bin_type=True)
    genesis_raw = backend.get(schema.meta_key("genesis"))
    block_hash = backend.get(schema.canonical_key(height))
    if genesis_raw is None or block_hash is None:
        raise ShelterRejected(errors.SNAPSHOT_INVALID, f"the store has no genesis or no canonical block {height}")
    header = rlp.decode(_require(backend, schema.header_key(block_hash)))
    # Header field 3 is the state root (parent, uncles, coinbase, state root, ...).
    state_root = header[3]
    genesis = genesis_raw.decode()
    chain_id = int(json.loads(genesis)["config"]["chainId"])
    info = SnapshotInfo(chain_id, height, block_hash, state_root, genesis)
    emit(packer.pack([SNAPSHOT_MAGIC, SNAPSHOT_VERSION, info.to_record()]))

    for number in range(height + 1):
        number_hash = _require(backend, schema.canonical_key(number))
        emit(
            packer.pack(
                [
                    "block",
                    number,
                    _require(backend, schema.header_key(number_hash)),
                    _require(backend, schema.body_key(number_hash)),
                    _require(backend, schema.receipts_key(number_hash)),
                ]
            )
        )

    prefix = schema.state_prefix()
    batch: list[bytes] = []
    entries = 0
    for value in walk_state(lambda key: backend.get(prefix + key), state_root):
        batch.append(value)
        if len(batch) == STATE_BATCH:
            emit(packer.pack(["state", batch]))
            entries += len(batch)
            batch = []
    if batch:
        emit(packer.pack(["state", batch]))
        entries += len(batch)
    emit(packer.pack(["end", {"blocks": height + 1, "state_entries": entries}]))
    return info


def _require(backend: KeyValueBackend, key: bytes) -> bytes:
    value = backend.get(key)
    if value is None:
        raise ShelterRejected(errors.SNAPSHOT_INVALID, f"store key 0x{key.hex()} is missing")
    return value
