"""Errors raised by the QBFT engine: undecodable messages and messages that break a rule."""

from __future__ import annotations

from enum import StrEnum

from node.errors import KuraError


class DecodeFailure(StrEnum):
    """Reason that bytes received from a peer are not a QBFT message."""

    TOO_LARGE = "message too large"
    NOT_MSGPACK = "not valid msgpack within the size limits"
    BAD_SHAPE = "wrong number or type of fields"
    UNKNOWN_CODE = "unknown message code"
    BAD_FIELD = "field out of range or of the wrong length"
    BAD_SIGNATURE = "signature invalid"
    BAD_BLOCK = "block header or body undecodable"


class Rule(StrEnum):
    """A validity rule of a QBFT message; each rejection names exactly one."""

    # Any message.
    AUTHOR_NOT_VALIDATOR = "author is not a validator at this height"
    # PROPOSAL.
    NOT_PROPOSER = "author is not the proposer for this height and round"
    DIGEST_MISMATCH = "digest is not the hash of the attached block"
    BLOCK_NUMBER = "block number is not the message height"
    BLOCK_PARENT = "block parent is not the current head"
    BLOCK_SEAL = "block extraData is not a seal"
    BLOCK_ROUND = "round in the block seal is not the message round"
    BLOCK_VALIDATORS = "validator list in the block seal is not the validator set"
    PROPOSER_SEAL = "proposer seal is missing or not by the message author"
    BLOCK_COINBASE = "coinbase of a fresh block is not the message author"
    BLOCK_TIMESTAMP_EARLY = "block timestamp is before parent timestamp plus block period"
    BLOCK_TIMESTAMP_FUTURE = "block timestamp is too far ahead of the local clock"
    BLOCK_INVALID = "block failed the importer's validation"
    JUSTIFICATION_UNEXPECTED = "round 0 proposal carries a round-change justification"
    JUSTIFICATION_ROUND_CHANGE = (
        "round change in the justification is for another height or round, or by a non-validator"
    )
    JUSTIFICATION_DUPLICATE = "two round changes by one author in the justification"
    JUSTIFICATION_QUORUM = "justification has fewer round changes than the quorum"
    JUSTIFICATION_PREPARED_UNEXPECTED = "proposal carries prepares but no round change reports a prepared block"
    NOT_HIGHEST_PREPARED = "block is not the block prepared in the highest reported round"
    # COMMIT.
    COMMIT_SEAL = "commit seal does not recover to the author over the commit hash of the round's block"
    # ROUND-CHANGE.
    ROUND_CHANGE_ROUND_ZERO = "round change targets round 0"
    PREPARED_ROUND_NOT_BELOW = "prepared round is not below the target round"
    PREPARED_CERTIFICATE_MISSING = "prepared round without a prepared block or prepares"
    PREPARED_CERTIFICATE_UNEXPECTED = "prepared block or prepares without a prepared round"
    PREPARED_BLOCK_MISMATCH = "prepared block hash is not the prepared digest"
    # Prepared certificates, in a ROUND-CHANGE or a re-proposing PROPOSAL.
    CERTIFICATE_PREPARE = "prepare in the certificate is for another height, round or digest, or by a non-validator"
    CERTIFICATE_DUPLICATE = "two prepares by one author in the certificate"
    CERTIFICATE_QUORUM = "certificate has fewer prepares than the quorum"


class QbftError(KuraError):
    """Base of the QBFT engine's errors."""


class MessageDecodeError(QbftError, ValueError):
    """Bytes received from a peer are not a well-formed, signed QBFT message."""

    def __init__(self, failure: DecodeFailure, detail: str = "") -> None:
        super().__init__(f"invalid QBFT message: {failure.value}" + (f": {detail}" if detail else ""))
        self.failure = failure
        self.detail = detail


class InvalidMessage(QbftError):
    """A decoded message breaks ``rule``; it is dropped and never counted."""

    def __init__(self, rule: Rule, *, height: int, round: int, author: bytes, detail: str = "") -> None:
        text = f"rejected QBFT message: {rule.value} height={height} round={round} author=0x{author.hex()}"
        super().__init__(text + (f" {detail}" if detail else ""))
        self.rule = rule
        self.height = height
        self.round = round
        self.author = author
        self.detail = detail
