"""The method table: each namespace module registers its handlers here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from node.chain.chain import Chain
    from node.consensus.validators import ValidatorTracker, VoteBox
    from node.permissions import Allowlist
    from node.rpc.filters import FilterManager
    from node.rpc.metrics import NodeMetrics
    from node.rpc.subscriptions import SubscriptionHub
    from node.txpool.pool import TxPool

Handler = Callable[["RpcContext", list[Any]], Any]

#: Every method by name.
METHODS: dict[str, Handler] = {}
#: Methods that may run long (EVM execution, log scans); run off the event loop.
BLOCKING: set[str] = set()


@dataclass
class RpcLimits:
    """Resource caps and access rules, with geth's defaults where geth has one."""

    max_body_bytes: int = 5 * 1024 * 1024
    max_batch: int = 1_000
    max_log_range: int = 10_000
    max_log_results: int = 10_000
    #: Gas cap for eth_call and eth_estimateGas (geth's --rpc.gascap).
    call_gas_cap: int = 50_000_000
    #: Seconds one eth_call or eth_estimateGas may run, or 0 for no cap (geth's --rpc.evmtimeout, default 5 s).
    call_timeout: float = 5.0
    #: HTTP requests and WebSocket messages allowed per second per client address, or 0 for no limit.
    rate_limit: float = 10_000.0
    #: Origins browsers may call from (CORS and the WebSocket Origin header). Empty allows none and "*" allows all.
    cors_origins: tuple[str, ...] = ()
    #: Host header names accepted on JSON-RPC requests, or "*" for any (geth's --http.vhosts).
    host_allowlist: tuple[str, ...] = ("localhost", "127.0.0.1")


@dataclass
class RpcContext:
    chain: Chain
    pool: TxPool
    filters: FilterManager
    client_version: str
    accounts: list[bytes] = field(default_factory=list)
    limits: RpcLimits = field(default_factory=RpcLimits)
    #: Called with the raw bytes of each transaction accepted over RPC.
    on_transaction: Callable[[bytes], None] | None = None
    validators: ValidatorTracker | None = None
    #: This validator's pending votes; None on a node that does not validate.
    votes: VoteBox | None = None
    subscriptions: SubscriptionHub | None = None
    #: Secret that unlocks the admin namespaces; None leaves them off.
    jwt_secret: bytes | None = None
    account_allowlist: Allowlist | None = None
    node_allowlist: Allowlist | None = None
    #: Where call durations and errors are counted, or None to count nothing.
    metrics: NodeMetrics | None = None
    #: Connected peers; a node without a network has none.
    peer_count: Callable[[], int] = lambda: 0
    #: (starting, current, highest) block while syncing from a peer, else None.
    sync_status: Callable[[], tuple[int, int, int] | None] = lambda: None


def method(name: str, *, blocking: bool = False) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name] = handler
        if blocking:
            BLOCKING.add(name)
        return handler

    return register
