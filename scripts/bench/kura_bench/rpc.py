"""A small JSON-RPC 2.0 client on one keep-alive HTTP connection, for loopback nodes only."""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Sequence
from typing import Any


class BenchError(Exception):
    """The benchmark could not run or its results failed verification."""


class RpcError(BenchError):
    """A JSON-RPC error object returned for ``method``."""

    def __init__(self, method: str, error: Any) -> None:
        super().__init__(f"{method} failed: {error}")
        self.method = method
        self.error = error


class RpcClient:
    """JSON-RPC client on one persistent HTTP/1.1 connection; not thread-safe."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        match = re.fullmatch(r"http://(127\.0\.0\.1|localhost):(\d+)/?", url)
        if match is None:
            raise BenchError(f"invalid RPC URL {url!r}: this benchmark sends requests only to http://127.0.0.1:PORT")
        self.url = url
        self._host, self._port = match.group(1), int(match.group(2))
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None
        self._next_id = 0

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def post(self, body: bytes) -> Any:
        """Send one request body and return the decoded response.

        A connection that the server closed while idle is reopened once; any
        other failure raises.
        """
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            try:
                self._connection.request("POST", "/", body, {"Content-Type": "application/json"})
                response = self._connection.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise BenchError(f"HTTP {response.status} from {self.url}: {payload[:200]!r}")
            return json.loads(payload)
        raise AssertionError("unreachable: the loop returns or raises")

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        """Call one method and return its result; raise RpcError on an error object."""
        self._next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params or []})
        response = self.post(body.encode())
        if "error" in response:
            raise RpcError(method, response["error"])
        return response["result"]

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Send ``calls`` as one batch; return the response objects in call order."""
        if not calls:
            return []
        first_id = self._next_id + 1
        self._next_id += len(calls)
        requests = [
            {"jsonrpc": "2.0", "id": first_id + i, "method": method, "params": params}
            for i, (method, params) in enumerate(calls)
        ]
        responses = self.post(json.dumps(requests).encode())
        if not isinstance(responses, list):
            raise BenchError(f"batch of {len(calls)} {calls[0][0]} calls failed: {responses}")
        by_id = {response.get("id"): response for response in responses}
        missing = [first_id + i for i in range(len(calls)) if first_id + i not in by_id]
        if missing:
            raise BenchError(f"batch response lacks {len(missing)} of {len(calls)} ids, first {missing[:5]}")
        return [by_id[first_id + i] for i in range(len(calls))]

    def batch_results(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Like ``batch``, but return the results and raise RpcError on the first error object."""
        results = []
        for (method, _params), response in zip(calls, self.batch(calls), strict=True):
            if "error" in response:
                raise RpcError(method, response["error"])
            results.append(response["result"])
        return results


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
