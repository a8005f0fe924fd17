"""QBFT messages and their wire format.

Every message has a small *signed payload*, a msgpack array that starts
with the message code::

    PROPOSAL      [1, height, round, digest]
    PREPARE       [2, height, round, digest]
    COMMIT        [3, height, round, digest, commit_seal]
    ROUND-CHANGE  [4, height, round, prepared_round | nil, prepared_digest | nil]

``digest`` is the 32-byte block hash (:mod:`node.chain.seal`: the header
hash without either kind of seal, with the round counted as 0), so it names
the block in every round. ``commit_seal`` is the 65-byte signature over the
commit hash of the header proposed in the message's round, and goes into
the final header. The author signs keccak256 of the payload bytes with a
recoverable secp256k1 signature (``r || s || v``); the author's address is
recovered from it, never sent.

On the wire a message is the msgpack array
``[payload bytes, signature, attachments]``. Attachments are not signed by
the author, but each is bound to signed data, so a relay cannot alter one
without it failing validation:

    PROPOSAL      [block, round_changes, prepares]
    ROUND-CHANGE  [prepared_block | nil, prepares]
    PREPARE, COMMIT  []

``block`` is ``[header RLP, body]`` and its hash must equal the digest.
A proposal's header carries the proposal's round and the proposer's seal; a
round change's prepared block is the header proposed in its prepared round.
``round_changes`` and ``prepares`` are lists of ``[payload bytes,
signature]`` pairs, each signed by its own author: the round-change
justification of a proposal in round > 0, and the prepares of a prepared
certificate.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Generic, TypeVar

import msgpack
from eth_hash.auto import keccak

from node.chain.crypto import SIGNATURE_LENGTH, SignatureError, address_of_private_key, recover_address, sign_hash
from node.consensus.qbft.block import ProposedBlock
from node.consensus.qbft.errors import DecodeFailure, MessageDecodeError

DIGEST_LENGTH = 32
#: Upper bound for heights and rounds; larger values are rejected as malformed.
MAX_UINT64 = 2**64 - 1


class MessageCode(IntEnum):
    PROPOSAL = 1
    PREPARE = 2
    COMMIT = 3
    ROUND_CHANGE = 4


@dataclass(frozen=True)
class DecodeLimits:
    """Size bounds applied before and while decoding a message from a peer."""

    #: Whole message in bytes. A 30M-gas block of zero-byte calldata is
    #: about 7.5 MB, and a round change or proposal can carry one block.
    max_message_bytes: int = 16 * 1024 * 1024
    #: Entries in one list: round changes or prepares, at most one per validator.
    max_list_length: int = 1024


# Payloads: the signed part of each message.


@dataclass(frozen=True)
class ProposalPayload:
    height: int
    round: int
    digest: bytes

    def to_fields(self) -> list[Any]:
        return [MessageCode.PROPOSAL, self.height, self.round, self.digest]


@dataclass(frozen=True)
class PreparePayload:
    height: int
    round: int
    digest: bytes

    def to_fields(self) -> list[Any]:
        return [MessageCode.PREPARE, self.height, self.round, self.digest]


@dataclass(frozen=True)
class CommitPayload:
    height: int
    round: int
    digest: bytes
    commit_seal: bytes

    def to_fields(self) -> list[Any]:
        return [MessageCode.COMMIT, self.height, self.round, self.digest, self.commit_seal]


@dataclass(frozen=True)
class RoundChangePayload:
    """A vote to move to ``round``, reporting the highest round the author prepared a block in, if any."""

    height: int
    round: int
    prepared_round: int | None = None
    prepared_digest: bytes | None = None

    def to_fields(self) -> list[Any]:
        return [MessageCode.ROUND_CHANGE, self.height, self.round, self.prepared_round, self.prepared_digest]


Payload = ProposalPayload | PreparePayload | CommitPayload | RoundChangePayload
P = TypeVar("P", ProposalPayload, PreparePayload, CommitPayload, RoundChangePayload)


@dataclass(frozen=True)
class Signed(Generic[P]):
    """A payload with its encoding, the author's signature and the recovered author address."""

    payload: P
    encoded: bytes
    signature: bytes
    author: bytes

    @property
    def height(self) -> int:
        return self.payload.height

    @property
    def round(self) -> int:
        return self.payload.round

    def to_wire(self) -> list[bytes]:
        return [self.encoded, self.signature]


def sign(payload: P, private_key: bytes) -> Signed[P]:
    """Encode ``payload`` and sign keccak256 of the encoding with ``private_key``."""
    encoded = msgpack.packb(payload.to_fields(), use_bin_type=True)
    signature = sign_hash(private_key, keccak(encoded))
    return Signed(payload, encoded, signature, address_of_private_key(private_key))


# Messages: a signed payload with its attachments.


@dataclass(frozen=True)
class Proposal:
    signed: Signed[ProposalPayload]
    block: ProposedBlock
    #: Justification for a round > 0: a quorum of round changes for this round.
    round_changes: tuple[Signed[RoundChangePayload], ...] = ()
    #: Prepared certificate of the highest prepared round in ``round_changes``.
    prepares: tuple[Signed[PreparePayload], ...] = ()

    code = MessageCode.PROPOSAL

    @property
    def height(self) -> int:
        return self.signed.height

    @property
    def round(self) -> int:
        return self.signed.round

    @property
    def author(self) -> bytes:
        return self.signed.author

    @property
    def digest(self) -> bytes:
        return self.signed.payload.digest


@dataclass(frozen=True)
class Prepare:
    signed: Signed[PreparePayload]

    code = MessageCode.PREPARE

    @property
    def height(self) -> int:
        return self.signed.height

    @property
    def round(self) -> int:
        return self.signed.round

    @property
    def author(self) -> bytes:
        return self.signed.author

    @property
    def digest(self) -> bytes:
        return self.signed.payload.digest


@dataclass(frozen=True)
class Commit:
    signed: Signed[CommitPayload]

    code = MessageCode.COMMIT

    @property
    def height(self) -> int:
        return self.signed.height

    @property
    def round(self) -> int:
        return self.signed.round

    @property
    def author(self) -> bytes:
        return self.signed.author

    @property
    def digest(self) -> bytes:
        return self.signed.payload.digest

    @property
    def commit_seal(self) -> bytes:
        return self.signed.payload.commit_seal


@dataclass(frozen=True)
class RoundChange:
    signed: Signed[RoundChangePayload]
    #: The block the author prepared in ``prepared_round``, with its prepared certificate.
    prepared_block: ProposedBlock | None = None
    prepares: tuple[Signed[PreparePayload], ...] = ()

    code = MessageCode.ROUND_CHANGE

    @property
    def height(self) -> int:
        return self.signed.height

    @property
    def round(self) -> int:
        return self.signed.round

    @property
    def author(self) -> bytes:
        return self.signed.author

    @property
    def prepared_round(self) -> int | None:
        return self.signed.payload.prepared_round

    @property
    def prepared_digest(self) -> bytes | None:
        return self.signed.payload.prepared_digest


Message = Proposal | Prepare | Commit | RoundChange


# Encoding.


def encode_message(message: Message) -> bytes:
    """Return the wire bytes of ``message``."""
    attachments: list[Any]
    if isinstance(message, Proposal):
        attachments = [
            message.block.to_wire(),
            [signed.to_wire() for signed in message.round_changes],
            [signed.to_wire() for signed in message.prepares],
        ]
    elif isinstance(message, RoundChange):
        attachments = [
            None if message.prepared_block is None else message.prepared_block.to_wire(),
            [signed.to_wire() for signed in message.prepares],
        ]
    else:
        attachments = []
    return msgpack.packb([message.signed.encoded, message.signed.signature, attachments], use_bin_type=True)


# Decoding.


def decode_message(data: bytes, limits: DecodeLimits | None = None) -> Message:
    """Decode and authenticate wire bytes; raise MessageDecodeError naming the failure.

    Checks sizes, shapes and field ranges and recovers every author,
    including the authors of attached round changes and prepares. It does
    not check the rules that need chain state (validator set, proposer,
    certificates): :mod:`node.consensus.qbft.validation` does.
    """
    limits = limits or DecodeLimits()
    if len(data) > limits.max_message_bytes:
        raise MessageDecodeError(DecodeFailure.TOO_LARGE, f"{len(data)} bytes, the limit is {limits.max_message_bytes}")
    outer = _unpack(data, limits.max_message_bytes, limits.max_list_length)
    encoded, signature, attachments = _fields(outer, 3, "message")
    signed = _decode_signed(encoded, signature)
    if not isinstance(attachments, list):
        raise MessageDecodeError(DecodeFailure.BAD_SHAPE, "attachments must be a list")

    payload = signed.payload
    if isinstance(payload, ProposalPayload):
        block_fields, round_change_fields, prepare_fields = _fields(attachments, 3, "proposal")
        return Proposal(
            signed,
            ProposedBlock.from_wire(block_fields),
            _signed_list(round_change_fields, RoundChangePayload, "round changes"),
            _signed_list(prepare_fields, PreparePayload, "prepares"),
        )
    if isinstance(payload, RoundChangePayload):
        block_fields, prepare_fields = _fields(attachments, 2, "round change")
        prepared_block = None if block_fields is None else ProposedBlock.from_wire(block_fields)
        return RoundChange(signed, prepared_block, _signed_list(prepare_fields, PreparePayload, "prepares"))

    if attachments:
        raise MessageDecodeError(DecodeFailure.BAD_SHAPE, "prepare and commit messages take no attachments")
    if isinstance(payload, PreparePayload):
        return Prepare(signed)
    return Commit(signed)


def _unpack(data: bytes, max_bytes: int, max_list_length: int) -> Any:
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            max_bin_len=max_bytes,
            max_array_len=max_list_length,
            max_str_len=0,
            max_map_len=0,
            max_ext_len=0,
        )
    except ValueError as error:  # msgpack's unpack errors all derive from ValueError
        raise MessageDecodeError(DecodeFailure.NOT_MSGPACK, str(error)) from None


def _fields(value: Any, count: int, name: str) -> list[Any]:
    if not isinstance(value, list) or len(value) != count:
        raise MessageDecodeError(DecodeFailure.BAD_SHAPE, f"{name} must be a list of {count} fields")
    return value


def _bytes(value: Any, name: str, length: int | None = None) -> bytes:
    if not isinstance(value, bytes):
        raise MessageDecodeError(DecodeFailure.BAD_SHAPE, f"{name} must be bytes")
    if length is not None and len(value) != length:
        raise MessageDecodeError(DecodeFailure.BAD_FIELD, f"{name} is {len(value)} bytes, expected {length}")
    return value


def _uint(value: Any, name: str) -> int:
    # msgpack decodes booleans as bool, a subclass of int.
    if not isinstance(value, int) or isinstance(value, bool):
        raise MessageDecodeError(DecodeFailure.BAD_SHAPE, f"{name} must be an integer")
    if not 0 <= value <= MAX_UINT64:
        raise MessageDecodeError(DecodeFailure.BAD_FIELD, f"{name}={value} is outside 0..2**64-1")
    return value


def _decode_payload(encoded: bytes) -> Payload:
    fields = _unpack(encoded, len(encoded), 8)
    if not isinstance(fields, list) or not fields:
        raise MessageDecodeError(DecodeFailure.BAD_SHAPE, "payload must be a non-empty list")
    code = fields[0]
    if isinstance(code, bool) or code not in set(MessageCode):
        raise MessageDecodeError(DecodeFailure.UNKNOWN_CODE, f"code {code!r}")

    if code == MessageCode.PROPOSAL:
        _, height, round, digest = _fields(fields, 4, "proposal payload")
        return ProposalPayload(_uint(height, "height"), _uint(round, "round"), _bytes(digest, "digest", DIGEST_LENGTH))
    if code == MessageCode.PREPARE:
        _, height, round, digest = _fields(fields, 4, "prepare payload")
        return PreparePayload(_uint(height, "height"), _uint(round, "round"), _bytes(digest, "digest", DIGEST_LENGTH))
    if code == MessageCode.COMMIT:
        _, height, round, digest, seal = _fields(fields, 5, "commit payload")
        return CommitPayload(
            _uint(height, "height"),
            _uint(round, "round"),
            _bytes(digest, "digest", DIGEST_LENGTH),
            _bytes(seal, "commit seal", SIGNATURE_LENGTH),
        )

    _, height, round, prepared_round, prepared_digest = _fields(fields, 5, "round change payload")
    if (prepared_round is None) != (prepared_digest is None):
        raise MessageDecodeError(DecodeFailure.BAD_SHAPE, "prepared round and prepared digest must both be set or nil")
    return RoundChangePayload(
        _uint(height, "height"),
        _uint(round, "round"),
        None if prepared_round is None else _uint(prepared_round, "prepared round"),
        None if prepared_digest is None else _bytes(prepared_digest, "prepared digest", DIGEST_LENGTH),
    )


def _decode_signed(encoded: Any, signature: Any) -> Signed[Any]:
    encoded = _bytes(encoded, "payload")
    signature = _bytes(signature, "signature", SIGNATURE_LENGTH)
    payload = _decode_payload(encoded)
    try:
        author = _recover_author(keccak(encoded), signature)
    except SignatureError as error:
        raise MessageDecodeError(DecodeFailure.BAD_SIGNATURE, str(error)) from None
    return Signed(payload, encoded, signature, author)


@functools.lru_cache(maxsize=8192)
def _recover_author(message_hash: bytes, signature: bytes) -> bytes:
    # The same prepares and round changes arrive again and again inside
    # certificates and justifications; recovery is the costliest decode step.
    return recover_address(message_hash, signature)


def _signed_list(value: Any, kind: type[P], name: str) -> tuple[Signed[P], ...]:
    if not isinstance(value, list):
        raise MessageDecodeError(DecodeFailure.BAD_SHAPE, f"{name} must be a list")
    result: list[Signed[P]] = []
    for item in value:
        encoded, signature = _fields(item, 2, f"entry of {name}")
        signed = _decode_signed(encoded, signature)
        if not isinstance(signed.payload, kind):
            raise MessageDecodeError(DecodeFailure.BAD_SHAPE, f"{name} may contain only {kind.__name__} entries")
        result.append(signed)
    return tuple(result)
