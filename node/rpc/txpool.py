"""The ``txpool_`` namespace: pool counts in geth's format."""

from __future__ import annotations

from typing import Any

from node.rpc import params as p
from node.rpc.formatting import hex_int
from node.rpc.registry import RpcContext, method


@method("txpool_status")
def status(ctx: RpcContext, params: list[Any]) -> dict[str, str]:
    """Count executable (pending) and nonce-gapped (queued) transactions, as geth's ``txpool_status``."""
    p.expect(params, 0, 0)
    pending, queued = ctx.pool.counts()
    return {"pending": hex_int(pending), "queued": hex_int(queued)}
