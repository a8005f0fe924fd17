"""Blocks, receipts and indexes in the key-value store.

Writes happen only through :meth:`ChainStore.commit_block`, which puts a
block's state writes, header, body, receipts, canonical index, transaction
lookups and log index entries, and the new head pointer, in one batch.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator, Sequence

import rlp
from eth.abc import ReceiptAPI, SignedTransactionAPI
from eth.vm.forks.prague.receipts import PragueReceiptBuilder
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from rlp.sedes import CountableList, big_endian_int

from node.chain.header import KuraHeader
from node.errors import StoreError
from node.store import schema
from node.store.backend import KeyValueBackend

#: Headers kept decoded in memory; enough for BLOCKHASH's 256-block window.
HEADER_CACHE_SIZE = 4096
_TX_LIST = CountableList(PragueTransactionBuilder)
_LOOKUP = rlp.sedes.List([big_endian_int, big_endian_int])


class ChainStore:
    """Typed reads and the single write path over a backend."""

    def __init__(self, backend: KeyValueBackend) -> None:
        self.backend = backend
        # A plain dict, not functools.lru_cache on a bound method: that
        # would put the store in a reference cycle, and a LevelDB handle
        # collected during interpreter shutdown makes the exit raise.
        self._headers: OrderedDict[bytes, KuraHeader] = OrderedDict()

    # Metadata

    def schema_version(self) -> int | None:
        raw = self.backend.get(schema.SCHEMA_KEY)
        return None if raw is None else int(raw)

    def head_hash(self) -> bytes | None:
        return self.backend.get(schema.meta_key("head"))

    def genesis_document(self) -> dict:
        raw = self.backend.get(schema.meta_key("genesis"))
        if raw is None:
            raise StoreError("the store has no genesis; run 'kura init' first")
        return json.loads(raw)

    # Reads

    def header_by_hash(self, block_hash: bytes) -> KuraHeader | None:
        key = bytes(block_hash)
        header = self._headers.get(key)
        if header is not None:
            self._headers.move_to_end(key)
            return header
        raw = self.backend.get(schema.header_key(key))
        if raw is None:
            return None
        header = rlp.decode(raw, sedes=KuraHeader)
        self._headers[key] = header
        if len(self._headers) > HEADER_CACHE_SIZE:
            self._headers.popitem(last=False)
        return header

    def canonical_hash(self, number: int) -> bytes | None:
        if number < 0:
            return None
        return self.backend.get(schema.canonical_key(number))

    def header_by_number(self, number: int) -> KuraHeader | None:
        block_hash = self.canonical_hash(number)
        return None if block_hash is None else self.header_by_hash(block_hash)

    def transactions(self, block_hash: bytes) -> tuple[SignedTransactionAPI, ...]:
        raw = self.backend.get(schema.body_key(block_hash))
        if raw is None:
            return ()
        return tuple(rlp.decode(raw, sedes=_TX_LIST))

    def receipts(self, block_hash: bytes) -> tuple[ReceiptAPI, ...]:
        raw = self.backend.get(schema.receipts_key(block_hash))
        if raw is None:
            return ()
        return tuple(PragueReceiptBuilder.decode(item) for item in rlp.decode(raw))

    def tx_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        """(block number, index) of a canonical transaction, or None."""
        raw = self.backend.get(schema.tx_lookup_key(tx_hash))
        if raw is None:
            return None
        number, index = rlp.decode(raw, sedes=_LOOKUP)
        return number, index

    def blocks_with_log_address(self, address: bytes, first: int, last: int) -> Iterator[int]:
        prefix = schema.log_address_prefix(address)
        for key, _ in self.backend.iterate(prefix + first.to_bytes(8, "big"), prefix + (last + 1).to_bytes(8, "big")):
            yield schema.number_from_index_key(key)

    def blocks_with_log_topic(self, topic: bytes, first: int, last: int) -> Iterator[int]:
        prefix = schema.log_topic_prefix(topic)
        for key, _ in self.backend.iterate(prefix + first.to_bytes(8, "big"), prefix + (last + 1).to_bytes(8, "big")):
            yield schema.number_from_index_key(key)

    # The write path

    def commit_block(
        self,
        header: KuraHeader,
        transactions: Sequence[SignedTransactionAPI],
        receipts: Sequence[ReceiptAPI],
        state_writes: dict[bytes, bytes],
        *,
        extra_meta: dict[str, bytes] | None = None,
    ) -> None:
        """Store a block as the new canonical head, atomically."""
        block_hash = header.hash
        number = header.block_number
        puts = dict(state_writes)

        puts[schema.header_key(block_hash)] = rlp.encode(header)
        puts[schema.body_key(block_hash)] = rlp.encode(list(transactions), sedes=_TX_LIST)
        puts[schema.receipts_key(block_hash)] = rlp.encode([_encode_receipt(receipt) for receipt in receipts])
        puts[schema.canonical_key(number)] = block_hash
        puts[schema.number_key(block_hash)] = number.to_bytes(8, "big")

        for index, transaction in enumerate(transactions):
            puts[schema.tx_lookup_key(transaction.hash)] = rlp.encode([number, index], sedes=_LOOKUP)
        for receipt in receipts:
            for log in receipt.logs:
                puts[schema.log_address_key(log.address, number)] = b""
                for topic in log.topics:
                    puts[schema.log_topic_key(topic.to_bytes(32, "big"), number)] = b""

        puts[schema.meta_key("head")] = block_hash
        for name, value in (extra_meta or {}).items():
            puts[schema.meta_key(name)] = value
        self.backend.write_batch(puts)


def _encode_receipt(receipt: ReceiptAPI) -> bytes:
    """Consensus encoding: RLP for legacy receipts, type byte + RLP for typed ones."""
    return receipt.encode()
