"""Malformed and hostile JSON-RPC input: each gets geth's JSON-RPC error, and
the node keeps serving and producing blocks afterwards.

Codes: -32700 parse error, -32600 invalid request, -32601 method not found,
-32602 invalid params, -32000 a rejected transaction. A notification (a
request without ``id``) gets no response at all (JSON-RPC 2.0, section 4.1).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
import rlp
from eth_utils import to_checksum_address

from tests.rpc.helpers import (
    call,
    dev_account,
    http_connection,
    nonce_of,
    post_json,
    post_raw,
    sign_dynamic_fee,
    wait_for_receipt,
)
from tests.support.process import NodeProcess

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_BATCH = 1_000
ADDRESS = dev_account(0).address
RECIPIENT = to_checksum_address("0x" + "ba" * 20)


def request(method: str, params: Any = None, request_id: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": [] if params is None else params}


def notification(method: str, params: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": [] if params is None else params}


def single_error(url: str, payload: Any) -> dict[str, Any]:
    """POST one request that must fail; return its error object."""
    status, response = post_json(url, payload)
    assert status == 200
    assert isinstance(response, dict), response
    assert "error" in response, f"expected an error, got {response}"
    return response


# Parse errors and invalid requests


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc": "2.0", "id": 1, "method": ',
        b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}}',
        b"{'jsonrpc': '2.0', 'id': 1, 'method': 'eth_chainId'}",
        b"\xff\xfe\x00garbage",
        b"",
        b"eth_chainId",
    ],
    ids=["truncated", "trailing brace", "single quotes", "invalid utf-8", "empty", "bare word"],
)
def test_malformed_json_is_parse_error(shared_node: NodeProcess, body: bytes) -> None:
    status, raw = post_raw(shared_node.url, body)
    response = json.loads(raw)

    assert status == 200
    assert response["error"]["code"] == -32700
    assert response["id"] is None


def test_deeply_nested_json_is_parse_error(node: NodeProcess) -> None:
    """200,000 nested arrays (400 KB): geth's decoder stops at depth 10,000 with a parse error."""
    depth = 200_000
    assert node.process is not None
    try:
        status, raw = post_raw(node.url, b"[" * depth + b"]" * depth)
    except (ConnectionError, http.client.HTTPException) as error:
        pytest.fail(f"the node dropped the connection ({error!r}); still running: {node.process.poll() is None}")
    response = json.loads(raw)

    assert status == 200
    assert response["error"]["code"] == -32700
    assert call(node.url, "eth_chainId") == hex(1337)


@pytest.mark.parametrize("payload", [5, "eth_chainId", None, True], ids=["number", "string", "null", "boolean"])
def test_non_object_is_invalid_request(shared_node: NodeProcess, payload: Any) -> None:
    response = single_error(shared_node.url, payload)
    assert response["error"]["code"] == -32600
    assert response["id"] is None


def test_array_of_garbage(shared_node: NodeProcess) -> None:
    garbage = [1, "x", None, {}, [], {"jsonrpc": "2.0", "id": 3}]
    status, responses = post_json(shared_node.url, garbage)

    assert status == 200
    assert isinstance(responses, list)
    assert len(responses) == len(garbage)
    for index, response in enumerate(responses):
        assert response["error"]["code"] == -32600, f"element {index}: {response}"
    assert [response["id"] for response in responses] == [None, None, None, None, None, 3]


def test_method_not_string(shared_node: NodeProcess) -> None:
    response = single_error(shared_node.url, {"jsonrpc": "2.0", "id": 4, "method": 5})
    assert response["error"]["code"] == -32600
    assert response["id"] == 4


def test_object_id_is_invalid_request(shared_node: NodeProcess) -> None:
    response = single_error(shared_node.url, {"jsonrpc": "2.0", "id": {"nested": 1}, "method": "eth_chainId"})
    assert response["error"]["code"] == -32600
    assert response["id"] is None


@pytest.mark.parametrize("request_id", ["abc", 0, 2**53, None], ids=["string", "zero", "large", "null"])
def test_id_echoed(shared_node: NodeProcess, request_id: Any) -> None:
    status, response = post_json(shared_node.url, request("eth_chainId", request_id=request_id))
    assert status == 200
    assert response == {"jsonrpc": "2.0", "id": request_id, "result": hex(1337)}


def test_unknown_method(shared_node: NodeProcess) -> None:
    response = single_error(shared_node.url, request("eth_doesNotExist", request_id=7))
    assert response["error"]["code"] == -32601
    assert "eth_doesNotExist" in response["error"]["message"]
    assert response["id"] == 7


def test_params_object_rejected(shared_node: NodeProcess) -> None:
    response = single_error(shared_node.url, request("eth_getBalance", {"address": ADDRESS}))
    assert response["error"]["code"] == -32602


# Wrong parameters

WRONG_PARAMS: list[tuple[str, list[Any], str]] = [
    ("eth_getBalance", [], "missing value"),
    ("eth_getBalance", ["0x1234"], "invalid argument"),
    ("eth_getBalance", [123], "invalid argument"),
    ("eth_getBalance", [ADDRESS, "latest", {}], "too many arguments"),
    ("eth_blockNumber", ["latest"], "too many arguments"),
    ("eth_getBlockByNumber", ["latest"], "missing value"),
    ("eth_getBlockByNumber", ["latest", "true"], "invalid argument"),
    ("eth_getBlockByNumber", ["newest", False], "invalid argument"),
    ("eth_getBlockByNumber", [1, False], "invalid argument"),
    ("eth_getBlockByHash", ["0x1234", False], "invalid argument"),
    ("eth_getTransactionByHash", ["0xabc"], "invalid argument"),
    ("eth_getTransactionByBlockNumberAndIndex", ["latest", 1], "invalid argument"),
    ("eth_call", [], "missing value"),
    ("eth_call", ["not an object"], "invalid argument"),
    ("eth_call", [{"to": 5}], "invalid argument"),
    ("eth_estimateGas", [{"value": "0xzz"}], "invalid argument"),
    ("eth_getLogs", [{"topics": "0x12"}], "invalid argument"),
    ("eth_getLogs", [{"address": 5}], "invalid argument"),
    ("eth_getLogs", [{"topics": [1]}], "invalid argument"),
    ("eth_getLogs", [{"topics": [None, None, None, None, None]}], "invalid argument"),
    ("eth_sendRawTransaction", [], "missing value"),
    ("eth_sendRawTransaction", [123], "invalid argument"),
    ("eth_feeHistory", ["0x2"], "missing value"),
    ("eth_feeHistory", ["0x2", "latest", [101]], "invalid argument"),
    ("eth_feeHistory", [1.5, "latest"], "invalid argument"),
    ("web3_sha3", ["hello"], "invalid argument"),
]


@pytest.mark.parametrize(
    ("method", "params", "fragment"), WRONG_PARAMS, ids=[f"{m}{p!r}"[:60] for m, p, _ in WRONG_PARAMS]
)
def test_wrong_params(shared_node: NodeProcess, method: str, params: list[Any], fragment: str) -> None:
    error = single_error(shared_node.url, request(method, params))["error"]
    assert error["code"] == -32602
    assert fragment in error["message"]


# Huge and malformed numbers

OVER_256_BITS = "0x1" + "0" * 64
OVER_64_BITS = "0x1" + "0" * 16


@pytest.mark.parametrize("field", ["value", "gas", "gasPrice", "maxFeePerGas"])
def test_quantity_over_256_bits(shared_node: NodeProcess, field: str) -> None:
    error = single_error(shared_node.url, request("eth_call", [{"to": ADDRESS, field: OVER_256_BITS}]))["error"]
    assert error["code"] == -32602
    assert "256 bits" in error["message"]


BLOCK_NUMBER_METHODS: dict[str, list[Any]] = {
    "eth_getBlockByNumber": [OVER_64_BITS, False],
    "eth_getBalance": [ADDRESS, OVER_64_BITS],
    "eth_getBlockTransactionCountByNumber": [OVER_64_BITS],
    "eth_getLogs": [{"fromBlock": "0x0", "toBlock": OVER_64_BITS}],
}


@pytest.mark.parametrize("method", list(BLOCK_NUMBER_METHODS))
def test_block_number_over_64_bits(shared_node: NodeProcess, method: str) -> None:
    """geth decodes block numbers as uint64: a larger one is invalid params, not an unknown block."""
    error = single_error(shared_node.url, request(method, BLOCK_NUMBER_METHODS[method]))["error"]
    assert error["code"] == -32602


MALFORMED_QUANTITIES: list[tuple[str, list[Any]]] = [
    ("eth_getTransactionByBlockNumberAndIndex", ["latest", "0x-1"]),
    ("eth_getBlockByNumber", ["0x-1", False]),
    ("eth_getBlockByNumber", ["0x+1", False]),
    ("eth_getBlockByNumber", ["0x1_0", False]),
    ("eth_getBlockByNumber", ["0x 1", False]),
    ("eth_call", [{"to": ADDRESS, "value": "0x-1"}]),
    ("eth_feeHistory", ["0x-5", "latest"]),
    ("eth_feeHistory", [-5, "latest"]),
]


@pytest.mark.parametrize(
    ("method", "params"), MALFORMED_QUANTITIES, ids=[f"{m}{p!r}"[:60] for m, p in MALFORMED_QUANTITIES]
)
def test_malformed_quantity(shared_node: NodeProcess, method: str, params: list[Any]) -> None:
    """A quantity is 0x and hex digits only: geth rejects signs, underscores and spaces."""
    error = single_error(shared_node.url, request(method, params))["error"]
    assert error["code"] == -32602


# Garbage raw transactions


def _unsigned_legacy_fields() -> list[Any]:
    return [0, 10**9, 21_000, bytes.fromhex(RECIPIENT[2:]), 1, b""]


GARBAGE_TRANSACTIONS: dict[str, tuple[str, int]] = {
    # name: (raw transaction, expected code)
    "non-hex": ("0xzz", -32602),
    "odd length": ("0x123", -32602),
    "no prefix": ("f86c", -32602),
    "empty": ("0x", -32000),
    "not rlp": ("0xdeadbeef", -32000),
    "rlp list too short": ("0x" + rlp.encode([1, 2, 3]).hex(), -32000),
    "rlp string": ("0x" + rlp.encode(b"a string, not a list").hex(), -32000),
    "typed, wrong shape": ("0x02" + rlp.encode([1, 2, 3]).hex(), -32000),
    "unknown type": ("0x12" + rlp.encode([]).hex(), -32000),
    "zero signature": ("0x" + rlp.encode([*_unsigned_legacy_fields(), 1337 * 2 + 35, 0, 0]).hex(), -32000),
}


@pytest.mark.parametrize("name", list(GARBAGE_TRANSACTIONS))
def test_garbage_raw_transaction(shared_node: NodeProcess, name: str) -> None:
    raw, code = GARBAGE_TRANSACTIONS[name]
    error = single_error(shared_node.url, request("eth_sendRawTransaction", [raw]))["error"]

    assert error["code"] == code
    if code == -32000:
        message = error["message"].lower()
        assert "transaction" in message or "rlp" in message or "sender" in message, error["message"]


# Size limits and batches


def test_body_over_limit_rejected(shared_node: NodeProcess) -> None:
    padding = "a" * MAX_BODY_BYTES
    status, raw = post_raw(shared_node.url, json.dumps(request("web3_sha3", ["0x" + padding])).encode())
    response = json.loads(raw)

    assert status == 413
    assert response["error"]["code"] == -32600
    assert "too large" in response["error"]["message"]


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        yield b" " * piece
        sent += piece


def test_chunked_body_over_limit_rejected(shared_node: NodeProcess) -> None:
    """Without Content-Length the server must count the bytes it reads."""
    connection = http_connection(shared_node.url)
    try:
        try:
            connection.request(
                "POST",
                "/",
                body=_chunks(MAX_BODY_BYTES + 1),
                headers={"Content-Type": "application/json"},
                encode_chunked=True,
            )
        except (BrokenPipeError, ConnectionResetError):
            pass  # The server may respond and close before the whole body is sent.
        response = connection.getresponse()
        status, raw = response.status, response.read()
    finally:
        connection.close()

    assert status == 413
    assert json.loads(raw)["error"]["code"] == -32600


def test_body_at_limit_accepted(shared_node: NodeProcess) -> None:
    body = json.dumps(request("eth_chainId")).encode()
    body += b" " * (MAX_BODY_BYTES - len(body))
    assert len(body) == MAX_BODY_BYTES

    status, raw = post_raw(shared_node.url, body)
    assert status == 200
    assert json.loads(raw)["result"] == hex(1337)


def test_batch_at_limit_answered(shared_node: NodeProcess) -> None:
    batch = [request("eth_chainId", request_id=index) for index in range(MAX_BATCH)]
    status, responses = post_json(shared_node.url, batch)

    assert status == 200
    assert len(responses) == MAX_BATCH
    assert sorted(response["id"] for response in responses) == list(range(MAX_BATCH))
    assert {response["result"] for response in responses} == {hex(1337)}


def test_batch_over_limit_rejected(shared_node: NodeProcess) -> None:
    batch = [request("eth_chainId", request_id=index) for index in range(MAX_BATCH + 1)]
    status, response = post_json(shared_node.url, batch)
    error = (response[0] if isinstance(response, list) else response)["error"]

    assert status == 200
    assert error["code"] == -32600
    assert "batch" in error["message"]


def test_batch_over_limit_answered_as_array(shared_node: NodeProcess) -> None:
    """geth responds to an oversized batch with a one-element array that carries the first call's id."""
    batch = [request("eth_chainId", request_id=index + 100) for index in range(MAX_BATCH + 1)]
    _, response = post_json(shared_node.url, batch)

    assert isinstance(response, list), response
    assert len(response) == 1
    assert response[0]["id"] == 100


def test_empty_batch(shared_node: NodeProcess) -> None:
    response = single_error(shared_node.url, [])
    assert response["error"]["code"] == -32600
    assert response["error"]["message"] == "empty batch"
    assert response["id"] is None


def test_batch_mixes_results_and_errors(shared_node: NodeProcess) -> None:
    batch = [
        request("eth_chainId", request_id="a"),
        request("eth_noSuchMethod", request_id="b"),
        request("eth_getBalance", [], request_id="c"),
        5,
    ]
    _, responses = post_json(shared_node.url, batch)
    by_id = {response["id"]: response for response in responses}

    assert len(responses) == 4
    assert by_id["a"]["result"] == hex(1337)
    assert by_id["b"]["error"]["code"] == -32601
    assert by_id["c"]["error"]["code"] == -32602
    assert by_id[None]["error"]["code"] == -32600


# Notifications


def test_notification_gets_no_response(shared_node: NodeProcess) -> None:
    status, raw = post_raw(shared_node.url, json.dumps(notification("eth_chainId")).encode())
    assert status in (200, 204)
    assert raw == b""


@pytest.mark.parametrize(
    "payload",
    [
        notification("eth_doesNotExist"),
        notification("eth_getBalance", ["0x12"]),
        {"jsonrpc": "2.0", "method": "eth_chainId", "params": {"not": "an array"}},
    ],
    ids=["unknown method", "invalid params", "params object"],
)
def test_failing_notification_gets_no_response(shared_node: NodeProcess, payload: dict[str, Any]) -> None:
    status, raw = post_raw(shared_node.url, json.dumps(payload).encode())
    assert status in (200, 204)
    assert raw == b"", raw[:200]


def test_batch_of_notifications_gets_no_response(shared_node: NodeProcess) -> None:
    """JSON-RPC 2.0: a batch that needs no response gets no body, not an empty array."""
    status, raw = post_raw(
        shared_node.url, json.dumps([notification("eth_chainId"), notification("eth_blockNumber")]).encode()
    )
    assert status in (200, 204)
    assert raw == b""


def test_batch_answers_only_calls(shared_node: NodeProcess) -> None:
    batch = [notification("eth_chainId"), request("eth_chainId", request_id=11), notification("eth_doesNotExist")]
    _, responses = post_json(shared_node.url, batch)
    assert responses == [{"jsonrpc": "2.0", "id": 11, "result": hex(1337)}]


# After all the input above


def test_node_still_serves_and_seals(shared_node: NodeProcess) -> None:
    """Runs last in this module: the node still serves requests and produces blocks."""
    assert shared_node.process is not None
    assert shared_node.process.poll() is None, "the node process exited"
    before = int(call(shared_node.url, "eth_blockNumber"), 16)

    sender = dev_account(9)
    tx_hash = call(
        shared_node.url,
        "eth_sendRawTransaction",
        [sign_dynamic_fee(sender, nonce_of(shared_node.url, sender.address), to=RECIPIENT, value=1)],
    )
    receipt = wait_for_receipt(shared_node.url, tx_hash)

    assert receipt["status"] == "0x1"
    assert int(receipt["blockNumber"], 16) > before
    assert int(call(shared_node.url, "eth_blockNumber"), 16) >= int(receipt["blockNumber"], 16)
