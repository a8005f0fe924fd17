"""The JSON-RPC 2.0 endpoint: parsing, batches, limits and error mapping.

Every failure a client causes gets a JSON-RPC error object, also when the
HTTP status is an error. Nothing a client sends can stop the server. Codes
and messages follow geth's. Besides JSON-RPC on ``/`` (HTTP POST and
WebSocket) the app serves ``/health``, ``/ready`` and ``/metrics``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from node.audit import rpc_methods as _audit_methods  # noqa: E402,F401  (kura_getGenesis)
from node.errors import KuraError

# Importing the namespace modules registers their methods.
from node.rpc import eth_chain, eth_state, filters, openrpc, perm, qbft, txpool, web3_net  # noqa: F401
from node.rpc.auth import REQUEST_AUTHENTICATED, is_admin_method, token_valid
from node.rpc.call_deadline import CallTimeout, run_with_deadline
from node.rpc.limits import RATE_LIMITED, HostAllowlist, OriginAllowlist, RateLimiter
from node.rpc.metrics import CONTENT_TYPE
from node.rpc.registry import BLOCKING, METHODS, RpcContext
from node.rpc.subscriptions import serve_websocket

logger = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603
#: geth rejects an oversized body with HTTP 413; the body still carries a JSON-RPC error.
REQUEST_TOO_LARGE = -32600
#: Error code of an admin call without a valid token, after HTTP 401.
UNAUTHORIZED = -32401
#: Longest an eth_call or eth_estimateGas runs on the event loop before it moves to a worker thread.
INLINE_CALL_SECONDS = 0.003
#: Deepest JSON nesting accepted (geth's decoder stops at 10,000 too).
MAX_JSON_DEPTH = 10_000
_JSON_STRUCTURE = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
#: Methods that run the EVM and so fall under the call time cap.
TIME_CAPPED = frozenset({"eth_call", "eth_estimateGas"})

#: Takes a rate-limit token for a WebSocket message. The WebSocket route sets it in its connection's task,
#: and process_body calls it once per message.
_MESSAGE_ADMISSION: ContextVar[Callable[[], bool] | None] = ContextVar("message_admission", default=None)


def _error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def handle_call(ctx: RpcContext, call: Any) -> dict[str, Any] | None:
    """Run one request object; None for a notification, even when it fails.

    A notification is a valid request without ``id``. An object without a
    method string is an invalid request and gets an error response.
    """
    if not isinstance(call, dict):
        return _error(None, INVALID_REQUEST, "invalid request")
    started = time.perf_counter()
    response = await _run_call(ctx, call)
    if ctx.metrics is not None and isinstance(call.get("method"), str):
        ctx.metrics.observe_call(call["method"], time.perf_counter() - started, "error" in response)
    notification = "id" not in call and isinstance(call.get("method"), str)
    return None if notification else response


async def _run_call(ctx: RpcContext, call: dict[str, Any]) -> dict[str, Any]:
    request_id = call.get("id")
    if isinstance(request_id, bool) or (request_id is not None and not isinstance(request_id, (str, int, float))):
        return _error(None, INVALID_REQUEST, "invalid request")
    name = call.get("method")
    if not isinstance(name, str):
        return _error(request_id, INVALID_REQUEST, "invalid request")
    params = call.get("params", [])
    if params is None:
        params = []
    if not isinstance(params, list):
        return _error(request_id, -32602, "non-array args")

    handler = METHODS.get(name)
    if handler is None or (is_admin_method(name) and ctx.jwt_secret is None):
        return _error(request_id, METHOD_NOT_FOUND, f"the method {name} does not exist/is not available")
    if is_admin_method(name) and not REQUEST_AUTHENTICATED.get():
        logger.warning("rejected admin call without a valid JWT method=%s", name)
        return _error(request_id, UNAUTHORIZED, f"unauthorized: {name} needs a valid JWT bearer token")
    try:
        if name in TIME_CAPPED and ctx.limits.call_timeout > 0:
            try:
                # Most calls finish within a few milliseconds: run them on the
                # event loop, which saves the hand-over to a worker thread.
                # A call that needs longer starts again on a worker; calls
                # change no state, so running one twice is safe.
                result = run_with_deadline(INLINE_CALL_SECONDS, lambda: handler(ctx, params))
            except CallTimeout:
                result = await run_in_threadpool(
                    run_with_deadline, ctx.limits.call_timeout, lambda: handler(ctx, params)
                )
        elif name in BLOCKING:
            result = await run_in_threadpool(handler, ctx, params)
        else:
            result = handler(ctx, params)
    except CallTimeout:
        # geth's message for a call stopped by --rpc.evmtimeout.
        logger.info("rpc call timed out method=%s timeout=%gs", name, ctx.limits.call_timeout)
        return _error(request_id, -32000, f"execution aborted (timeout = {ctx.limits.call_timeout:g}s)")
    except KuraError as error:
        logger.debug("rpc error method=%s code=%d message=%s", name, error.code, error.message)
        return _error(request_id, error.code, error.message, error.data)
    except Exception:
        logger.exception("rpc method failed method=%s", name)
        return _error(request_id, INTERNAL_ERROR, "internal error")
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def nesting_too_deep(body: bytes) -> bool:
    """Return whether JSON ``body`` nests arrays and objects deeper than MAX_JSON_DEPTH.

    The C JSON decoder recurses once per level, and py-evm raises the
    interpreter's recursion limit so far that a deep enough body overflows
    the C stack and kills the process instead of raising RecursionError.
    Bodies with few brackets cannot be deep, so only those with many are
    scanned (strings are skipped, as brackets inside them do not nest).
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for match in _JSON_STRUCTURE.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


Dispatcher = Callable[[RpcContext, Any], Awaitable[dict[str, Any] | None]]


async def process_body(ctx: RpcContext, body: bytes, dispatch: Dispatcher) -> bytes | None:
    """Parse a request body (one call or a batch), run it, and return the encoded response.

    None means there is nothing to send back: only notifications were sent.
    """
    limits = ctx.limits
    admit = _MESSAGE_ADMISSION.get()
    if admit is not None and not admit():
        return _dumps(_error(None, RATE_LIMITED, "rate limit exceeded; slow down and retry"))
    try:
        if nesting_too_deep(body):
            raise ValueError("JSON nested too deeply")
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return _dumps(_error(None, PARSE_ERROR, "parse error"))

    if not isinstance(payload, list):
        single = await dispatch(ctx, payload)
        return None if single is None else _dumps(single)
    if not payload:
        return _dumps(_error(None, INVALID_REQUEST, "empty batch"))
    if len(payload) > limits.max_batch:
        # As geth: one error, in an array, carrying the first call's id.
        first = payload[0] if isinstance(payload[0], dict) else {}
        message = f"batch too large: {len(payload)} requests, the limit is {limits.max_batch}"
        return _dumps([_error(first.get("id"), INVALID_REQUEST, message)])
    responses = [await dispatch(ctx, call) for call in payload]
    answered = [response for response in responses if response is not None]
    return _dumps(answered) if answered else None


@dataclass
class Readiness:
    """Whether the node should get traffic: it has peers or validates alone, and is not syncing."""

    ready: bool
    reason: str
    height: int
    peers: int
    syncing: bool


def create_app(ctx: RpcContext, readiness: Callable[[], Readiness] | None = None) -> FastAPI:
    """Build the ASGI app. Without ``readiness``, ``/ready`` reports ready whenever the server runs."""
    app = FastAPI(title="Kura JSON-RPC", docs_url=None, redoc_url=None, openapi_url=None)
    limits = ctx.limits
    hosts = HostAllowlist(limits.host_allowlist)
    origins = OriginAllowlist(limits.cors_origins)
    limiter = RateLimiter(limits.rate_limit)
    if limits.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins.origins),
            allow_methods=["POST", "GET"],
            allow_headers=["Content-Type", "Authorization"],
            max_age=600,
        )
    _add_error_handlers(app)

    def over_rate_limit(address: str) -> bool:
        if limiter.allow(address):
            return False
        if ctx.metrics is not None:
            ctx.metrics.rpc_rate_limited.inc()
        return True

    @app.post("/")
    async def rpc(request: Request) -> Response:
        if not hosts.allows(request.headers.get("host")):
            logger.info("rejected request for host=%s", request.headers.get("host"))
            return JSONResponse(_error(None, INVALID_REQUEST, "invalid host specified"), status_code=403)
        address = request.client.host if request.client is not None else ""
        if over_rate_limit(address):
            retry_after = max(1, round(limiter.retry_after(address)))
            return JSONResponse(
                _error(None, RATE_LIMITED, f"rate limit exceeded: at most {limits.rate_limit:g} requests per second"),
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            return _too_large(limits.max_body_bytes)
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limits.max_body_bytes:
                return _too_large(limits.max_body_bytes)
        authenticated = ctx.jwt_secret is not None and token_valid(ctx.jwt_secret, request.headers.get("authorization"))
        REQUEST_AUTHENTICATED.set(authenticated)
        answer = await process_body(ctx, bytes(body), handle_call)
        if answer is None:
            return Response(status_code=200)
        status = 401 if f'"code":{UNAUTHORIZED},'.encode() in answer and not answer.startswith(b"[") else 200
        return Response(answer, status_code=status, media_type="application/json")

    @app.websocket("/")
    async def websocket(socket: WebSocket) -> None:
        host, origin = socket.headers.get("host"), socket.headers.get("origin")
        if not hosts.allows(host) or not origins.allows(origin):
            # Closing before accept() rejects the handshake with HTTP 403.
            logger.info("rejected websocket host=%s origin=%s", host, origin)
            await socket.close(code=1008)
            return
        address = socket.client.host if socket.client is not None else ""
        _MESSAGE_ADMISSION.set(lambda: not over_rate_limit(address))
        await serve_websocket(ctx, socket)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        head = ctx.chain.head
        return {"status": "ok", "height": head.block_number, "hash": "0x" + head.hash.hex()}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        if readiness is None:
            state = Readiness(True, "ok", ctx.chain.head.block_number, 0, False)
        else:
            state = readiness()
        return JSONResponse(asdict(state), status_code=200 if state.ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        if ctx.metrics is None:
            return Response("metrics are off\n", status_code=404, media_type="text/plain")
        exposition = await run_in_threadpool(ctx.metrics.exposition)
        return Response(exposition, media_type=CONTENT_TYPE)

    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Give HTTP errors outside the JSON-RPC handler (404, 405, a crash) a JSON-RPC error body too."""

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        return JSONResponse(
            _error(None, INVALID_REQUEST, str(error.detail)), status_code=error.status_code, headers=error.headers
        )

    async def crash(request: Request, error: Exception) -> JSONResponse:
        logger.error("request failed path=%s", request.url.path, exc_info=error)
        return JSONResponse(_error(None, INTERNAL_ERROR, "internal error"), status_code=500)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, crash)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        _error(None, REQUEST_TOO_LARGE, f"request body too large, the limit is {limit} bytes"),
        status_code=413,
    )
