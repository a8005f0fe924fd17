"""Kura's block header: a Prague header whose hash skips the seals and the consensus round."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import rlp
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from eth.vm.forks.shanghai.withdrawals import Withdrawal
from eth_hash.auto import keccak
from eth_typing import Hash32
from rlp.sedes import CountableList

from node.chain.seal import ExtraData, SealFormatError

#: Domain tag of the commit seal digest, so no other signature over a proposal hash passes as a commit seal.
COMMIT_SEAL_DOMAIN = b"kura-commit-seal-v1"


class KuraHeader(PragueBlockHeader):
    """A Prague header sealed by :mod:`node.chain.seal`.

    ``hash`` is Keccak-256 of the header RLP with both kinds of seal removed
    from ``extraData`` and the round set to 0. A header whose ``extraData``
    is not a seal hashes as a plain Ethereum header.
    """

    if TYPE_CHECKING:
        # py-evm types these as optional for pre-London headers; a Prague
        # header always has them.
        base_fee_per_gas: int
        withdrawals_root: Hash32
        blob_gas_used: int
        excess_blob_gas: int
        parent_beacon_block_root: Hash32
        requests_hash: Hash32

        def copy(self, *args: Any, **kwargs: Any) -> KuraHeader: ...

    @property
    def hash(self) -> Hash32:
        if self._hash is None:
            self._hash = keccak(rlp.encode(self._with_extra(_for_block_hash)))
        return cast(Hash32, self._hash)

    @property
    def proposal_hash(self) -> Hash32:
        """Hash the proposer signs: the header without either kind of seal."""
        return cast(Hash32, keccak(rlp.encode(self._with_extra(_strip_all_seals))))

    @property
    def commit_hash(self) -> Hash32:
        """Hash the commit seals sign: bound to the round through the proposal hash."""
        return cast(Hash32, keccak(COMMIT_SEAL_DOMAIN + self.proposal_hash))

    @property
    def seal(self) -> ExtraData:
        return ExtraData.decode(self.extra_data)

    def _with_extra(self, transform: Callable[[bytes], bytes]) -> PragueBlockHeader:
        # Hash the plain Prague form, so the override is not re-entered.
        fields: dict[str, Any] = {str(name): value for name, value in self.as_dict().items()}
        fields["extra_data"] = transform(self.extra_data)
        return PragueBlockHeader(**fields)


def _for_block_hash(extra: bytes) -> bytes:
    try:
        return ExtraData.decode(extra).for_block_hash().encode()
    except SealFormatError:
        return extra


def _strip_all_seals(extra: bytes) -> bytes:
    try:
        return ExtraData.decode(extra).without_seals().encode()
    except SealFormatError:
        return extra


class KuraBlock(PragueBlock):
    fields = [
        ("header", KuraHeader),
        ("transactions", CountableList(PragueBlock.transaction_builder)),
        ("uncles", CountableList(None, max_length=0)),
        ("withdrawals", CountableList(Withdrawal)),
    ]
