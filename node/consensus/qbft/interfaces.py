"""The narrow interfaces between the QBFT engine and the rest of the node.

The engine never imports the store, the EVM, the transaction pool or the
network. The node wires it in by implementing these Protocols and by
calling the engine's event methods (``handle_message``, ``handle_timeout``,
``handle_block_timer``, ``handle_new_head``) from one thread, or under one
lock: the engine is not thread-safe.
"""

from __future__ import annotations

from typing import Protocol

from node.chain.header import KuraHeader
from node.consensus.qbft.block import ProposedBlock
from node.consensus.qbft.round_state import PreparedCertificate


class BlockCreator(Protocol):
    """Builds proposals for this node."""

    def create_block(self, parent: KuraHeader, *, round: int, timestamp: int) -> ProposedBlock:
        """Build and seal a child of ``parent`` for ``round``.

        The header's extraData must be the seal of :mod:`node.chain.seal`
        with the validator set of the new height, ``round`` and this node's
        proposer seal (:func:`node.consensus.seals.add_proposer_seal`), and
        no commit seals. Its coinbase must be this node's address, which
        stays when another validator re-proposes the block. The body is whatever the importer decodes, in the
        node the RLP list of the transactions. In the node this is
        ``Chain.make_template`` + ``Chain.build`` + ``add_proposer_seal``.
        Any exception is logged and the round is left to time out.
        """
        ...


class BlockImporter(Protocol):
    """Checks proposed blocks and stores finalised ones."""

    def validate_block(self, block: ProposedBlock) -> None:
        """Re-execute ``block`` on its parent and check every execution result in its header.

        Raise :class:`node.errors.BlockValidationError` naming the failed
        rule; the engine then rejects the proposal with rule BLOCK_INVALID.
        The engine has already checked the number, parent, seal, round,
        validator list, proposer seal and timestamp. May keep the executed
        result for ``import_block``, keyed by ``block.hash``: a block
        re-proposed in a later round comes back with the same hash, body and
        execution, and only its seal round and proposer seal changed.
        """
        ...

    def import_block(self, block: ProposedBlock) -> None:
        """Store a finalised block as the new head.

        ``block.header`` is the header proposed in the round that committed
        the block, with a quorum of that round's commit seals, so it passes
        :func:`node.consensus.seals.verify_seals`. Its hash is the hash of a
        block that ``validate_block`` accepted or that a quorum of validators
        committed. The header that ``validate_block`` saw may carry another
        round and proposer seal. Raise if it cannot be stored; the engine logs
        the error and stays at this height until ``handle_new_head``.
        """
        ...


class Gossip(Protocol):
    """Sends consensus messages to the other validators."""

    def broadcast(self, message: bytes) -> None:
        """Send ``message`` to every other validator of the current height, best effort.

        Must not block on the network and must not call back into the
        engine. The engine handles its own messages itself, so sending one
        back to this node is harmless but unnecessary.
        """
        ...


class RoundTimer(Protocol):
    """Timers that call back into the engine.

    Each callback must come from the same thread as the other engine
    events, never from inside one of these calls.
    """

    def start_round_timer(self, height: int, round: int, seconds: float) -> None:
        """Call ``engine.handle_timeout(height, round)`` once after ``seconds``, replacing the running round timer."""
        ...

    def cancel_round_timer(self) -> None:
        """Stop the running round timer, if any."""
        ...

    def start_block_timer(self, height: int, seconds: float) -> None:
        """Call ``engine.handle_block_timer(height)`` once after ``seconds``, replacing the running block timer."""
        ...


class ValidatorProvider(Protocol):
    """The validator set per height."""

    def validators_at(self, height: int) -> tuple[bytes, ...]:
        """Return the 20-byte addresses that may seal block ``height``, sorted ascending.

        Called for the height the engine is working on, whose parent is the
        current head. In Kura today this is the genesis list
        (``ChainConfig.validators``), which is already sorted.
        """
        ...


class VoteJournal(Protocol):
    """Durable record of the last round this validator sent a message in, with its lock.

    After a restart in the middle of a height, the engine resumes in the
    round after the recorded one, carrying the recorded prepared
    certificate. So a validator never sends two different messages of one
    kind in one round, and never drops the lock a quorum may rely on.
    """

    def record(self, height: int, round: int, prepared: PreparedCertificate | None) -> None:
        """Store that this node is about to send a message of ``round`` at ``height``, durably, before returning.

        Raise if it cannot be stored: the engine then does not send the message.
        """
        ...

    def recall(self, height: int) -> tuple[int, PreparedCertificate | None] | None:
        """Return the round and the prepared certificate recorded for ``height``, or None."""
        ...
