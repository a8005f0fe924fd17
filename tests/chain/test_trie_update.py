"""The one-pass trie update and the batched storage lookup agree with py-evm's HexaryTrie."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eth.constants import BLANK_ROOT_HASH
from eth.db import storage as evm_storage
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from node.chain import trie_update
from node.chain.trie_update import BatchedStorageLookup, update_trie
from tests.support.chains import new_chain, open_backend

#: Short keys of mixed length give extension nodes, inline nodes and keys that prefix others.
short_keys = st.binary(min_size=1, max_size=4)
hashed_keys = st.binary(min_size=32, max_size=32)
values = st.binary(min_size=1, max_size=40)


def build(items: dict[bytes, bytes]) -> tuple[dict[bytes, bytes], bytes]:
    db: dict[bytes, bytes] = {}
    trie = HexaryTrie(db)
    for key, value in items.items():
        trie[key] = value
    return db, trie.root_hash


def check_update(initial: dict[bytes, bytes], changes: dict[bytes, bytes | None]) -> None:
    db, root = build(initial)
    expected = HexaryTrie(dict(db), root_hash=root)
    for key, value in changes.items():
        if value is None:
            del expected[key]
        else:
            expected[key] = value

    new_root, written = update_trie(db, root, changes)
    assert new_root == expected.root_hash

    # Every node of the new trie is in the old store or among the written ones.
    # Deleted keys are covered by the root: HexaryTrie cannot look up a key
    # that ends inside an extension node, so they are not read back.
    merged = HexaryTrie({**db, **written}, root_hash=new_root)
    final = {**initial, **changes}
    for key, value in final.items():
        if value is not None:
            assert merged[key] == value


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(short_keys, values, max_size=40),
    st.dictionaries(short_keys, st.none() | values, max_size=40),
)
def test_update_short_keys(initial: dict[bytes, bytes], changes: dict[bytes, bytes | None]) -> None:
    check_update(initial, changes)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(hashed_keys, values, max_size=200), st.data())
def test_update_hashed_keys(initial: dict[bytes, bytes], data: st.DataObject) -> None:
    existing = sorted(initial)
    touched = data.draw(st.lists(st.sampled_from(existing), unique=True) if existing else st.just([]))
    changes: dict[bytes, bytes | None] = {key: data.draw(st.none() | values) for key in touched}
    changes.update(data.draw(st.dictionaries(hashed_keys, values, max_size=60)))
    check_update(initial, changes)


def test_update_block_sized_batch() -> None:
    from eth_hash.auto import keccak

    initial = {keccak(b"slot-%d" % i): b"value-%d" % i for i in range(3_000)}
    keys = sorted(initial)
    changes: dict[bytes, bytes | None] = {key: b"changed" for key in keys[::7]}
    changes.update(dict.fromkeys(keys[3::11]))
    changes.update({keccak(b"new-%d" % i): b"new" for i in range(300)})
    check_update(initial, changes)


def test_update_splits_hashed_extension() -> None:
    # Two keys sharing "11" under the root make a two-nibble extension node;
    # a key that shares only the first nibble splits it into a branch.
    value = b"v" * 40
    initial = {bytes.fromhex("11aa") + bytes(30): value, bytes.fromhex("11bb") + bytes(30): value}
    check_update(initial, {bytes.fromhex("12cc") + bytes(30): value})
    check_update(initial, {bytes.fromhex("1fcc") + bytes(30): None})
    check_update(initial, {bytes.fromhex("11aa") + bytes(30): None, bytes.fromhex("1acc") + bytes(30): None})


#: Keys from a three-letter alphabet often share prefixes, so extension nodes are common.
#: Long values keep the nodes over 32 bytes, so they are stored by hash, not inline.
prefix_keys = st.lists(st.sampled_from([0x11, 0x12, 0x21]), min_size=1, max_size=4).map(bytes)
long_values = st.binary(min_size=33, max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(prefix_keys, long_values, max_size=30),
    st.dictionaries(prefix_keys, st.none() | long_values, max_size=30),
)
def test_update_shared_prefix_keys(initial: dict[bytes, bytes], changes: dict[bytes, bytes | None]) -> None:
    check_update(initial, changes)


def test_update_delete_all_blank_root() -> None:
    initial = {bytes([i]) * 32: b"v" for i in range(20)}
    db, root = build(initial)
    new_root, written = update_trie(db, root, dict.fromkeys(initial))
    assert new_root == BLANK_ROOT_HASH
    assert written == {}


def test_update_no_changes_same_root() -> None:
    db, root = build({b"\x01" * 32: b"a", b"\x02" * 32: b"b"})
    assert update_trie(db, root, {})[0] == root


# Whole account storage, through py-evm's state: the same operations with py-evm's
# StorageLookup and with BatchedStorageLookup must read the same values and end
# on the same state root.

CONTRACTS = [bytes([0xC0, i]) + bytes(18) for i in range(2)]
operations = st.lists(
    st.tuples(
        st.sampled_from(["set", "set", "set", "clear", "snapshot", "revert", "lock", "root", "wipe"]),
        st.integers(0, 1),
        st.integers(0, 40),
        st.integers(1, 2**256 - 1),
    ),
    max_size=120,
)


@contextmanager
def storage_lookup(lookup: type) -> Iterator[None]:
    saved = evm_storage.StorageLookup
    evm_storage.StorageLookup = lookup  # type: ignore[misc]
    try:
        yield
    finally:
        evm_storage.StorageLookup = saved  # type: ignore[misc]


def run_operations(
    lookup: type, ops: list[tuple[str, int, int, int]], tmp_path: Path
) -> tuple[list[int], bytes, list[int]]:
    with storage_lookup(lookup):
        chain = new_chain(open_backend("memory", tmp_path))
        state = chain.state_at(chain.head)
        for address in CONTRACTS:
            state.set_code(address, b"\x00")
            state.set_storage(address, 999, 1)
        state.persist()
        reads: list[int] = []
        snapshots = []
        for name, contract, slot, value in ops:
            address = CONTRACTS[contract]
            if name == "set":
                state.set_storage(address, slot, value)
            elif name == "clear":
                state.set_storage(address, slot, 0)
            elif name == "snapshot":
                snapshots.append(state.snapshot())
            elif name == "revert" and snapshots:
                state.revert(snapshots.pop())
            elif name == "lock":
                state.lock_changes()
                snapshots.clear()
            elif name == "root":
                state.lock_changes()
                snapshots.clear()
                state.make_state_root()
            elif name == "wipe":
                # Execution wipes storage only while it finalises a transaction
                # (self-destruct, empty-account clearing). No later revert can
                # reach back past that, so the test locks the changes at once.
                state.delete_storage(address)
                state.lock_changes()
                snapshots.clear()
            reads.append(state.get_storage(address, slot))
        state.lock_changes()
        state.persist()
        final = [state.get_storage(address, slot) for address in CONTRACTS for slot in (*range(41), 999)]
        return reads, state.state_root, final


@settings(max_examples=150, deadline=None)
@given(operations)
def test_storage_lookup_matches_py_evm(tmp_path_factory, ops: list[tuple[str, int, int, int]]) -> None:
    tmp_path = tmp_path_factory.mktemp("storage")
    original = run_operations(trie_update.PY_EVM_STORAGE_LOOKUP, ops, tmp_path)
    batched = run_operations(BatchedStorageLookup, ops, tmp_path)
    assert batched == original
