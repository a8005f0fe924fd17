"""The QBFT state machine of one height: rounds, prepared certificates, round changes and finalisation.

The protocol is QBFT as in Besu, built on IBFT 2.0 (Saltini and
Hyland-Wood, "IBFT 2.0: A Safe and Live Variation of the IBFT Blockchain
Consensus Protocol for Eventually Synchronous Networks", 2019):

- the proposer of a round sends PROPOSAL; a validator that accepts it sends
  PREPARE;
- on a quorum of PREPAREs for the accepted block a validator is *prepared*:
  it keeps the block with the prepares as its prepared certificate and
  sends COMMIT with its commit seal;
- a quorum of COMMITs from one round finalises the block: the commit seals
  go into the header proposed in that round and the block is imported;
- when a round times out, a validator sends ROUND-CHANGE for the next round
  with its prepared certificate. Round changes from f+1 validators for
  higher rounds pull a lagging validator up to their round;
- the proposer of a round with a quorum of round changes proposes. If any
  of them reports a prepared block, it re-proposes the block of the highest
  prepared round. That rule carries a block that may have been finalised
  into every later round, so no other block of the height can be finalised.

As in Besu, a re-proposal writes its round into the prepared header's seal
and replaces the proposer seal with the re-proposer's
(:func:`node.consensus.qbft.block.for_round`). The block hash counts the
round as 0 and omits both kinds of seal (:mod:`node.chain.seal`), so the
block keeps its hash in every round. Proposals, prepares, commits and
prepared certificates name the block by that hash, and every node reports
the same hash whichever round finalised it.

A commit seal signs the commit hash of the header proposed in the commit's
round, which binds that round. A commit is counted only once its seal
recovers to its author over that header; one that arrives before the
round's block waits unchecked. The finalised header is the round's header
with a quorum of the round's seals, so
:func:`node.consensus.seals.verify_seals` accepts it and rejects any header
that combines seals cast in different rounds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from node.chain.header import KuraHeader
from node.chain.seal import SealFormatError
from node.consensus.qbft.block import ProposedBlock, for_round
from node.consensus.qbft.config import QbftConfig
from node.consensus.qbft.errors import InvalidMessage
from node.consensus.qbft.interfaces import BlockCreator, BlockImporter, RoundTimer, VoteJournal
from node.consensus.qbft.messages import (
    Commit,
    CommitPayload,
    Message,
    MessageCode,
    Prepare,
    PreparePayload,
    Proposal,
    ProposalPayload,
    RoundChange,
    RoundChangePayload,
    Signed,
    sign,
)
from node.consensus.qbft.round_state import (
    AddResult,
    PreparedCertificate,
    RoundChangeSet,
    RoundState,
    signed_round_change,
)
from node.consensus.qbft.validation import (
    CommitValidator,
    HeightContext,
    PrepareValidator,
    ProposalValidator,
    RoundChangeValidator,
)
from node.consensus.seals import commit_seal, proposer_of, with_commit_seals
from node.errors import BlockValidationError

logger = logging.getLogger(__name__)


class HeightManager:
    """Runs the rounds of one height until a block is finalised.

    The ``handle_*`` methods raise :class:`InvalidMessage` for a message that
    breaks a rule; the caller logs it. A commit held until its round's block
    arrives is rejected later, through ``on_rejected``. Messages this node
    sends go to ``send``, which must deliver them to the other validators
    and back to this manager. ``on_finalized`` receives the sealed block
    once, after which every handler ignores its input.
    """

    def __init__(
        self,
        context: HeightContext,
        *,
        private_key: bytes,
        address: bytes,
        creator: BlockCreator,
        importer: BlockImporter,
        timer: RoundTimer,
        clock: Callable[[], float],
        config: QbftConfig,
        send: Callable[[Message], None],
        on_finalized: Callable[[ProposedBlock], None],
        on_rejected: Callable[[Message, InvalidMessage], None],
        journal: VoteJournal | None = None,
    ) -> None:
        self.context = context
        self.round = 0
        self.finalized = False
        self._key = private_key
        self._address = address
        self._is_validator = context.is_validator(address)
        self._creator = creator
        self._timer = timer
        self._clock = clock
        self._config = config
        self._transmit = send
        self._journal = journal
        self._on_finalized = on_finalized
        self._on_rejected = on_rejected

        self._rounds: dict[int, RoundState] = {}
        self._round_changes = RoundChangeSet(context.quorum, context.max_faulty)
        # Kept in the vote journal too, when there is one (see VoteJournal).
        self._prepared: PreparedCertificate | None = None
        self._equivocations: set[tuple[bytes, MessageCode, int]] = set()

        self._proposal_validator = ProposalValidator(context, importer, config, clock)
        self._prepare_validator = PrepareValidator(context)
        self._commit_validator = CommitValidator(context)
        self._round_change_validator = RoundChangeValidator(context)

    @property
    def height(self) -> int:
        return self.context.height

    @property
    def parent(self) -> KuraHeader:
        return self.context.parent

    @property
    def prepared(self) -> PreparedCertificate | None:
        """This node's prepared certificate of the highest round it prepared in, if any."""
        return self._prepared

    def start(self) -> None:
        """Start round 0: its timer, and the block timer if this node proposes it."""
        wait = max(0.0, self.parent.timestamp + self._config.block_period - self._clock())
        self._timer.start_round_timer(self.height, 0, wait + self._config.round_timeout(0))
        if self._is_proposer(0):
            self._timer.start_block_timer(self.height, wait)
        logger.debug(
            "started height=%d round=0 proposer=0x%s validators=%d",
            self.height,
            self.context.proposer(0).hex(),
            len(self.context.validators),
        )
        recalled = self._journal.recall(self.height) if self._journal is not None and self._is_validator else None
        if recalled is not None:
            round, prepared = recalled
            self._prepared = prepared
            logger.info(
                "resuming after a restart height=%d last_round=%d prepared_round=%s; moving to round %d",
                self.height,
                round,
                None if prepared is None else prepared.round,
                round + 1,
            )
            self._move_to_round(round + 1, announce=True)

    # Timer events.

    def handle_block_timer(self) -> None:
        """Propose in round 0 once the block period since the parent has passed."""
        if self.finalized or self.round != 0 or not self._is_proposer(0):
            return
        state = self._state(0)
        if state.sent_proposal or state.proposal is not None:
            return
        block = self._create_block(0)
        if block is not None:
            self._propose(state, block)

    def handle_timeout(self, round: int) -> None:
        if self.finalized or round != self.round:
            return
        logger.info("round timed out height=%d round=%d; moving to round %d", self.height, round, round + 1)
        self._move_to_round(round + 1, announce=True)

    # Messages.

    def handle_proposal(self, proposal: Proposal) -> None:
        round = proposal.round
        if self.finalized or round < self.round:
            _log_ignored(proposal, "finalized" if self.finalized else "earlier round")
            return
        state = self._state(round)
        if state.proposal is not None and state.proposal.author == proposal.author:
            self._log_repeat(proposal, state.proposal.signed.encoded == proposal.signed.encoded)
            return
        if state.proposal is not None:
            # Another author than the round's proposer: validation names the rule it breaks.
            self._proposal_validator.validate(proposal)
            return
        self._proposal_validator.validate(proposal)

        state.proposal = proposal
        if round > self.round:
            # A justified proposal for a later round moves this node there directly.
            self._move_to_round(round, announce=False)
        logger.debug(
            "accepted proposal height=%d round=%d author=0x%s hash=0x%s",
            self.height,
            round,
            proposal.author.hex(),
            proposal.digest.hex(),
        )
        if self._is_validator:
            self._send(Prepare(sign(PreparePayload(self.height, round, proposal.digest), self._key)))
        self._check_prepared(state)
        self._add_round_block(state, proposal.block)

    def handle_prepare(self, prepare: Prepare) -> None:
        self._prepare_validator.validate(prepare)
        if self.finalized or not self._round_in_window(prepare.round, allow_earlier=False):
            _log_ignored(prepare, "finalized" if self.finalized else "round outside the window")
            return
        state = self._state(prepare.round)
        result = state.add_prepare(prepare)
        if result is not AddResult.ADDED:
            self._log_repeat(prepare, result is AddResult.DUPLICATE)
            return
        self._check_prepared(state)

    def handle_commit(self, commit: Commit) -> None:
        self._commit_validator.validate(commit)
        # Commits of earlier rounds still count: a quorum from any one round finalises its block.
        if self.finalized or not self._round_in_window(commit.round, allow_earlier=True):
            _log_ignored(commit, "finalized" if self.finalized else "round outside the window")
            return
        state = self._state(commit.round)
        block = state.blocks.get(commit.digest)
        if block is not None:
            self._commit_validator.validate_seal(commit, block.header)
        result = state.add_commit(commit, checked=block is not None)
        if result is not AddResult.ADDED:
            self._log_repeat(commit, result is AddResult.DUPLICATE)
            return
        if block is None:
            logger.debug(
                "holding COMMIT until its block arrives height=%d round=%d author=0x%s hash=0x%s",
                self.height,
                commit.round,
                commit.author.hex(),
                commit.digest.hex(),
            )
            return
        self._check_committed(state, commit.digest)

    def handle_round_change(self, round_change: RoundChange) -> None:
        self._round_change_validator.validate(round_change)
        if self.finalized or not self._round_in_window(round_change.round, allow_earlier=False):
            _log_ignored(round_change, "finalized" if self.finalized else "round outside the window")
            return
        result = self._round_changes.add(round_change)
        if result is not AddResult.ADDED:
            self._log_repeat(round_change, result is AddResult.DUPLICATE)
            return
        logger.debug(
            "round change height=%d round=%d author=0x%s prepared_round=%s",
            self.height,
            round_change.round,
            round_change.author.hex(),
            round_change.prepared_round,
        )
        if round_change.prepared_block is not None and round_change.prepared_round is not None:
            self._learn_prepared_block(round_change.prepared_block, round_change.prepared_round)
            if self.finalized:
                return

        if round_change.round > self.round:
            target = self._round_changes.catch_up_round(self.round)
            if target is not None:
                logger.info(
                    "f+1 validators are past round height=%d round=%d; moving to round %d",
                    self.height,
                    self.round,
                    target,
                )
                self._move_to_round(target, announce=True)
        self._check_round_change_quorum()

    # Steps.

    def _check_prepared(self, state: RoundState) -> None:
        """Lock on the accepted block and send COMMIT once a quorum prepared it in the current round."""
        if state.round != self.round or state.sent_commit or not self._is_validator:
            return
        certificate = state.prepared_certificate()
        if certificate is None:
            return
        self._prepared = certificate
        state.sent_commit = True
        block = certificate.block
        logger.debug("prepared height=%d round=%d hash=0x%s", self.height, state.round, block.hash.hex())
        seal = commit_seal(block.header, self._key)
        self._send(Commit(sign(CommitPayload(self.height, state.round, block.hash, seal), self._key)))

    def _add_round_block(self, state: RoundState, block: ProposedBlock) -> None:
        """Record ``block`` as the round's header of its hash, check the commits held for it, and finalise on a quorum.

        ``block``'s seal must carry ``state``'s round and a proposer seal by
        that round's proposer: an accepted proposal, or a prepared block that
        passed :meth:`_is_round_header`.
        """
        state.blocks[block.hash] = block
        for commit in state.take_unchecked_commits(block.hash):
            try:
                self._commit_validator.validate_seal(commit, block.header)
            except InvalidMessage as error:
                self._on_rejected(commit, error)
                continue
            state.add_commit(commit, checked=True)
        self._check_committed(state, block.hash)

    def _check_committed(self, state: RoundState, digest: bytes) -> None:
        """Finalise the block ``digest`` if a quorum of ``state``'s round committed it and the round's header is known."""
        if self.finalized:
            return
        block = state.blocks.get(digest)
        commits = state.commits_for(digest)
        if block is None or len(commits) < self.context.quorum:
            return

        # Seals in validator order, so nodes with the same commits write the same header.
        position = {validator: index for index, validator in enumerate(self.context.validators)}
        commits.sort(key=lambda commit: position[commit.author])
        header = with_commit_seals(block.header, [commit.commit_seal for commit in commits])

        self.finalized = True
        self._timer.cancel_round_timer()
        logger.info(
            "finalized block height=%d round=%d hash=0x%s seals=%d",
            self.height,
            state.round,
            digest.hex(),
            len(commits),
        )
        self._on_finalized(ProposedBlock(header, block.body))

    def _learn_prepared_block(self, block: ProposedBlock, round: int) -> None:
        """Keep a round change's prepared block as ``round``'s header, so commits of that round can finalise it.

        The certificate proves that a quorum prepared the block's hash in
        ``round``, but the hash omits the round and the proposer seal, so a
        byzantine author can attach the block with another round's seal.
        Such a header is not used, because the finalised header must carry
        the round of its commit seals and that round's proposer seal.
        """
        if not self._is_round_header(block.header, round):
            logger.debug(
                "prepared block is not the proposal of its round height=%d round=%d hash=0x%s",
                self.height,
                round,
                block.hash.hex(),
            )
            return
        state = self._state(round)
        if block.hash not in state.blocks:
            self._add_round_block(state, block)

    def _is_round_header(self, header: KuraHeader, round: int) -> bool:
        """Return whether ``header``'s seal carries ``round`` and a proposer seal by the proposer of ``round``."""
        try:
            return header.seal.round == round and proposer_of(header) == self.context.proposer(round)
        except (SealFormatError, BlockValidationError):
            return False

    def _move_to_round(self, round: int, *, announce: bool) -> None:
        """Enter ``round``, restart the round timer and, if ``announce``, send ROUND-CHANGE with the certificate."""
        self.round = round
        self._round_changes.discard_below(round)
        self._timer.start_round_timer(self.height, round, self._config.round_timeout(round))
        if announce and self._is_validator:
            self._send(signed_round_change(self.height, round, self._prepared, self._key))
        self._check_round_change_quorum()

    def _check_round_change_quorum(self) -> None:
        """As proposer of the current round > 0, propose once a quorum of round changes justifies it."""
        round = self.round
        if round == 0 or self.finalized or not self._is_proposer(round):
            return
        state = self._state(round)
        if state.sent_proposal or state.proposal is not None:
            return
        justification = self._round_changes.justification(round)
        if justification is None:
            return

        # The justification is sorted by prepared round, highest first.
        highest = justification[0]
        round_changes = tuple(rc.signed for rc in justification)
        if highest.prepared_block is not None:
            logger.info(
                "re-proposing block prepared in round %s height=%d round=%d hash=0x%s",
                highest.prepared_round,
                self.height,
                round,
                highest.prepared_block.hash.hex(),
            )
            try:
                resealed = for_round(highest.prepared_block, round, self._key)
            except SealFormatError:
                # Unreachable unless a quorum prepared a header whose extraData is not a
                # seal, which honest validators reject (rule BLOCK_SEAL).
                logger.exception(
                    "prepared block has no seal height=%d round=%d; the round will time out", self.height, round
                )
                return
            self._propose(state, resealed, round_changes, highest.prepares)
            return
        created = self._create_block(round)
        if created is not None:
            self._propose(state, created, round_changes)

    def _create_block(self, round: int) -> ProposedBlock | None:
        timestamp = max(self.parent.timestamp + self._config.block_period, int(self._clock()))
        try:
            return self._creator.create_block(self.parent, round=round, timestamp=timestamp)
        except Exception:
            # The creator runs node code (execution, the pool); any failure
            # leaves this round to time out, and the next proposer tries.
            logger.exception("block creation failed height=%d round=%d; the round will time out", self.height, round)
            return None

    def _propose(
        self,
        state: RoundState,
        block: ProposedBlock,
        round_changes: tuple[Signed[RoundChangePayload], ...] = (),
        prepares: tuple[Signed[PreparePayload], ...] = (),
    ) -> None:
        state.sent_proposal = True
        payload = ProposalPayload(self.height, state.round, block.hash)
        logger.info("proposing block height=%d round=%d hash=0x%s", self.height, state.round, block.hash.hex())
        self._send(Proposal(sign(payload, self._key), block, round_changes, prepares))

    # Helpers.

    def _send(self, message: Message) -> None:
        """Record the round in the vote journal, then send; a failed record sends nothing."""
        if self._journal is not None:
            self._journal.record(self.height, message.round, self._prepared)
        self._transmit(message)

    def _state(self, round: int) -> RoundState:
        state = self._rounds.get(round)
        if state is None:
            state = self._rounds[round] = RoundState(round, self.context.quorum)
        return state

    def _is_proposer(self, round: int) -> bool:
        return self._is_validator and self.context.proposer(round) == self._address

    def _log_repeat(self, message: Message, duplicate: bool) -> None:
        # A byzantine author can sign any number of conflicting messages, so
        # each (author, kind, round) is reported at WARNING once.
        key = (message.author, message.code, message.round)
        level = logging.DEBUG if duplicate or key in self._equivocations else logging.WARNING
        if not duplicate:
            self._equivocations.add(key)
        logger.log(
            level,
            "%s %s height=%d round=%d author=0x%s",
            "duplicate" if duplicate else "equivocation: dropped second, conflicting",
            message.code.name,
            message.height,
            message.round,
            message.author.hex(),
        )

    def _round_in_window(self, round: int, *, allow_earlier: bool) -> bool:
        if round > self.round + self._config.future_rounds:
            return False
        return allow_earlier or round >= self.round


def _log_ignored(message: Message, reason: str) -> None:
    logger.debug(
        "ignored %s height=%d round=%d author=0x%s: %s",
        message.code.name,
        message.height,
        message.round,
        message.author.hex(),
        reason,
    )
