"""Hand-built QBFT messages for unit tests, on a four-validator fake chain."""

from __future__ import annotations

from dataclasses import replace

from eth_hash.auto import keccak

from node.chain.crypto import address_of_private_key
from node.chain.header import KuraHeader
from node.consensus.qbft.block import ProposedBlock, for_round
from node.consensus.qbft.messages import (
    Commit,
    CommitPayload,
    Prepare,
    PreparePayload,
    Proposal,
    ProposalPayload,
    RoundChange,
    RoundChangePayload,
    Signed,
    sign,
)
from node.consensus.qbft.validation import proposer_for
from node.consensus.seals import commit_seal
from tests.consensus.fake_chain import genesis_header, make_block, validator_keys

KEYS = validator_keys(4)
VALIDATORS = tuple(address_of_private_key(key) for key in KEYS)
OUTSIDER_KEY = keccak(b"kura qbft test outsider")
GENESIS = genesis_header(VALIDATORS)
#: Local clock of unit tests, Unix seconds: far after the genesis timestamp 0.
NOW = 1000.0


def key_of(address: bytes) -> bytes:
    return KEYS[VALIDATORS.index(address)]


def proposer_key(height: int, round: int) -> bytes:
    return key_of(proposer_for(VALIDATORS, height, round))


def other_keys(*excluded: bytes) -> list[bytes]:
    return [key for key in KEYS if key not in excluded]


def block(
    height: int = 1, round: int = 0, *, key: bytes | None = None, parent: KuraHeader = GENESIS, **kwargs
) -> ProposedBlock:
    """A valid block for (height, round) by its proposer; ``kwargs`` go to make_block (salt, timestamp)."""
    assert parent.block_number == height - 1
    kwargs.setdefault("timestamp", int(NOW))
    return make_block(parent, key or proposer_key(height, round), VALIDATORS, round=round, **kwargs)


def proposal(
    height: int = 1,
    round: int = 0,
    *,
    key: bytes | None = None,
    proposed: ProposedBlock | None = None,
    digest: bytes | None = None,
    round_changes: tuple[Signed[RoundChangePayload], ...] = (),
    prepares: tuple[Signed[PreparePayload], ...] = (),
) -> Proposal:
    key = key or proposer_key(height, round)
    proposed = proposed or block(height, round, key=key)
    payload = ProposalPayload(height, round, digest or proposed.hash)
    return Proposal(sign(payload, key), proposed, round_changes, prepares)


def prepare(key: bytes, height: int, round: int, digest: bytes) -> Prepare:
    return Prepare(sign(PreparePayload(height, round, digest), key))


def with_round(header: KuraHeader, round: int) -> KuraHeader:
    """Return ``header`` with ``round`` written into its seal: the same block hash, but the commit hash of ``round``."""
    return header.copy(extra_data=replace(header.seal, round=round).encode())


def commit(
    key: bytes,
    height: int,
    round: int,
    proposed: ProposedBlock,
    *,
    seal_key: bytes | None = None,
    seal_round: int | None = None,
) -> Commit:
    """Build a commit of ``proposed`` in ``round`` whose seal signs the commit hash of ``seal_round`` (default ``round``)."""
    header = with_round(proposed.header, round if seal_round is None else seal_round)
    seal = commit_seal(header, seal_key or key)
    return Commit(sign(CommitPayload(height, round, proposed.hash, seal), key))


def prepares_for(keys: list[bytes], height: int, round: int, digest: bytes) -> tuple[Signed[PreparePayload], ...]:
    return tuple(prepare(key, height, round, digest).signed for key in keys)


def round_change(
    key: bytes,
    height: int,
    round: int,
    *,
    prepared: ProposedBlock | None = None,
    prepared_round: int | None = None,
    prepares: tuple[Signed[PreparePayload], ...] | None = None,
) -> RoundChange:
    """A round change; with ``prepared`` it reports that block, by default with a quorum of prepares."""
    if prepared is None:
        return RoundChange(sign(RoundChangePayload(height, round), key))
    assert prepared_round is not None
    if prepares is None:
        prepares = prepares_for(KEYS[:3], height, prepared_round, prepared.hash)
    payload = RoundChangePayload(height, round, prepared_round, prepared.hash)
    return RoundChange(sign(payload, key), prepared, prepares)


def reproposal(
    height: int, round: int, prepared: ProposedBlock, prepared_round: int, *, key: bytes | None = None
) -> Proposal:
    """Build a proposal in ``round`` that re-proposes ``prepared``, justified by three round changes that report it.

    The block is resealed for ``round`` by the proposal's author, as an honest re-proposer does.
    """
    key = key or proposer_key(height, round)
    round_changes = tuple(
        round_change(k, height, round, prepared=prepared, prepared_round=prepared_round).signed for k in KEYS[:3]
    )
    prepares = prepares_for(KEYS[:3], height, prepared_round, prepared.hash)
    resealed = for_round(prepared, round, key)
    return proposal(height, round, key=key, proposed=resealed, round_changes=round_changes, prepares=prepares)
