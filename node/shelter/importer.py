"""Import a snapshot stream into an empty store, checking it as it goes.

Checks, in order: block 0 equals the genesis block that the snapshot's
genesis document builds; every later header names its predecessor as
parent, carries a proposer seal and a quorum of commit seals by the
validators of its parent (node.consensus.seals.verify_seals with
ValidatorTracker), and matches its body and receipts (transaction and
receipt roots); the last block is the snapshot's block; and the state
entries are exactly the trie nodes and code reachable from its state root,
each stored under its own Keccak-256 hash, so the imported state is the
sealed one. The state check runs as entries arrive (:class:`_StateCheck`),
so the store is never read back.

The head pointer moves to the snapshot's block only after all checks
pass. A caller imports into a scratch directory and renames it into place,
because the genesis written first would otherwise look like a usable store.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from typing import Any

import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_hash.auto import keccak

from node.chain.chain import initialize_store
from node.chain.genesis import parse_genesis
from node.chain.header import KuraHeader
from node.consensus.seals import verify_seals
from node.consensus.validators import ValidatorTracker
from node.errors import BlockValidationError
from node.shelter import errors
from node.shelter.errors import ShelterRejected
from node.shelter.snapshot import ACCOUNT_NODE, CODE, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SnapshotInfo, trie_references
from node.shelter.trie import RLPFormatError, encode_bytes, encode_list, list_items, ordered_trie_root
from node.store import schema
from node.store.backend import KeyValueBackend

logger = logging.getLogger(__name__)

#: Bytes of puts gathered before one write batch.
BATCH_BYTES = 32 * 1024 * 1024


def _encoded_items(number: int, what: str, raw_list: bytes) -> list[bytes]:
    """Consensus encodings of a body's transactions or a block's receipts.

    Typed items are stored as byte strings (type byte + RLP payload), legacy
    ones as RLP lists; the trie and the hashes use the encoded bytes.
    """
    try:
        return list_items(raw_list)
    except (RLPFormatError, IndexError) as error:
        raise ShelterRejected(errors.SNAPSHOT_INVALID, f"block {number}: the {what} are not an RLP list: {error}") from None


def _receipt_logs(encoded: bytes) -> list[tuple[bytes, list[bytes]]]:
    """Extract the (address, topics) of each log of a receipt in consensus encoding."""
    payload = encoded[1:] if encoded[0] < 0x80 else encoded
    # A receipt is [status, cumulative gas, bloom, logs], and a log is [address, topics, data].
    logs = []
    for log in list_items(list_items(payload)[3]):
        address, topics, _data = list_items(log)
        logs.append((address, list_items(topics)))
    return logs


def _quantity(value: int) -> bytes:
    return encode_bytes(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class _Writer:
    """Gathers puts into batches of BATCH_BYTES and writes each batch on a background thread.

    plyvel releases the GIL while LevelDB writes, so the write of one batch
    overlaps the checks that fill the next. At most one write runs at a time.
    """

    def __init__(self, backend: KeyValueBackend) -> None:
        self.backend = backend
        self.puts: dict[bytes, bytes] = {}
        self.size = 0
        self._writing: threading.Thread | None = None
        self._error: BaseException | None = None

    def put(self, key: bytes, value: bytes) -> None:
        self.puts[key] = value
        self.size += len(key) + len(value)
        if self.size >= BATCH_BYTES:
            self._start_write()

    def _start_write(self) -> None:
        batch = self.puts
        self.puts = {}
        self.size = 0
        self.wait()

        def write() -> None:
            try:
                self.backend.write_batch(batch)
            except BaseException as error:  # raised on the importer's thread by wait()
                self._error = error

        self._writing = threading.Thread(target=write, name="shelter-import-write", daemon=True)
        self._writing.start()

    def wait(self) -> None:
        """Wait for the write in progress; raise its error, if any."""
        if self._writing is not None:
            self._writing.join()
            self._writing = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def flush(self) -> None:
        """Write every put; when this returns, all of them are in the store."""
        if self.puts:
            self._start_write()
        self.wait()


class _StateCheck:
    """Checks state entries as they stream in: each must be referenced before it arrives, none may be missing.

    The snapshot writer (:func:`node.shelter.snapshot.walk_state`) emits
    every entry after the entry or root that refers to it. So an entry that
    no earlier entry refers to is unreachable from the state root, and a
    reference still open at the end is a missing entry. ``seen`` keeps every
    hash, like the writer's walk, so an entry that several tries share
    arrives once: about 100 bytes of memory per entry.
    """

    def __init__(self, state_root: bytes) -> None:
        self.expected: dict[bytes, int] = {} if state_root == BLANK_ROOT_HASH else {state_root: ACCOUNT_NODE}
        self.seen: set[bytes] = set()

    def add(self, key: bytes, value: bytes) -> None:
        kind = self.expected.pop(key, None)
        if kind is None:
            reason = "appears twice" if key in self.seen else "is not reachable from the state root through the entries before it"
            raise ShelterRejected(errors.STATE_ROOT_MISMATCH, f"state entry 0x{key.hex()} {reason}")
        self.seen.add(key)
        if kind == CODE:
            return
        for reference, reference_kind in trie_references(value, kind):
            if reference not in self.seen and reference not in self.expected:
                self.expected[reference] = reference_kind

    def finish(self, number: int) -> None:
        if self.expected:
            missing = next(iter(self.expected))
            raise ShelterRejected(
                errors.STATE_ROOT_MISMATCH,
                f"state at block {number}: {len(self.expected)} entries reachable from the state root are missing, "
                f"e.g. 0x{missing.hex()}",
            )


class SnapshotImporter:
    """Consumes snapshot records (decoded msgpack arrays) and writes them into ``backend``."""

    def __init__(self, backend: KeyValueBackend, *, expected: SnapshotInfo | None = None) -> None:
        self.backend = backend
        self.expected = expected
        self.writer = _Writer(backend)
        self.info: SnapshotInfo | None = None
        self.tracker: ValidatorTracker | None = None
        self.parent: KuraHeader | None = None
        self.blocks = 0
        self.state_entries = 0
        self.state_check: _StateCheck | None = None
        self.finished = False

    def close(self) -> None:
        """Wait for the store write in progress. Call it before closing the backend, also after an error."""
        try:
            self.writer.wait()
        except Exception as error:  # the caller is already handling the error that stopped the import
            logger.warning("snapshot import write failed after the import stopped error=%s", error)

    def feed(self, records: Iterable[Any]) -> None:
        for record in records:
            self._handle(record)

    def _handle(self, record: Any) -> None:
        if not isinstance(record, list) or not record:
            raise ShelterRejected(errors.SNAPSHOT_INVALID, "a snapshot record is not a non-empty array")
        kind = record[0]
        if self.finished:
            raise ShelterRejected(errors.SNAPSHOT_INVALID, f"record {kind!r} after the end record")
        if self.info is None:
            self._start(record)
        elif kind == "block":
            self._block(record[1], record[2], record[3], record[4])
        elif kind == "state":
            assert self.state_check is not None
            prefix = schema.state_prefix()
            for value in record[1]:
                key = keccak(value)
                self.state_check.add(key, value)
                self.writer.put(prefix + key, value)
            self.state_entries += len(record[1])
        elif kind == "end":
            self._end(record[1])
        else:
            raise ShelterRejected(errors.SNAPSHOT_INVALID, f"unknown snapshot record {kind!r}")

    def _start(self, record: list[Any]) -> None:
        if record[0] != SNAPSHOT_MAGIC or record[1] != SNAPSHOT_VERSION:
            raise ShelterRejected(
                errors.SNAPSHOT_INVALID,
                "the stream does not start with a version 1 snapshot header",
                got=record[:2],
                expected=[SNAPSHOT_MAGIC, SNAPSHOT_VERSION],
            )
        info = SnapshotInfo.from_record(record[2])
        if self.expected is not None and info != self.expected:
            raise ShelterRejected(
                errors.SNAPSHOT_INVALID,
                "the snapshot header differs from the manifest",
                got=(info.height, info.block_hash.hex()),
                expected=(self.expected.height, self.expected.block_hash.hex()),
            )
        self.info = info
        self.state_check = _StateCheck(info.state_root)
        genesis_header = initialize_store(self.backend, parse_genesis(json.loads(info.genesis)))
        self.tracker = ValidatorTracker(self._recent_header, genesis_header)
        self.parent = None

    def _recent_header(self, block_hash: bytes) -> KuraHeader | None:
        # The tracker asks only for the parent of the block being imported.
        parent = self.parent
        return parent if parent is not None and parent.hash == block_hash else None

    def _block(self, number: int, header_raw: bytes, body_raw: bytes, receipts_raw: bytes) -> None:
        assert self.tracker is not None
        header = rlp.decode(header_raw, sedes=KuraHeader)
        if header.block_number != number or number != self.blocks:
            raise ShelterRejected(errors.SNAPSHOT_INVALID, "blocks out of order", got=number, expected=self.blocks)

        if number == 0:
            genesis_hash = self.backend.get(schema.canonical_key(0))
            if header.hash != genesis_hash:
                raise ShelterRejected(
                    errors.SNAPSHOT_INVALID,
                    "block 0 is not the genesis block of the snapshot's genesis document",
                    got=header.hash.hex(),
                    expected=genesis_hash.hex() if genesis_hash else None,
                )
        else:
            assert self.parent is not None
            if header.parent_hash != self.parent.hash:
                raise ShelterRejected(
                    errors.SNAPSHOT_INVALID, f"block {number} does not follow block {number - 1}"
                )
            try:
                verify_seals(header, self.tracker.next_validators(self.parent))
            except BlockValidationError as error:
                raise ShelterRejected(errors.SEAL_INVALID, f"block {number}: {error.message}") from None
            self.tracker.snapshot(header)
        transactions = _encoded_items(number, "transactions", body_raw)
        receipts = _encoded_items(number, "receipts", receipts_raw)
        self._check_root(number, "transaction root", transactions, header.transaction_root)
        self._check_root(number, "receipt root", receipts, header.receipt_root)

        self._write_block(header, header_raw, body_raw, receipts_raw, transactions, receipts)
        self.parent = header
        self.blocks += 1

    @staticmethod
    def _check_root(number: int, what: str, items: list[bytes], expected: bytes) -> None:
        root = ordered_trie_root(items)
        if root != expected:
            raise ShelterRejected(
                errors.SNAPSHOT_INVALID, f"block {number}: {what} mismatch", got=root.hex(), expected=expected.hex()
            )

    def _write_block(
        self,
        header: KuraHeader,
        header_raw: bytes,
        body_raw: bytes,
        receipts_raw: bytes,
        transactions: list[bytes],
        receipts: list[bytes],
    ) -> None:
        # The same keys as ChainStore.commit_block writes; a test compares both stores key by key.
        block_hash = header.hash
        number = header.block_number
        put = self.writer.put
        put(schema.header_key(block_hash), header_raw)
        put(schema.body_key(block_hash), body_raw)
        put(schema.receipts_key(block_hash), receipts_raw)
        put(schema.canonical_key(number), block_hash)
        put(schema.number_key(block_hash), number.to_bytes(8, "big"))
        for index, encoded in enumerate(transactions):
            put(schema.tx_lookup_key(keccak(encoded)), encode_list(_quantity(number) + _quantity(index)))
        for encoded in receipts:
            for address, topics in _receipt_logs(encoded):
                put(schema.log_address_key(address, number), b"")
                for topic in topics:
                    put(schema.log_topic_key(topic.rjust(32, b"\x00"), number), b"")

    def _end(self, counts: dict[str, int]) -> None:
        info = self.info
        assert info is not None and self.parent is not None
        if counts.get("blocks") != self.blocks or counts.get("state_entries") != self.state_entries:
            raise ShelterRejected(
                errors.SNAPSHOT_INVALID,
                "the end record's counts differ from the records read",
                got=(self.blocks, self.state_entries),
                expected=(counts.get("blocks"), counts.get("state_entries")),
            )
        head = self.parent
        if head.hash != info.block_hash or head.state_root != info.state_root:
            raise ShelterRejected(
                errors.SNAPSHOT_INVALID,
                "the last block is not the snapshot's block",
                got=head.hash.hex(),
                expected=info.block_hash.hex(),
            )
        assert self.state_check is not None
        self.state_check.finish(head.block_number)
        self.writer.flush()
        self.backend.write_batch({schema.meta_key("head"): head.hash})
        self.finished = True
        logger.info("snapshot imported height=%d hash=0x%s", head.block_number, head.hash.hex())
