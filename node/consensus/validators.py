"""Which validators seal a block, derived from the chain itself."""

from __future__ import annotations

from node.chain.header import KuraHeader


def next_validators(parent: KuraHeader) -> tuple[bytes, ...]:
    """The validator set of the child of ``parent``.

    Each header names its validator set in its seal. The child keeps its
    parent's set; changes by vote are applied by the consensus engine
    before it proposes, and followers check the result here.
    """
    # TODO: apply qbft validator votes; until voting lands the set is fixed at genesis.
    return tuple(parent.seal.validators)
