"""Fuzz the JSON-RPC endpoint of a node process with requests that Hypothesis generates.

Each example is one HTTP request: a call to a registered method or a
made-up name with parameters of random JSON types, a batch of such calls,
random JSON, or bytes that are not JSON at all. Every answer must be HTTP
200 or 4xx with a JSON-RPC response body (an empty 200 only when every call
was a notification), and the node must still respond at the end.

KURA_FUZZ_REQUESTS sets the number of requests (default 1,500, the CI run).
"""

from __future__ import annotations

import http.client
import json
import os
import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.rpc import server  # noqa: F401  (importing the server registers every method)
from node.rpc.registry import METHODS
from tests.rpc.helpers import http_connection
from tests.support.process import NodeProcess, dev_node, rpc

REQUESTS = int(os.environ.get("KURA_FUZZ_REQUESTS", "1500"))
#: Prefixes of the admin namespaces and a few near-miss names, so unknown names look like real ones.
NAME_PARTS = ["eth_", "net_", "web3_", "perm_", "qbft_", "admin_", "shelter_", "txpool_", "debug_", "rpc_", ""]
HEX = "0123456789abcdefABCDEF"

hex_strings = st.builds(lambda digits: "0x" + digits, st.text(HEX, max_size=70))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    hex_strings,
    st.sampled_from(["latest", "pending", "earliest", "safe", "finalized", "0x", "0x0", "0x1"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(string.ascii_letters, max_size=12), children, max_size=5)
    ),
    max_leaves=12,
)
call_objects = st.fixed_dictionaries(
    {},
    optional={
        "from": hex_strings,
        "to": st.one_of(hex_strings, json_values),
        "data": hex_strings,
        "input": hex_strings,
        "value": st.one_of(hex_strings, json_values),
        "gas": st.one_of(hex_strings, json_values),
        "fromBlock": st.one_of(hex_strings, json_values),
        "toBlock": st.one_of(hex_strings, json_values),
        "address": st.one_of(hex_strings, st.lists(hex_strings, max_size=3)),
        "topics": st.lists(st.one_of(st.none(), hex_strings, st.lists(hex_strings, max_size=2)), max_size=5),
    },
)
method_names = st.one_of(
    st.sampled_from(sorted(METHODS)),
    st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(NAME_PARTS), st.text(max_size=20)),
    json_values,
)
params = st.one_of(st.lists(st.one_of(json_values, call_objects), max_size=4), json_values, st.just([]))
request_ids = st.one_of(st.integers(), st.text(max_size=10), st.none(), st.floats(allow_nan=False), json_values)


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    call: dict[str, Any] = {"jsonrpc": draw(st.sampled_from(["2.0", "2.0", "2.0", "1.0", None]))}
    call["method"] = draw(method_names)
    if draw(st.booleans()):
        call["params"] = draw(params)
    if draw(st.integers(0, 9)) > 0:  # one call in ten is a notification
        call["id"] = draw(request_ids)
    return call


def _encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


bodies = st.one_of(
    calls().map(_encode),
    calls().map(_encode),
    calls().map(_encode),
    st.lists(st.one_of(calls(), json_values), max_size=20).map(_encode),
    json_values.map(_encode),
    calls().map(_encode).flatmap(lambda body: st.integers(0, len(body)).map(lambda cut: body[:cut])),
    st.binary(max_size=200),
)


@pytest.fixture(scope="module")
def fuzz_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A dev node without the rate limit, so every request reaches the JSON-RPC handler."""
    process = dev_node(tmp_path_factory.mktemp("fuzz"), "--rpc-rate-limit", "0").start()
    try:
        yield process
    finally:
        process.stop()


class Client:
    """One keep-alive HTTP connection, opened again when the server closes it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[int, bytes]:
        for attempt in range(2):
            if self.connection is None:
                self.connection = http_connection(self.url, timeout=60)
            try:
                self.connection.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def _check_response_object(item: Any, body: bytes) -> None:
    assert isinstance(item, dict), body
    assert item.get("jsonrpc") == "2.0", body
    assert "id" in item, body
    assert ("result" in item) != ("error" in item), body
    if "error" in item:
        assert isinstance(item["error"].get("code"), int), body
        assert isinstance(item["error"].get("message"), str), body


def check_answer(status: int, answer: bytes, request: bytes) -> None:
    context = f"request {request[:300]!r} got HTTP {status}: {answer[:300]!r}"
    assert status == 200 or 400 <= status < 500, context
    if not answer:
        assert status == 200, context
        return
    decoded = json.loads(answer)
    if isinstance(decoded, list):
        assert decoded, context
        for item in decoded:
            _check_response_object(item, answer)
    else:
        _check_response_object(decoded, answer)
        if status != 200:
            assert "error" in decoded, context


def test_fuzzed_requests_answered(fuzz_node: NodeProcess) -> None:
    client = Client(fuzz_node.url)
    sent: list[int] = []

    @settings(
        max_examples=REQUESTS,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(bodies)
    def send(body: bytes) -> None:
        status, answer = client.post(body)
        sent.append(status)
        check_answer(status, answer, body)

    send()

    assert len(sent) >= REQUESTS
    assert fuzz_node.process is not None and fuzz_node.process.poll() is None, fuzz_node.log()
    assert "result" in rpc(fuzz_node.url, "eth_blockNumber")
    assert "Traceback" not in fuzz_node.log()
