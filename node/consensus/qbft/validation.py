"""Validity rules of QBFT messages, one validator class per message type.

Each validator raises :class:`InvalidMessage` naming the first rule the
message breaks. Validators see one height: the engine has already routed the
message by height, and the decoder has recovered every author.

Proposer selection is round-robin over the sorted validator list: the
proposer of (height, round) is ``validators[(height + round) % n]``. It
needs only the height and round, so every validator computes it without
reading block history, and a round change always moves to the next
validator. A crashed validator therefore costs one round change each time
its turn comes, once every n heights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from node.chain.crypto import SignatureError, recover_address
from node.chain.header import KuraHeader
from node.chain.seal import SealFormatError
from node.consensus.qbft.config import QbftConfig
from node.consensus.qbft.errors import InvalidMessage, Rule
from node.consensus.qbft.interfaces import BlockImporter
from node.consensus.qbft.messages import Commit, Message, Prepare, PreparePayload, Proposal, RoundChange, Signed
from node.consensus.seals import proposer_of, quorum_size
from node.errors import BlockValidationError


def proposer_for(validators: tuple[bytes, ...], height: int, round: int) -> bytes:
    """Return the proposer of ``round`` at ``height``: ``validators[(height + round) % n]``."""
    return validators[(height + round) % len(validators)]


@dataclass(frozen=True)
class HeightContext:
    """Inputs of one height's rules: the height, its parent (the head) and its validators."""

    height: int
    parent: KuraHeader
    validators: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.validators:
            raise ValueError(f"height {self.height} has an empty validator set")

    @property
    def quorum(self) -> int:
        """Messages from distinct validators needed to prepare, commit or change round: ceil(2n/3)."""
        return quorum_size(len(self.validators))

    @property
    def max_faulty(self) -> int:
        """f, the number of byzantine validators tolerated: floor((n - 1) / 3)."""
        return (len(self.validators) - 1) // 3

    def proposer(self, round: int) -> bytes:
        return proposer_for(self.validators, self.height, round)

    def is_validator(self, address: bytes) -> bool:
        return address in self.validators


def _reject(message: Message, rule: Rule, detail: str = "") -> InvalidMessage:
    return InvalidMessage(rule, height=message.height, round=message.round, author=message.author, detail=detail)


def _require_validator(context: HeightContext, message: Message) -> None:
    if not context.is_validator(message.author):
        raise _reject(message, Rule.AUTHOR_NOT_VALIDATOR)


def check_prepared_certificate(
    context: HeightContext,
    message: Message,
    prepares: Iterable[Signed[PreparePayload]],
    prepared_round: int,
    digest: bytes,
) -> None:
    """Require a quorum of distinct validators' prepares for (height, ``prepared_round``, ``digest``).

    Raises InvalidMessage naming ``message``, the message that carries the certificate.
    """
    authors: set[bytes] = set()
    for prepare in prepares:
        payload = prepare.payload
        if (
            payload.height != context.height
            or payload.round != prepared_round
            or payload.digest != digest
            or not context.is_validator(prepare.author)
        ):
            raise _reject(
                message,
                Rule.CERTIFICATE_PREPARE,
                f"prepare height={payload.height} round={payload.round} author=0x{prepare.author.hex()}",
            )
        if prepare.author in authors:
            raise _reject(message, Rule.CERTIFICATE_DUPLICATE, f"author=0x{prepare.author.hex()}")
        authors.add(prepare.author)
    if len(authors) < context.quorum:
        raise _reject(message, Rule.CERTIFICATE_QUORUM, f"got {len(authors)}, expected {context.quorum}")


class ProposalValidator:
    """Rules of a PROPOSAL: proposer, block, round-change justification, then execution.

    A proposal either carries a fresh block or re-proposes the block prepared
    in the highest round its justification reports. Either way its header
    carries the proposal's round in the seal and a proposer seal by the
    proposal's author. A re-proposal changes only those two fields, so its
    block hash is the prepared one; a fresh block's coinbase is its author.
    """

    def __init__(
        self, context: HeightContext, importer: BlockImporter, config: QbftConfig, clock: Callable[[], float]
    ) -> None:
        self._context = context
        self._importer = importer
        self._config = config
        self._clock = clock

    def validate(self, proposal: Proposal) -> None:
        """Raise InvalidMessage unless ``proposal`` may be prepared.

        Execution by the importer runs last, because it is the expensive check.
        """
        _require_validator(self._context, proposal)
        expected = self._context.proposer(proposal.round)
        if proposal.author != expected:
            raise _reject(proposal, Rule.NOT_PROPOSER, f"expected 0x{expected.hex()}")
        self._check_block(proposal)

        if proposal.round == 0:
            if proposal.round_changes or proposal.prepares:
                raise _reject(proposal, Rule.JUSTIFICATION_UNEXPECTED)
            reproposal = False
        else:
            reproposal = self._check_justification(proposal)
        if not reproposal and proposal.block.header.coinbase != proposal.author:
            raise _reject(proposal, Rule.BLOCK_COINBASE, f"got 0x{proposal.block.header.coinbase.hex()}")

        try:
            self._importer.validate_block(proposal.block)
        except BlockValidationError as error:
            raise _reject(proposal, Rule.BLOCK_INVALID, error.message) from None

    def _check_block(self, proposal: Proposal) -> None:
        """Check the rules every proposed block meets, fresh or re-proposed."""
        context = self._context
        block = proposal.block
        header = block.header
        if proposal.digest != block.hash:
            raise _reject(proposal, Rule.DIGEST_MISMATCH, f"block hash 0x{block.hash.hex()}")
        if header.block_number != context.height:
            raise _reject(proposal, Rule.BLOCK_NUMBER, f"got {header.block_number}")
        if header.parent_hash != context.parent.hash:
            raise _reject(proposal, Rule.BLOCK_PARENT, f"got 0x{header.parent_hash.hex()}")
        try:
            seal = header.seal
        except SealFormatError as error:
            raise _reject(proposal, Rule.BLOCK_SEAL, str(error)) from None
        if tuple(seal.validators) != context.validators:
            raise _reject(proposal, Rule.BLOCK_VALIDATORS)
        if seal.round != proposal.round:
            raise _reject(proposal, Rule.BLOCK_ROUND, f"got {seal.round}")
        try:
            signer = proposer_of(header)
        except BlockValidationError as error:
            raise _reject(proposal, Rule.PROPOSER_SEAL, error.message) from None
        if signer != proposal.author:
            raise _reject(proposal, Rule.PROPOSER_SEAL, f"signed by 0x{signer.hex()}")

        earliest = context.parent.timestamp + self._config.block_period
        if header.timestamp < earliest:
            raise _reject(proposal, Rule.BLOCK_TIMESTAMP_EARLY, f"got {header.timestamp}, expected >= {earliest}")
        latest = self._clock() + self._config.max_clock_skew
        if header.timestamp > latest:
            raise _reject(proposal, Rule.BLOCK_TIMESTAMP_FUTURE, f"got {header.timestamp}, expected <= {latest:.0f}")

    def _check_justification(self, proposal: Proposal) -> bool:
        """Check QBFT's justification of a proposal in round r > 0; return whether it must be a re-proposal.

        A quorum of round changes for (height, r) must back the proposal. If
        any of them reports a prepared block, the proposal must re-propose
        the block of the highest reported prepared round, proven by a quorum
        of prepares from that round. The block is compared by its hash, which
        does not change when the re-proposer reseals it for this round.
        """
        context = self._context
        authors: set[bytes] = set()
        for round_change in proposal.round_changes:
            payload = round_change.payload
            if (
                payload.height != context.height
                or payload.round != proposal.round
                or not context.is_validator(round_change.author)
                or (payload.prepared_round is not None and payload.prepared_round >= proposal.round)
            ):
                raise _reject(
                    proposal,
                    Rule.JUSTIFICATION_ROUND_CHANGE,
                    f"round change height={payload.height} round={payload.round} "
                    f"prepared_round={payload.prepared_round} author=0x{round_change.author.hex()}",
                )
            if round_change.author in authors:
                raise _reject(proposal, Rule.JUSTIFICATION_DUPLICATE, f"author=0x{round_change.author.hex()}")
            authors.add(round_change.author)
        if len(authors) < context.quorum:
            raise _reject(proposal, Rule.JUSTIFICATION_QUORUM, f"got {len(authors)}, expected {context.quorum}")

        reported = [rc.payload for rc in proposal.round_changes if rc.payload.prepared_round is not None]
        if not reported:
            if proposal.prepares:
                raise _reject(proposal, Rule.JUSTIFICATION_PREPARED_UNEXPECTED)
            return False

        highest = max(payload.prepared_round or 0 for payload in reported)
        digests = {payload.prepared_digest for payload in reported if payload.prepared_round == highest}
        if proposal.digest not in digests:
            raise _reject(proposal, Rule.NOT_HIGHEST_PREPARED, f"highest prepared round {highest}")
        check_prepared_certificate(context, proposal, proposal.prepares, highest, proposal.digest)
        return True


class PrepareValidator:
    """Rules of a PREPARE: the author is a validator. Its digest is compared when it is counted."""

    def __init__(self, context: HeightContext) -> None:
        self._context = context

    def validate(self, prepare: Prepare) -> None:
        _require_validator(self._context, prepare)


class CommitValidator:
    """Rules of a COMMIT: the author is a validator, and its commit seal signs the commit hash of the round's block.

    The seal can only be checked against the header that the commit's round
    proposed for its digest, because the commit hash binds the round
    (:mod:`node.chain.seal`). A commit that arrives before that header is
    held and checked once the header is known, as Besu's ``RoundState`` does.
    """

    def __init__(self, context: HeightContext) -> None:
        self._context = context

    def validate(self, commit: Commit) -> None:
        """Check the rules that need no header: the author is a validator."""
        _require_validator(self._context, commit)

    def validate_seal(self, commit: Commit, header: KuraHeader) -> None:
        """Check that the commit seal recovers to the author over ``header.commit_hash``.

        ``header`` must be the header of ``commit.round`` for ``commit.digest``:
        its hash is the digest and its seal carries the commit's round.
        """
        try:
            signer = recover_address(header.commit_hash, commit.commit_seal)
        except SignatureError as error:
            raise _reject(commit, Rule.COMMIT_SEAL, str(error)) from None
        if signer != commit.author:
            raise _reject(commit, Rule.COMMIT_SEAL, f"seal signed by 0x{signer.hex()}")


class RoundChangeValidator:
    """Rules of a ROUND-CHANGE: target round, and the prepared certificate if one is reported."""

    def __init__(self, context: HeightContext) -> None:
        self._context = context

    def validate(self, round_change: RoundChange) -> None:
        _require_validator(self._context, round_change)
        if round_change.round == 0:
            raise _reject(round_change, Rule.ROUND_CHANGE_ROUND_ZERO)

        prepared_round = round_change.prepared_round
        if prepared_round is None:
            if round_change.prepared_block is not None or round_change.prepares:
                raise _reject(round_change, Rule.PREPARED_CERTIFICATE_UNEXPECTED)
            return
        if prepared_round >= round_change.round:
            raise _reject(round_change, Rule.PREPARED_ROUND_NOT_BELOW, f"prepared round {prepared_round}")
        digest = round_change.prepared_digest
        if round_change.prepared_block is None or not round_change.prepares or digest is None:
            raise _reject(round_change, Rule.PREPARED_CERTIFICATE_MISSING)
        if round_change.prepared_block.hash != digest:
            raise _reject(
                round_change, Rule.PREPARED_BLOCK_MISMATCH, f"block hash 0x{round_change.prepared_block.hash.hex()}"
            )
        check_prepared_certificate(self._context, round_change, round_change.prepares, prepared_round, digest)
