"""Signing and checking header seals (see :mod:`node.chain.seal` for the layout)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from eth.abc import SignedTransactionAPI

from node.chain.crypto import SignatureError, recover_address, sign_hash
from node.chain.header import KuraHeader
from node.chain.seal import ExtraData, SealFormatError
from node.errors import BlockValidationError


def quorum_size(validator_count: int) -> int:
    """Commit seals needed to finalise a block: ceil(2n/3), QBFT's quorum."""
    return -(-2 * validator_count // 3)


def add_proposer_seal(header: KuraHeader, private_key: bytes) -> KuraHeader:
    extra = header.seal
    signature = sign_hash(private_key, header.proposal_hash)
    return header.copy(extra_data=replace(extra, proposer_seal=signature).encode())


def commit_seal(header: KuraHeader, private_key: bytes) -> bytes:
    """Sign the header's commit hash (block and round): a validator's commit seal."""
    return sign_hash(private_key, header.commit_hash)


def with_commit_seals(header: KuraHeader, seals: list[bytes]) -> KuraHeader:
    extra = header.seal
    return header.copy(extra_data=replace(extra, commit_seals=tuple(seals)).encode())


def proposer_of(header: KuraHeader) -> bytes:
    """Address that signed the proposer seal; BlockValidationError if none or invalid."""
    extra = _decode(header)
    if not extra.proposer_seal:
        raise BlockValidationError("proposer seal missing", number=header.block_number)
    try:
        return recover_address(header.proposal_hash, extra.proposer_seal)
    except SignatureError as error:
        raise BlockValidationError("proposer seal invalid", number=header.block_number, detail=str(error)) from None


def verify_seals(header: KuraHeader, validators: tuple[bytes, ...]) -> list[bytes]:
    """Check the proposer seal and a quorum of distinct commit seals by ``validators``.

    Returns the committing addresses. Raises BlockValidationError naming
    the broken rule.
    """
    number = header.block_number
    extra = _decode(header)
    if tuple(extra.validators) != tuple(validators):
        raise BlockValidationError(
            "validator set mismatch",
            number=number,
            got=[f"0x{v.hex()}" for v in extra.validators],
            expected=[f"0x{v.hex()}" for v in validators],
        )
    proposer = proposer_of(header)
    if proposer not in validators:
        raise BlockValidationError("proposer not a validator", number=number, got=f"0x{proposer.hex()}")
    if bytes(header.coinbase) not in validators:
        # The coinbase names the block's creator, whose vote the block carries.
        raise BlockValidationError("coinbase not a validator", number=number, got=f"0x{bytes(header.coinbase).hex()}")

    committers: list[bytes] = []
    commit_hash = header.commit_hash
    for seal in extra.commit_seals:
        try:
            signer = recover_address(commit_hash, seal)
        except SignatureError as error:
            raise BlockValidationError("commit seal invalid", number=number, detail=str(error)) from None
        if signer not in validators:
            raise BlockValidationError("commit seal by non-validator", number=number, got=f"0x{signer.hex()}")
        if signer in committers:
            raise BlockValidationError("duplicate commit seal", number=number, got=f"0x{signer.hex()}")
        committers.append(signer)
    needed = quorum_size(len(validators))
    if len(committers) < needed:
        raise BlockValidationError("too few commit seals", number=number, got=len(committers), expected=needed)
    return committers


def _decode(header: KuraHeader) -> ExtraData:
    try:
        return header.seal
    except SealFormatError as error:
        raise BlockValidationError("extraData is not a seal", number=header.block_number, detail=str(error)) from None


def check_senders_allowed(
    number: int, transactions: Sequence[SignedTransactionAPI], allowed: Callable[[bytes], bool]
) -> None:
    """Raise BlockValidationError if a transaction's sender is not on the account allowlist."""
    for transaction in transactions:
        if not allowed(transaction.sender):
            raise BlockValidationError(
                "sender not on the account allowlist",
                number=number,
                got=f"0x{bytes(transaction.sender).hex()}",
                detail=f"tx=0x{transaction.hash.hex()}",
            )
