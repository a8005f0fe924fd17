"""The ``qbft_`` namespace: validator sets and this validator's votes (Besu's method names)."""

from __future__ import annotations

from typing import Any

from node.errors import RpcError
from node.rpc import params as p
from node.rpc.formatting import hex_address
from node.rpc.registry import RpcContext, method
from node.rpc.resolve import header_or_none


@method("qbft_getValidatorsByBlockNumber")
def get_validators_by_block_number(ctx: RpcContext, params: list[Any]) -> list[str | None]:
    (block,) = p.expect(params, 1, 1)
    header = header_or_none(ctx, p.block_ref(block))
    if header is None:
        raise RpcError(-32000, "block not found")
    return [hex_address(address) for address in header.seal.validators]


def _votes(ctx: RpcContext):  # type: ignore[no-untyped-def]
    if ctx.votes is None:
        raise RpcError(-32000, "this node is not a validator; votes are cast by validators")
    return ctx.votes


@method("qbft_proposeValidatorVote")
def propose_validator_vote(ctx: RpcContext, params: list[Any]) -> bool:
    address, add = p.expect(params, 2, 2)
    _votes(ctx).propose(p.address(address), p.boolean(add, "add"))
    return True


@method("qbft_discardValidatorVote")
def discard_validator_vote(ctx: RpcContext, params: list[Any]) -> bool:
    (address,) = p.expect(params, 1, 1)
    return bool(_votes(ctx).discard(p.address(address)))


@method("qbft_getPendingVotes")
def get_pending_votes(ctx: RpcContext, params: list[Any]) -> dict[str, bool]:
    p.expect(params, 0, 0)
    return {hex_address(address) or "": add for address, add in _votes(ctx).pending().items()}
