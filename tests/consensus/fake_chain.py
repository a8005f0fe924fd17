"""A lightweight chain for engine tests: real sealed headers, no execution.

A block's body is arbitrary bytes whose keccak256 is the header's
transaction root, so the body is bound to the header as in a real block.
Each node gets its own FakeChain; a shared Ledger records every block any
node finalises or syncs, and every conflict at a height.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_hash.auto import keccak
from eth_typing import Address, BlockNumber, Hash32

from node.chain.crypto import address_of_private_key
from node.chain.header import KuraHeader
from node.chain.seal import ExtraData
from node.consensus.qbft.block import ProposedBlock
from node.consensus.seals import add_proposer_seal, proposer_of, verify_seals
from node.errors import BlockValidationError

GAS_LIMIT = 30_000_000
#: A body containing this is rejected by validate_block, as a block with a bad transaction would be.
INVALID_MARKER = b"invalid"


def validator_keys(count: int) -> list[bytes]:
    """Deterministic private keys, ordered by address as the validator set is."""
    keys = [keccak(f"kura qbft test validator {i}".encode()) for i in range(count)]
    return sorted(keys, key=address_of_private_key)


def genesis_header(validators: tuple[bytes, ...], timestamp: int = 0) -> KuraHeader:
    return KuraHeader(
        difficulty=0,
        block_number=BlockNumber(0),
        gas_limit=GAS_LIMIT,
        timestamp=timestamp,
        extra_data=ExtraData(validators=validators).encode(),
        base_fee_per_gas=0,
    )


def make_block(
    parent: KuraHeader,
    key: bytes,
    validators: tuple[bytes, ...],
    *,
    round: int,
    timestamp: int,
    salt: bytes = b"",
) -> ProposedBlock:
    """A child of ``parent`` proposed by ``key``; ``salt`` makes a different block for the same slot."""
    proposer = address_of_private_key(key)
    body = b"block %d round %d by 0x%s %s" % (parent.block_number + 1, round, proposer.hex().encode(), salt)
    header = KuraHeader(
        difficulty=0,
        block_number=BlockNumber(parent.block_number + 1),
        gas_limit=GAS_LIMIT,
        timestamp=timestamp,
        coinbase=Address(proposer),
        parent_hash=parent.hash,
        transaction_root=Hash32(keccak(body)),
        extra_data=ExtraData(validators=validators, round=round).encode(),
        base_fee_per_gas=0,
    )
    return ProposedBlock(add_proposer_seal(header, key), body)


@dataclass
class Ledger:
    """Every finalised block by height, across all nodes; conflicts are forks."""

    finalized: dict[int, bytes] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    #: Heights first recorded with a header whose proposer seal is not by its coinbase: a re-proposed block.
    reproposed: set[int] = field(default_factory=set)

    def record(self, node: str, header: KuraHeader) -> None:
        height = int(header.block_number)
        if height not in self.finalized and proposer_of(header) != header.coinbase:
            self.reproposed.add(height)
        known = self.finalized.setdefault(height, header.hash)
        if known != header.hash:
            self.conflicts.append(f"height {height}: {node} finalised 0x{header.hash.hex()}, another 0x{known.hex()}")


class FakeChain:
    """One node's chain: BlockCreator, BlockImporter and ValidatorProvider in one object."""

    def __init__(
        self,
        name: str,
        genesis: KuraHeader,
        validators: tuple[bytes, ...],
        key: bytes,
        ledger: Ledger | None = None,
    ) -> None:
        self.name = name
        self.validators = validators
        self.blocks: list[ProposedBlock] = [ProposedBlock(genesis, b"")]
        self.ledger = ledger or Ledger()
        self._key = key
        #: Salt in the body of blocks this node creates; INVALID_MARKER makes them fail validation.
        self.body_salt = b""

    @property
    def head(self) -> KuraHeader:
        return self.blocks[-1].header

    @property
    def height(self) -> int:
        return int(self.head.block_number)

    def validators_at(self, height: int) -> tuple[bytes, ...]:
        return self.validators

    def create_block(self, parent: KuraHeader, *, round: int, timestamp: int) -> ProposedBlock:
        return make_block(parent, self._key, self.validators, round=round, timestamp=timestamp, salt=self.body_salt)

    def validate_block(self, block: ProposedBlock) -> None:
        header = block.header
        if header.parent_hash != self.head.hash:
            raise BlockValidationError("unknown parent", number=header.block_number)
        if keccak(block.body) != header.transaction_root:
            raise BlockValidationError("transaction_root mismatch", number=header.block_number)
        if INVALID_MARKER in block.body:
            raise BlockValidationError("transaction invalid", number=header.block_number)

    def import_block(self, block: ProposedBlock) -> None:
        """Append a finalised block after checking its seals, as a syncing node would."""
        header = block.header
        verify_seals(header, self.validators)
        if header.parent_hash != self.head.hash:
            raise BlockValidationError("parent is not the head", number=header.block_number)
        if keccak(block.body) != header.transaction_root:
            raise BlockValidationError("transaction_root mismatch", number=header.block_number)
        self.blocks.append(block)
        self.ledger.record(self.name, header)
