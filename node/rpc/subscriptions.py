"""WebSocket JSON-RPC with ``eth_subscribe``: newHeads, logs and newPendingTransactions.

Every HTTP method also works over a WebSocket on the same port. Events come
from the chain and the pool on their own threads. The hub formats each
event once and hands it to every connection's event loop. A connection
whose outgoing queue fills (a client that reads too slowly) is closed
rather than allowed to grow without bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth.abc import ReceiptAPI, SignedTransactionAPI

from node.errors import InvalidParams, RpcError
from node.rpc import params as p
from node.rpc.filters import LogCriteria, parse_topics_and_addresses
from node.rpc.formatting import format_header, format_log, format_transaction, hex_bytes
from node.rpc.registry import RpcContext, method

if TYPE_CHECKING:
    from fastapi import WebSocket

    from node.chain.header import KuraHeader

logger = logging.getLogger(__name__)

#: Notifications queued for one connection before it is closed as too slow.
MAX_QUEUED_NOTIFICATIONS = 10_000
#: Subscriptions one connection may hold.
MAX_SUBSCRIPTIONS_PER_CONNECTION = 1_000
#: WebSocket close code for "policy violation", used for slow or abusive clients.
CLOSE_POLICY = 1008


@dataclass
class Subscription:
    kind: str
    criteria: LogCriteria | None = None
    full_transactions: bool = False


@dataclass(eq=False)
class Connection:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED_NOTIFICATIONS))
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    overflowed: bool = False

    def offer(self, messages: list[str]) -> None:
        """Queue notifications; runs on the connection's event loop."""
        if self.overflowed:
            return
        for message in messages:
            try:
                self.queue.put_nowait(message)
            except asyncio.QueueFull:
                self.overflowed = True
                self.queue = asyncio.Queue(1)
                self.queue.put_nowait(None)
                return


class SubscriptionHub:
    """All WebSocket connections and their subscriptions; event methods are thread-safe."""

    def __init__(self) -> None:
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()

    def add(self, connection: Connection) -> None:
        with self._lock:
            self._connections.add(connection)

    def remove(self, connection: Connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _snapshot(self) -> list[Connection]:
        with self._lock:
            return list(self._connections)

    def on_block(
        self,
        header: KuraHeader,
        transactions: list[SignedTransactionAPI] | tuple[SignedTransactionAPI, ...],
        receipts: list[ReceiptAPI] | tuple[ReceiptAPI, ...],
    ) -> None:
        connections = self._snapshot()
        if not connections:
            return
        head = format_header(header)
        logs: list[tuple[bytes, list[bytes], dict[str, Any]]] = []
        log_index = 0
        for tx_index, (tx, receipt) in enumerate(zip(transactions, receipts, strict=True)):
            for log in receipt.logs:
                topics = [topic.to_bytes(32, "big") for topic in log.topics]
                logs.append((log.address, topics, format_log(log, header, tx, tx_index, log_index)))
                log_index += 1
        for connection in connections:
            messages = []
            for subscription_id, subscription in list(connection.subscriptions.items()):
                if subscription.kind == "newHeads":
                    messages.append(_notification(subscription_id, head))
                elif subscription.kind == "logs" and subscription.criteria is not None:
                    for address, topics, formatted in logs:
                        if subscription.criteria.matches(address, topics):
                            messages.append(_notification(subscription_id, formatted))
            if messages:
                connection.loop.call_soon_threadsafe(connection.offer, messages)

    def on_pending(self, tx: SignedTransactionAPI) -> None:
        for connection in self._snapshot():
            messages = []
            for subscription_id, subscription in list(connection.subscriptions.items()):
                if subscription.kind == "newPendingTransactions":
                    result = format_transaction(tx) if subscription.full_transactions else hex_bytes(tx.hash)
                    messages.append(_notification(subscription_id, result))
            if messages:
                connection.loop.call_soon_threadsafe(connection.offer, messages)


def _notification(subscription_id: str, result: Any) -> str:
    payload = {
        "jsonrpc": "2.0",
        "method": "eth_subscription",
        "params": {"subscription": subscription_id, "result": result},
    }
    return json.dumps(payload, separators=(",", ":"))


def subscribe(ctx: RpcContext, connection: Connection, params: list[Any]) -> str:
    if not params:
        raise InvalidParams("missing value for required argument 0")
    kind = params[0]
    if len(connection.subscriptions) >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
        raise RpcError(-32000, f"too many subscriptions on this connection (limit {MAX_SUBSCRIPTIONS_PER_CONNECTION})")
    if kind == "newHeads":
        p.expect(params, 1, 1)
        subscription = Subscription("newHeads")
    elif kind == "logs":
        _, query = p.expect(params, 1, 2)
        addresses, topics = parse_topics_and_addresses(query or {})
        subscription = Subscription("logs", LogCriteria(0, -1, addresses, topics))
    elif kind == "newPendingTransactions":
        _, full = p.expect(params, 1, 2)
        subscription = Subscription("newPendingTransactions", full_transactions=bool(full))
    else:
        raise InvalidParams(f'no "{kind}" subscription in eth namespace')
    subscription_id = "0x" + secrets.token_hex(16)
    connection.subscriptions[subscription_id] = subscription
    return subscription_id


@method("eth_subscribe")
def subscribe_over_http(ctx: RpcContext, params: list[Any]) -> None:
    raise RpcError(-32601, "notifications not supported")


@method("eth_unsubscribe")
def unsubscribe_over_http(ctx: RpcContext, params: list[Any]) -> None:
    raise RpcError(-32601, "notifications not supported")


async def serve_websocket(ctx: RpcContext, socket: WebSocket) -> None:
    """Serve one WebSocket client until it disconnects or falls behind."""
    from starlette.websockets import WebSocketDisconnect

    from node.rpc.auth import REQUEST_AUTHENTICATED, token_valid
    from node.rpc.server import _error, handle_call, process_body

    await socket.accept()
    REQUEST_AUTHENTICATED.set(
        ctx.jwt_secret is not None and token_valid(ctx.jwt_secret, socket.headers.get("authorization"))
    )
    connection = Connection(asyncio.get_running_loop())
    hub = ctx.subscriptions
    if hub is not None:
        hub.add(connection)

    async def dispatch(context: RpcContext, call: Any) -> dict[str, Any] | None:
        if isinstance(call, dict) and call.get("method") in ("eth_subscribe", "eth_unsubscribe"):
            request_id = call.get("id")
            call_params = call.get("params") or []
            try:
                if not isinstance(call_params, list):
                    raise InvalidParams("non-array args")
                if call["method"] == "eth_subscribe":
                    result: Any = subscribe(context, connection, call_params)
                else:
                    (subscription_id,) = p.expect(call_params, 1, 1)
                    result = connection.subscriptions.pop(subscription_id, None) is not None
            except RpcError as error:
                return _error(request_id, error.code, error.message)
            return {"jsonrpc": "2.0", "id": request_id, "result": result}
        return await handle_call(context, call)

    async def send_loop() -> None:
        while True:
            message = await connection.queue.get()
            if message is None:
                logger.warning("closing slow websocket client queued=%d", MAX_QUEUED_NOTIFICATIONS)
                await socket.close(code=CLOSE_POLICY, reason="client too slow: notification queue full")
                return
            await socket.send_text(message)

    sender = asyncio.create_task(send_loop())
    try:
        while True:
            # Clients may send requests in text or binary frames (web3.py's WebSocketProvider sends binary).
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                break
            body = message.get("bytes") or (message.get("text") or "").encode()
            answer = await process_body(ctx, body, dispatch)
            if answer is not None:
                connection.offer([answer.decode()])
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        sender.cancel()
        if hub is not None:
            hub.remove(connection)
