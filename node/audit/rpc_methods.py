"""JSON-RPC methods the audit tools use, for a node to serve.

``kura_getGenesis`` returns the genesis document the node's store was initialised with, so
``kura audit replay --rpc URL`` needs no separate genesis file. Importing this module
registers the method in the node's method table; the RPC server must import it for the node
to serve it.
"""

from __future__ import annotations

from typing import Any

from node.rpc import params as p
from node.rpc.registry import RpcContext, method


@method("kura_getGenesis")
def get_genesis(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    p.expect(params, 0, 0)
    return ctx.chain.store.genesis_document()
