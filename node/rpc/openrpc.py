"""``rpc.discover``: an OpenRPC document listing the methods this node serves.

``rpc.discover`` is the OpenRPC service discovery method, which EIP-1901
proposes for Ethereum clients. Each method in the document carries its name
and the first line of its handler's docstring as summary.
NOTE: parameters and results are not described (empty ``params`` and an
open result schema), because the handlers validate their own parameters and
carry no machine-readable schema.
"""

from __future__ import annotations

from typing import Any

from node import __version__
from node.rpc import params as p
from node.rpc.auth import is_admin_method
from node.rpc.registry import METHODS, RpcContext, method

OPENRPC_VERSION = "1.2.6"
DISCOVER = "rpc.discover"


def _summary(name: str) -> str:
    doc = METHODS[name].__doc__
    return doc.strip().splitlines()[0] if doc else ""


@method(DISCOVER)
def discover(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    """Describe the methods this node serves, in OpenRPC format."""
    p.expect(params, 0, 0)
    names = sorted(name for name in METHODS if ctx.jwt_secret is not None or not is_admin_method(name))
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {"title": "Kura JSON-RPC", "version": __version__},
        "methods": [
            {
                "name": name,
                "summary": _summary(name),
                "paramStructure": "by-position",
                "params": [],
                "result": {"name": "result", "schema": {}},
            }
            for name in names
        ],
    }
