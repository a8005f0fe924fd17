"""The header seal carried in ``extraData``.

The layout follows QBFT's (Besu): ``extraData`` is the RLP list

    [vanity (32 bytes), validators, vote, round, proposer_seal, commit_seals]

- ``validators``: the addresses allowed to seal this block, sorted;
- ``vote``: empty, or ``[address, 0xff]`` to add and ``[address, 0x00]`` to
  remove a validator;
- ``round``: the consensus round in which the block was proposed;
- ``proposer_seal``: the proposer's 65-byte signature over the proposal hash;
- ``commit_seals``: 65-byte signatures over the commit hash (below), one per
  committing validator.

Unlike QBFT, which has no proposer seal, the proposer also signs the header,
so a single block names its author without consensus messages.

Three hashes are derived from a header:

- the *block hash* omits both kinds of seal and counts the round as 0, so
  every node reports the same hash whichever round finalised the block and
  whichever quorum of commit seals it collected (Besu's on-chain hash does
  the same);
- the *proposal hash* omits both kinds of seal but keeps the round: the
  proposer seal signs it;
- the *commit hash* is Keccak-256 of a domain tag and the proposal hash:
  the commit seals sign it, so a seal binds its round, and a proposer seal
  can never pass for a commit seal.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import rlp
from rlp.sedes import Binary, CountableList, big_endian_int, binary

VANITY_LENGTH = 32
VOTE_ADD = b"\xff"
VOTE_REMOVE = b"\x00"

_address = Binary.fixed_length(20)
_seal = Binary.fixed_length(65, allow_empty=True)


class SealFormatError(ValueError):
    """``extraData`` is not a Kura seal."""


class _ExtraSedes(rlp.Serializable):
    fields = [
        ("vanity", Binary.fixed_length(VANITY_LENGTH)),
        ("validators", CountableList(_address)),
        ("vote", CountableList(binary, max_length=2)),
        ("round", big_endian_int),
        ("proposer_seal", _seal),
        ("commit_seals", CountableList(Binary.fixed_length(65))),
    ]


@dataclass(frozen=True)
class Vote:
    """A proposal to add (``add=True``) or remove a validator."""

    address: bytes
    add: bool


@dataclass(frozen=True)
class ExtraData:
    """Decoded seal of one header."""

    validators: tuple[bytes, ...]
    round: int = 0
    vote: Vote | None = None
    proposer_seal: bytes = b""
    commit_seals: tuple[bytes, ...] = field(default_factory=tuple)
    vanity: bytes = bytes(VANITY_LENGTH)

    def encode(self) -> bytes:
        if self.vote is None:
            vote: list[bytes] = []
        else:
            vote = [self.vote.address, VOTE_ADD if self.vote.add else VOTE_REMOVE]
        return rlp.encode(
            _ExtraSedes(
                vanity=self.vanity,
                validators=list(self.validators),
                vote=vote,
                round=self.round,
                proposer_seal=self.proposer_seal,
                commit_seals=list(self.commit_seals),
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> ExtraData:
        try:
            decoded = rlp.decode(data, sedes=_ExtraSedes)
        except rlp.DecodingError as error:
            raise SealFormatError(f"extraData is not a seal list: {error}") from error
        vote = None
        if decoded.vote:
            if len(decoded.vote) != 2 or len(decoded.vote[0]) != 20:
                raise SealFormatError("extraData vote must be [address, 0x00|0xff]")
            if decoded.vote[1] not in (VOTE_ADD, VOTE_REMOVE):
                raise SealFormatError(f"extraData vote kind {decoded.vote[1].hex()} is not 00 or ff")
            vote = Vote(decoded.vote[0], decoded.vote[1] == VOTE_ADD)
        return cls(
            validators=tuple(decoded.validators),
            round=decoded.round,
            vote=vote,
            proposer_seal=decoded.proposer_seal,
            commit_seals=tuple(decoded.commit_seals),
            vanity=decoded.vanity,
        )

    def without_commit_seals(self) -> ExtraData:
        return replace(self, commit_seals=())

    def without_seals(self) -> ExtraData:
        return replace(self, proposer_seal=b"", commit_seals=())

    def for_block_hash(self) -> ExtraData:
        return replace(self, round=0, proposer_seal=b"", commit_seals=())
