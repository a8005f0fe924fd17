"""A synthetic ledger of any size whose snapshot passes every check of a restore.

Four validators seal every block (a proposer seal and three commit seals).
Every block carries ERC-20 ``transfer`` transactions to one token contract
with their receipts and ``Transfer`` logs. The state at the head holds one
account per holder and the token's balance of each holder in its storage
trie. Headers, seals, transaction and receipt roots, log blooms and
the state root are real, so a shelter of this ledger restores through the
same checks as a shelter of a running network.

What is not real: transaction signatures are random bytes, and the state
is not the result of executing the blocks (the state roots of blocks below
the head are random). A restore never re-executes blocks or recovers
senders, so neither changes what a restore checks or how long it takes.

Byte mix per 1 MiB of snapshot, by construction: about 60% blocks
(transaction, receipt, header and seal bytes) and 40% state trie nodes.
"""

from __future__ import annotations

import array
import mmap
import random
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgpack
import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth_hash.auto import keccak

from node.chain.chain import initialize_store
from node.chain.crypto import address_of_private_key
from node.chain.genesis import parse_genesis
from node.chain.header import KuraHeader
from node.chain.seal import ExtraData
from node.chain.vm import EMPTY_REQUESTS_HASH
from node.consensus.seals import add_proposer_seal, commit_seal, quorum_size, with_commit_seals
from node.shelter.importer import SnapshotImporter
from node.shelter.snapshot import SNAPSHOT_MAGIC, SNAPSHOT_VERSION, STATE_BATCH, SnapshotInfo
from node.shelter.trie import encode_bytes, encode_list, ordered_trie_root, trie_root
from node.store import schema
from node.store.backend import LevelDBBackend, MemoryBackend

CHAIN_ID = 7007
VALIDATOR_KEYS = [keccak(f"kura-synthetic-validator-{index}".encode()) for index in range(4)]
TOKEN = keccak(b"kura-synthetic-token")[12:]
#: keccak("Transfer(address,address,uint256)"), the ERC-20 event topic.
TRANSFER_TOPIC = bytes.fromhex("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
#: selector of transfer(address,uint256).
TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")
TRANSFER_GAS = 51_234
GAS_LIMIT = 60_000_000
#: Snapshot bytes per holder (account leaf, storage leaf and their share of branch nodes) and
#: per transfer (transaction, receipt with bloom and log, share of header and seals), measured
#: on ledgers built by this module.
BYTES_PER_HOLDER = 265
BYTES_PER_TRANSFER = 615


@dataclass(frozen=True)
class LedgerShape:
    """Size of a synthetic ledger: token holders in the state and blocks of transfers."""

    holders: int
    blocks: int
    transfers_per_block: int = 500

    @classmethod
    def for_size(cls, megabytes: float, transfers_per_block: int = 500) -> LedgerShape:
        """A shape whose snapshot is about ``megabytes`` MiB: 40% state, 60% blocks."""
        total = megabytes * 1024 * 1024
        holders = max(16, int(total * 0.4 / BYTES_PER_HOLDER))
        blocks = max(2, int(total * 0.6 / BYTES_PER_TRANSFER / transfers_per_block))
        return cls(holders, blocks, transfers_per_block)


def genesis_document() -> dict[str, Any]:
    validators = ["0x" + address_of_private_key(key).hex() for key in VALIDATOR_KEYS]
    return {
        "config": {"chainId": CHAIN_ID, "qbft": {"validators": validators}},
        "gasLimit": hex(GAS_LIMIT),
        "baseFeePerGas": hex(7),
        "timestamp": hex(1_800_000_000),
        "alloc": {},
    }


def _quantity(value: int) -> bytes:
    return encode_bytes(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _bloom_bits(value: bytes) -> int:
    digest = keccak(value)
    bits = 0
    for offset in (0, 2, 4):
        bits |= 1 << ((digest[offset] << 8 | digest[offset + 1]) & 2047)
    return bits


class _Generator:
    def __init__(self, shape: LedgerShape, seed: int) -> None:
        self.shape = shape
        self.random = random.Random(seed)
        self.holders = [keccak(seed.to_bytes(8, "big") + index.to_bytes(8, "big"))[12:] for index in range(shape.holders)]
        self.holder_blooms = {holder: _bloom_bits(bytes(12) + holder) for holder in self.holders}
        self.token_bloom = _bloom_bits(TOKEN) | _bloom_bits(TRANSFER_TOPIC)
        self.code = self.random.randbytes(6_000)

    def state(self, emit: Callable[[bytes], None]) -> bytes:
        """Build the head state, passing every stored node and the token code to ``emit``; return its root."""
        balances = {keccak(bytes(12) + holder + bytes(32)).hex(): self.random.randrange(1, 10**24) for holder in self.holders}
        keys = sorted(balances)
        storage_root = trie_root(keys, [encode_bytes(_quantity(balances[key])) for key in keys], emit)
        del balances, keys

        accounts = {keccak(holder).hex(): self._account(self.random.randrange(0, 500), 10**18, BLANK_ROOT_HASH, EMPTY_SHA3) for holder in self.holders}
        accounts[keccak(TOKEN).hex()] = self._account(1, 0, storage_root, keccak(self.code))
        keys = sorted(accounts)
        emit(self.code)
        return trie_root(keys, [accounts[key] for key in keys], emit)

    @staticmethod
    def _account(nonce: int, balance: int, storage_root: bytes, code_hash: bytes) -> bytes:
        return encode_list(_quantity(nonce) + _quantity(balance) + encode_bytes(storage_root) + encode_bytes(code_hash))

    def transfer(self, nonce: int) -> tuple[bytes, bytes, bytes, int]:
        """One ERC-20 transfer: (typed transaction, sender, recipient, amount)."""
        sender, recipient = self.random.sample(self.holders, 2)
        amount = self.random.randrange(1, 10**21)
        data = TRANSFER_SELECTOR + bytes(12) + recipient + amount.to_bytes(32, "big")
        fields = (
            _quantity(CHAIN_ID)
            + _quantity(nonce)
            + _quantity(1)
            + _quantity(10**10)
            + _quantity(100_000)
            + encode_bytes(TOKEN)
            + _quantity(0)
            + encode_bytes(data)
            + encode_list(b"")
            + _quantity(self.random.randrange(2))
            + encode_bytes(self.random.randbytes(32))
            + encode_bytes(self.random.randbytes(32))
        )
        return b"\x02" + encode_list(fields), sender, recipient, amount

    def receipt(self, cumulative_gas: int, sender: bytes, recipient: bytes, amount: int) -> tuple[bytes, int]:
        """The receipt of a transfer and its log bloom as an integer."""
        bloom = self.token_bloom | self.holder_blooms[sender] | self.holder_blooms[recipient]
        topics = encode_list(encode_bytes(TRANSFER_TOPIC) + encode_bytes(bytes(12) + sender) + encode_bytes(bytes(12) + recipient))
        log = encode_list(encode_bytes(TOKEN) + topics + encode_bytes(amount.to_bytes(32, "big")))
        fields = _quantity(1) + _quantity(cumulative_gas) + encode_bytes(bloom.to_bytes(256, "big")) + encode_list(log)
        return b"\x02" + encode_list(fields), bloom


def _seal(header: KuraHeader, number: int) -> KuraHeader:
    proposer = VALIDATOR_KEYS[number % len(VALIDATOR_KEYS)]
    proposed = add_proposer_seal(header, proposer)
    committers = VALIDATOR_KEYS[: quorum_size(len(VALIDATOR_KEYS))]
    return with_commit_seals(proposed, [commit_seal(proposed, key) for key in committers])


def snapshot_records(shape: LedgerShape, *, seed: int = 1, work_dir: Path | None = None) -> Iterator[bytes]:
    """Yield the ledger's snapshot in pieces of packed records, in the layout of :mod:`node.shelter.snapshot`.

    The snapshot header names the head block and its state root, so the
    state and the blocks are built first, into temporary files under
    ``work_dir``.
    """
    generator = _Generator(shape, seed)
    packer = msgpack.Packer(use_bin_type=True)
    genesis_backend = MemoryBackend()
    genesis_header = initialize_store(genesis_backend, parse_genesis(genesis_document()))
    genesis_json = genesis_backend.get(schema.meta_key("genesis"))
    assert genesis_json is not None

    with tempfile.TemporaryFile(dir=work_dir) as state_file, tempfile.TemporaryFile(dir=work_dir) as block_file:
        state_root, entries = _write_state(generator, packer, state_file, work_dir)
        head = _write_blocks(generator, packer, block_file, genesis_header, state_root)

        info = SnapshotInfo(CHAIN_ID, head.block_number, head.hash, state_root, genesis_json.decode())
        yield packer.pack([SNAPSHOT_MAGIC, SNAPSHOT_VERSION, info.to_record()])
        for handle in (block_file, state_file):
            handle.seek(0)
            while chunk := handle.read(1 << 20):
                yield chunk
    yield packer.pack(["end", {"blocks": shape.blocks + 1, "state_entries": entries}])


def _write_state(generator: _Generator, packer: msgpack.Packer, out: BinaryIO, work_dir: Path | None) -> tuple[bytes, int]:
    """Write the state records into ``out``; return the state root and the number of entries.

    The trie builder hands over children before their parent, and a
    snapshot lists every entry after the one that refers to it, so the
    entries go through a scratch file and come out in reverse.
    """
    offsets = array.array("Q", [0])
    with tempfile.TemporaryFile(dir=work_dir) as scratch:

        def keep(node: bytes) -> None:
            scratch.write(node)
            offsets.append(offsets[-1] + len(node))

        state_root = generator.state(keep)
        scratch.flush()
        with mmap.mmap(scratch.fileno(), 0, access=mmap.ACCESS_READ) as nodes:
            batch: list[bytes] = []
            for index in range(len(offsets) - 2, -1, -1):
                batch.append(nodes[offsets[index] : offsets[index + 1]])
                if len(batch) == STATE_BATCH:
                    out.write(packer.pack(["state", batch]))
                    batch = []
            if batch:
                out.write(packer.pack(["state", batch]))
    return state_root, len(offsets) - 1


def _write_blocks(
    generator: _Generator, packer: msgpack.Packer, out: BinaryIO, genesis: KuraHeader, state_root: bytes
) -> KuraHeader:
    """Write blocks 0 to the head into ``out``; return the head header."""
    empty = rlp_list([])
    out.write(packer.pack(["block", 0, rlp.encode(genesis), empty, empty]))
    validators = genesis.seal.validators
    parent = genesis
    nonce = 0
    last = generator.shape.blocks
    for number in range(1, last + 1):
        transactions, receipts = [], []
        bloom = 0
        gas = 0
        for _ in range(generator.shape.transfers_per_block):
            transaction, sender, recipient, amount = generator.transfer(nonce)
            nonce += 1
            gas += TRANSFER_GAS
            receipt, receipt_bloom = generator.receipt(gas, sender, recipient, amount)
            bloom |= receipt_bloom
            transactions.append(transaction)
            receipts.append(receipt)
        header = KuraHeader(
            difficulty=0,
            block_number=number,
            gas_limit=GAS_LIMIT,
            gas_used=gas,
            timestamp=genesis.timestamp + number,
            coinbase=address_of_private_key(VALIDATOR_KEYS[number % len(VALIDATOR_KEYS)]),
            parent_hash=parent.hash,
            state_root=state_root if number == last else generator.random.randbytes(32),
            transaction_root=ordered_trie_root(transactions),
            receipt_root=ordered_trie_root(receipts),
            bloom=bloom,
            extra_data=ExtraData(validators=validators).encode(),
            mix_hash=parent.hash,
            nonce=bytes(8),
            base_fee_per_gas=7,
            parent_beacon_block_root=bytes(32),
            requests_hash=EMPTY_REQUESTS_HASH,
        )
        header = _seal(header, number)
        out.write(packer.pack(["block", number, rlp.encode(header), rlp_list(transactions), rlp_list(receipts)]))
        parent = header
    return parent


def rlp_list(items: list[bytes]) -> bytes:
    """RLP list of byte strings: how the store keeps a block's typed transactions or receipts."""
    return encode_list(b"".join(encode_bytes(item) for item in items))


def write_snapshot_file(path: Path, shape: LedgerShape, *, seed: int = 1) -> int:
    """Write the ledger's snapshot stream to ``path``; return its size in bytes."""
    size = 0
    with open(path, "wb") as out:
        for piece in snapshot_records(shape, seed=seed, work_dir=path.parent):
            out.write(piece)
            size += len(piece)
    return size


def build_ledger(chaindata: Path, snapshot: Path) -> SnapshotInfo:
    """Import the snapshot file into a new LevelDB store at ``chaindata``, with every check of a restore."""
    backend = LevelDBBackend(chaindata, create=True)
    importer = SnapshotImporter(backend)
    try:
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=1 << 31)
        with open(snapshot, "rb") as handle:
            while piece := handle.read(1 << 20):
                unpacker.feed(piece)
                importer.feed(unpacker)
        assert importer.finished and importer.info is not None
        return importer.info
    finally:
        importer.close()
        backend.close()
