"""The ``web3_`` and ``net_`` namespaces."""

from __future__ import annotations

from typing import Any

from eth_hash.auto import keccak

from node.rpc import params as p
from node.rpc.formatting import hex_bytes
from node.rpc.registry import RpcContext, method


@method("web3_clientVersion")
def client_version(ctx: RpcContext, params: list[Any]) -> str:
    p.expect(params, 0, 0)
    return ctx.client_version


@method("web3_sha3")
def sha3(ctx: RpcContext, params: list[Any]) -> str:
    (value,) = p.expect(params, 1, 1)
    return hex_bytes(keccak(p.data(value, "data")))


@method("net_version")
def net_version(ctx: RpcContext, params: list[Any]) -> str:
    p.expect(params, 0, 0)
    return str(ctx.chain.chain_id)


@method("net_listening")
def net_listening(ctx: RpcContext, params: list[Any]) -> bool:
    p.expect(params, 0, 0)
    return True


@method("net_peerCount")
def net_peer_count(ctx: RpcContext, params: list[Any]) -> str:
    p.expect(params, 0, 0)
    return hex(ctx.peer_count())
