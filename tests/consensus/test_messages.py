"""Wire format of QBFT messages: round trips, authentication and decode limits."""

from __future__ import annotations

import msgpack
import pytest
from eth_hash.auto import keccak

from node.chain.crypto import sign_hash
from node.consensus.qbft.errors import DecodeFailure, MessageDecodeError
from node.consensus.qbft.messages import (
    Commit,
    DecodeLimits,
    MessageCode,
    Prepare,
    Proposal,
    RoundChange,
    decode_message,
    encode_message,
)
from node.consensus.qbft.validation import proposer_for
from tests.consensus.builders import KEYS, VALIDATORS, block, commit, prepare, proposal, reproposal, round_change


def _signed_wire(fields: list, attachments: list | None = None, key: bytes = KEYS[0]) -> bytes:
    """Wire bytes for an arbitrary payload list, correctly signed."""
    encoded = msgpack.packb(fields, use_bin_type=True)
    return msgpack.packb([encoded, sign_hash(key, keccak(encoded)), attachments or []], use_bin_type=True)


def _decode_failure(data: bytes, limits: DecodeLimits | None = None) -> DecodeFailure:
    with pytest.raises(MessageDecodeError) as error:
        decode_message(data, limits)
    return error.value.failure


def test_proposal_round_trip() -> None:
    original = proposal()

    decoded = decode_message(encode_message(original))

    assert isinstance(decoded, Proposal)
    assert decoded.author == proposer_for(VALIDATORS, 1, 0)
    assert (decoded.height, decoded.round, decoded.digest) == (1, 0, original.block.hash)
    assert decoded.block.hash == original.block.hash
    assert decoded.block.body == original.block.body
    assert decoded.round_changes == ()
    assert decoded.prepares == ()


def test_reproposal_round_trip_keeps_justification() -> None:
    prepared = block(1, 0)
    original = reproposal(1, 2, prepared, 0)

    decoded = decode_message(encode_message(original))

    assert isinstance(decoded, Proposal)
    assert [rc.author for rc in decoded.round_changes] == [rc.author for rc in original.round_changes]
    assert [p.author for p in decoded.prepares] == [p.author for p in original.prepares]
    assert decoded.block.hash == prepared.hash


def test_prepare_and_commit_round_trip() -> None:
    proposed = block()
    sent_prepare = prepare(KEYS[1], 1, 3, proposed.hash)
    sent_commit = commit(KEYS[2], 1, 3, proposed)

    decoded_prepare = decode_message(encode_message(sent_prepare))
    decoded_commit = decode_message(encode_message(sent_commit))

    assert isinstance(decoded_prepare, Prepare)
    assert decoded_prepare.author == VALIDATORS[1]
    assert (decoded_prepare.round, decoded_prepare.digest) == (3, proposed.hash)
    assert isinstance(decoded_commit, Commit)
    assert decoded_commit.author == VALIDATORS[2]
    assert decoded_commit.commit_seal == sent_commit.commit_seal


def test_round_change_round_trip_with_certificate() -> None:
    prepared = block()
    original = round_change(KEYS[3], 1, 1, prepared=prepared, prepared_round=0)

    decoded = decode_message(encode_message(original))

    assert isinstance(decoded, RoundChange)
    assert decoded.author == VALIDATORS[3]
    assert (decoded.prepared_round, decoded.prepared_digest) == (0, prepared.hash)
    assert decoded.prepared_block is not None
    assert decoded.prepared_block.hash == prepared.hash
    assert len(decoded.prepares) == 3


def test_round_change_round_trip_without_certificate() -> None:
    decoded = decode_message(encode_message(round_change(KEYS[0], 4, 2)))

    assert isinstance(decoded, RoundChange)
    assert decoded.prepared_round is None
    assert decoded.prepared_block is None
    assert decoded.prepares == ()


def test_author_is_recovered_not_sent() -> None:
    wire = _signed_wire([MessageCode.PREPARE, 1, 0, bytes(32)], key=KEYS[2])

    assert decode_message(wire).author == VALIDATORS[2]


def test_altered_payload_changes_author() -> None:
    encoded, signature, attachments = msgpack.unpackb(encode_message(prepare(KEYS[1], 1, 0, bytes(32))))
    tampered = encoded[:-1] + b"\x01"

    decoded = decode_message(msgpack.packb([tampered, signature, attachments], use_bin_type=True))

    assert decoded.author != VALIDATORS[1]


# Decode limits and failures.


def test_oversized_message_rejected_before_parsing() -> None:
    data = encode_message(proposal())

    failure = _decode_failure(data, DecodeLimits(max_message_bytes=len(data) - 1))

    assert failure is DecodeFailure.TOO_LARGE


def test_list_longer_than_limit_rejected() -> None:
    prepared = block()
    data = encode_message(round_change(KEYS[0], 1, 1, prepared=prepared, prepared_round=0))

    assert _decode_failure(data, DecodeLimits(max_list_length=2)) is DecodeFailure.NOT_MSGPACK


def test_garbage_is_not_msgpack() -> None:
    assert _decode_failure(b"\xc1\x00\x01") is DecodeFailure.NOT_MSGPACK


def test_trailing_bytes_rejected() -> None:
    assert _decode_failure(encode_message(prepare(KEYS[0], 1, 0, bytes(32))) + b"\x00") is DecodeFailure.NOT_MSGPACK


def test_map_instead_of_list_rejected() -> None:
    assert _decode_failure(msgpack.packb({"a": 1})) is DecodeFailure.NOT_MSGPACK


def test_string_fields_rejected() -> None:
    assert _decode_failure(msgpack.packb(["payload", "signature", []])) is DecodeFailure.NOT_MSGPACK


def test_wrong_outer_field_count_rejected() -> None:
    assert _decode_failure(msgpack.packb([b"x", b"y"], use_bin_type=True)) is DecodeFailure.BAD_SHAPE


def test_unknown_code_rejected() -> None:
    assert _decode_failure(_signed_wire([9, 1, 0, bytes(32)])) is DecodeFailure.UNKNOWN_CODE


def test_boolean_code_rejected() -> None:
    assert _decode_failure(_signed_wire([True, 1, 0, bytes(32)])) is DecodeFailure.UNKNOWN_CODE


def test_boolean_height_rejected() -> None:
    assert _decode_failure(_signed_wire([MessageCode.PREPARE, True, 0, bytes(32)])) is DecodeFailure.BAD_SHAPE


def test_negative_round_rejected() -> None:
    assert _decode_failure(_signed_wire([MessageCode.PREPARE, 1, -1, bytes(32)])) is DecodeFailure.BAD_FIELD


def test_short_digest_rejected() -> None:
    assert _decode_failure(_signed_wire([MessageCode.PREPARE, 1, 0, bytes(31)])) is DecodeFailure.BAD_FIELD


def test_short_commit_seal_rejected() -> None:
    wire = _signed_wire([MessageCode.COMMIT, 1, 0, bytes(32), bytes(64)])

    assert _decode_failure(wire) is DecodeFailure.BAD_FIELD


def test_short_signature_rejected() -> None:
    encoded = msgpack.packb([MessageCode.PREPARE, 1, 0, bytes(32)])
    data = msgpack.packb([encoded, bytes(64), []], use_bin_type=True)

    assert _decode_failure(data) is DecodeFailure.BAD_FIELD


def test_unrecoverable_signature_rejected() -> None:
    encoded = msgpack.packb([MessageCode.PREPARE, 1, 0, bytes(32)])
    data = msgpack.packb([encoded, bytes(64) + b"\x05", []], use_bin_type=True)

    assert _decode_failure(data) is DecodeFailure.BAD_SIGNATURE


def test_prepared_round_without_digest_rejected() -> None:
    wire = _signed_wire([MessageCode.ROUND_CHANGE, 1, 2, 1, None], attachments=[None, []])

    assert _decode_failure(wire) is DecodeFailure.BAD_SHAPE


def test_prepare_with_attachments_rejected() -> None:
    wire = _signed_wire([MessageCode.PREPARE, 1, 0, bytes(32)], attachments=[b"extra"])

    assert _decode_failure(wire) is DecodeFailure.BAD_SHAPE


def test_commit_in_prepare_list_rejected() -> None:
    prepared = block()
    sent = round_change(KEYS[0], 1, 1, prepared=prepared, prepared_round=0)
    wrong_entry = commit(KEYS[1], 1, 0, prepared).signed.to_wire()
    wire = _signed_wire(sent.signed.payload.to_fields(), attachments=[prepared.to_wire(), [wrong_entry]])

    assert _decode_failure(wire) is DecodeFailure.BAD_SHAPE


def test_undecodable_block_header_rejected() -> None:
    wire = _signed_wire([MessageCode.PROPOSAL, 1, 0, bytes(32)], attachments=[[b"\x01\x02", b""], [], []])

    assert _decode_failure(wire) is DecodeFailure.BAD_BLOCK


def test_block_of_wrong_shape_rejected() -> None:
    wire = _signed_wire([MessageCode.PROPOSAL, 1, 0, bytes(32)], attachments=[[b"only header"], [], []])

    assert _decode_failure(wire) is DecodeFailure.BAD_BLOCK


def test_decode_error_is_value_error() -> None:
    with pytest.raises(ValueError, match="invalid QBFT message"):
        decode_message(b"")
