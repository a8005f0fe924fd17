"""The ``perm_`` namespace: account and node allowlists (Besu's method names).

Nodes are named by their 20-byte node address rather than Besu's enode
URL, because Kura identifies peers by the node key bound into their TLS
certificate.
"""

from __future__ import annotations

from typing import Any

from node.errors import ConfigError, InvalidParams, RpcError
from node.permissions import Allowlist
from node.rpc import params as p
from node.rpc.formatting import hex_address
from node.rpc.registry import RpcContext, method


def _addresses(params: list[Any]) -> list[bytes]:
    (values,) = p.expect(params, 1, 1)
    if not isinstance(values, list) or not values:
        raise InvalidParams("invalid argument 0: expected a non-empty list of addresses")
    return [p.address(value, "address") for value in values]


def _change(allowlist: Allowlist | None, params: list[Any], *, add: bool) -> str:
    if allowlist is None:
        raise RpcError(-32000, "allowlists are not available on this node")
    addresses = _addresses(params)
    try:
        if add:
            allowlist.add(addresses)
        else:
            allowlist.remove(addresses)
    except ConfigError as error:
        raise RpcError(-32000, error.message) from None
    return "Success"


def _list(allowlist: Allowlist | None) -> list[str | None]:
    if allowlist is None:
        return []
    return [hex_address(address) for address in allowlist.entries()]


@method("perm_addAccountsToAllowlist")
def add_accounts(ctx: RpcContext, params: list[Any]) -> str:
    return _change(ctx.account_allowlist, params, add=True)


@method("perm_removeAccountsFromAllowlist")
def remove_accounts(ctx: RpcContext, params: list[Any]) -> str:
    return _change(ctx.account_allowlist, params, add=False)


@method("perm_getAccountsAllowlist")
def get_accounts(ctx: RpcContext, params: list[Any]) -> list[str | None]:
    p.expect(params, 0, 0)
    return _list(ctx.account_allowlist)


@method("perm_addNodesToAllowlist")
def add_nodes(ctx: RpcContext, params: list[Any]) -> str:
    return _change(ctx.node_allowlist, params, add=True)


@method("perm_removeNodesFromAllowlist")
def remove_nodes(ctx: RpcContext, params: list[Any]) -> str:
    # NOTE: a removed node that is already connected stays connected until it reconnects.
    return _change(ctx.node_allowlist, params, add=False)


@method("perm_getNodesAllowlist")
def get_nodes(ctx: RpcContext, params: list[Any]) -> list[str | None]:
    p.expect(params, 0, 0)
    return _list(ctx.node_allowlist)
