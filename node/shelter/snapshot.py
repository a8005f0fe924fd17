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


def walk_state(get: Callable[[bytes], bytes | None], state_root: bytes) -> Iterator[bytes]:
    """Yield every stored trie node and contract code reachable from ``state_root``, depth first.

    ``get`` reads a value by its Keccak-256 key. Nodes shorter than 32 bytes
    are embedded in their parent and not stored separately, as in py-trie.
    Raises ShelterRejected(snapshot_invalid) when a reachable node is missing.
    """
    seen: set[bytes] = set()
    pending: list[tuple[bytes, bool]] = [] if state_root == BLANK_ROOT_HASH else [(state_root, True)]
    while pending:
        node_hash, is_account_trie = pending.pop()
        if node_hash in seen:
            continue
        seen.add(node_hash)
        raw = _get_required(get, node_hash, "trie node")
        yield raw
        for leaf in _walk_node(rlp.decode(raw), pending, is_account_trie):
            if not is_account_trie:
                continue
            _nonce, _balance, storage_root, code_hash = rlp.decode(leaf)
            if storage_root != BLANK_ROOT_HASH:
                pending.append((storage_root, False))
            if code_hash != EMPTY_SHA3 and code_hash not in seen:
                seen.add(code_hash)
                yield _get_required(get, code_hash, "contract code")


def _get_required(get: Callable[[bytes], bytes | None], key: bytes, what: str) -> bytes:
    value = get(key)
    if value is None:
        raise ShelterRejected(errors.SNAPSHOT_INVALID, f"{what} 0x{key.hex()} reachable from the state root is missing")
    return value


def _walk_node(node: Any, pending: list[tuple[bytes, bool]], is_account_trie: bool) -> Iterator[bytes]:
    """Queue the hashed children of a decoded node, recurse into embedded ones, yield leaf values."""
    if len(node) == 17:
        for child in node[:16]:
            yield from _walk_child(child, pending, is_account_trie)
        if node[16]:
            yield node[16]
    elif len(node) == 2:
        # Hex-prefix encoding: a first nibble of 2 or 3 marks a leaf, 0 or 1 an extension.
        if node[0][0] >> 4 >= 2:
            yield node[1]
        else:
            yield from _walk_child(node[1], pending, is_account_trie)


def _walk_child(child: Any, pending: list[tuple[bytes, bool]], is_account_trie: bool) -> Iterator[bytes]:
    if isinstance(child, list):
        yield from _walk_node(child, pending, is_account_trie)
    elif len(child) == 32:
        pending.append((child, is_account_trie))


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
