"""The engine's Protocols over a real Chain, as the node would implement them.

The block body is the RLP list of the transactions' canonical encodings
(EIP-2718 envelopes for typed transactions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import rlp
from eth.abc import SignedTransactionAPI
from eth.vm.forks.prague.transactions import PragueTransactionBuilder

from node.chain.chain import Chain
from node.chain.crypto import address_of_private_key
from node.chain.execution import ExecutedBlock
from node.chain.header import KuraHeader
from node.chain.seal import ExtraData
from node.consensus.qbft.block import ProposedBlock
from node.consensus.seals import add_proposer_seal, verify_seals
from node.errors import BlockValidationError
from tests.consensus.fake_chain import Ledger


def encode_body(transactions: Sequence[SignedTransactionAPI]) -> bytes:
    return rlp.encode([transaction.encode() for transaction in transactions])


def decode_body(body: bytes, number: int) -> list[SignedTransactionAPI]:
    try:
        return [PragueTransactionBuilder.decode(raw) for raw in rlp.decode(body)]
    except (rlp.DecodingError, rlp.DeserializationError, TypeError) as error:
        raise BlockValidationError("block body is not a transaction list", number=number, detail=str(error)) from None


class ChainAdapter:
    """BlockCreator, BlockImporter and ValidatorProvider over one node's Chain."""

    def __init__(
        self,
        name: str,
        chain: Chain,
        key: bytes,
        ledger: Ledger,
        pending: Callable[[], list[SignedTransactionAPI]],
    ) -> None:
        self.name = name
        self.chain = chain
        self.validators = chain.config.validators
        self.blocks: list[ProposedBlock] = [ProposedBlock(chain.head, encode_body([]))]
        self._key = key
        self._address = address_of_private_key(key)
        self._ledger = ledger
        self._pending = pending
        # Execution results by block hash, so a validated block is not executed again on import.
        self._executed: dict[bytes, ExecutedBlock] = {}

    @property
    def head(self) -> KuraHeader:
        return self.chain.head

    @property
    def height(self) -> int:
        return int(self.chain.head.block_number)

    def validators_at(self, height: int) -> tuple[bytes, ...]:
        return self.validators

    def create_block(self, parent: KuraHeader, *, round: int, timestamp: int) -> ProposedBlock:
        extra = ExtraData(validators=self.validators, round=round)
        template = self.chain.make_template(parent, timestamp=timestamp, coinbase=self._address, extra=extra)
        executed = self.chain.build(template, self._pending())
        executed.header = add_proposer_seal(executed.header, self._key)
        self._executed[executed.header.hash] = executed
        return ProposedBlock(executed.header, encode_body(executed.transactions))

    def validate_block(self, block: ProposedBlock) -> None:
        if block.hash in self._executed:
            return
        transactions = decode_body(block.body, block.number)
        self._executed[block.hash] = self.chain.execute_received(block.header, transactions)

    def import_block(self, block: ProposedBlock) -> None:
        verify_seals(block.header, self.validators)
        executed = self._executed.pop(block.hash, None)
        if executed is None:
            executed = self.chain.execute_received(block.header, decode_body(block.body, block.number))
        executed.header = block.header
        self.chain.commit(executed)
        self.blocks.append(block)
        self._ledger.record(self.name, block.header)
        stale = [h for h, e in self._executed.items() if e.header.block_number <= block.number]
        for block_hash in stale:
            del self._executed[block_hash]
