"""The JSON-RPC 2.0 endpoint: parsing, batches, limits and error mapping.

Every failure a client causes gets a JSON-RPC error object; nothing a client
sends can stop the server. Codes and messages follow geth's.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from node.errors import KuraError

# Importing the namespace modules registers their methods.
from node.rpc import eth_chain, eth_state, filters, perm, qbft, web3_net  # noqa: F401
from node.rpc.auth import REQUEST_AUTHENTICATED, is_admin_method, token_valid
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
#: Deepest JSON nesting accepted (geth's decoder stops at 10,000 too).
MAX_JSON_DEPTH = 10_000
_JSON_STRUCTURE = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


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
    response = await _run_call(ctx, call)
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
        if name in BLOCKING:
            result = await run_in_threadpool(handler, ctx, params)
        else:
            result = handler(ctx, params)
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


def create_app(ctx: RpcContext) -> FastAPI:
    app = FastAPI(title="Kura JSON-RPC", docs_url=None, redoc_url=None, openapi_url=None)
    limits = ctx.limits

    @app.post("/")
    async def rpc(request: Request) -> Response:
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
        await serve_websocket(ctx, socket)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        head = ctx.chain.head
        return {"status": "ok", "height": head.block_number, "hash": "0x" + head.hash.hex()}

    return app


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        _error(None, REQUEST_TOO_LARGE, f"request body too large, the limit is {limit} bytes"),
        status_code=413,
    )
