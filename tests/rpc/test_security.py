"""JSON-RPC access rules and caps: Host allowlist, CORS and WebSocket origins, request, batch,
eth_getLogs, gas and time caps, and the per-client rate limit, each set by its ``kura`` flag."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from node.rpc.limits import HostAllowlist, OriginAllowlist, RateLimiter
from tests.rpc.helpers import (
    call,
    dev_account,
    http_connection,
    load_artifact,
    nonce_of,
    post_raw,
    sign_dynamic_fee,
    wait_for_receipt,
)
from tests.support.process import REPO, NodeProcess, dev_node, rpc

WALLET_ORIGIN = "https://wallet.example"
PROXY_HOST = "rpc.example"
#: A churn(uint256) call with this many rounds needs far more than the test caps allow.
LONG_CHURN_ROUNDS = 10_000_000
BLOCK_NUMBER = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).encode()


@pytest.fixture(scope="module")
def strict_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A dev node with every cap set low and one browser origin and one proxy host allowed."""
    process = dev_node(
        tmp_path_factory.mktemp("strict"),
        "--rpc-host-allowlist",
        f"localhost,127.0.0.1,{PROXY_HOST}",
        "--rpc-cors-origins",
        WALLET_ORIGIN,
        "--rpc-max-request-bytes",
        "4096",
        "--rpc-max-batch",
        "3",
        "--rpc-max-log-range",
        "2",
        "--rpc-call-gas-cap",
        "1000000",
    ).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def default_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A dev node with the default access rules and a 0.5 s call time cap."""
    process = dev_node(tmp_path_factory.mktemp("default"), "--rpc-call-timeout", "0.5").start()
    try:
        yield process
    finally:
        process.stop()


def request(
    url: str, method: str, body: bytes = BLOCK_NUMBER, headers: dict[str, str] | None = None, *, skip_host: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """Send one HTTP request; return the status, the lower-cased headers and the body.

    A ``Host`` in ``headers`` replaces the one http.client would send.
    """
    connection = http_connection(url)
    try:
        connection.putrequest(method, "/", skip_host=skip_host or "Host" in (headers or {}))
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def deploy_probe(url: str, sender_index: int) -> str:
    account = dev_account(sender_index)
    data = load_artifact("Probe")["bytecode"] + "00" * 31 + "01"
    raw = sign_dynamic_fee(account, nonce_of(url, account.address), to=None, data=data, gas=2_000_000)
    return wait_for_receipt(url, call(url, "eth_sendRawTransaction", [raw]))["contractAddress"]


def churn_call(probe: str, rounds: int) -> dict[str, Any]:
    data = "0x" + keccak(text="churn(uint256)")[:4].hex() + rounds.to_bytes(32, "big").hex()
    return {"to": probe, "data": data}


# Host allowlist


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST:8545", "127.0.0.1:1"])
def test_default_hosts_accepted(default_node: NodeProcess, host: str) -> None:
    status, _headers, body = request(default_node.url, "POST", headers={"Host": host})
    assert status == 200, body
    assert "result" in json.loads(body)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8545", "localhost.evil.example", "[::1]:8545"])
def test_other_host_rejected(default_node: NodeProcess, host: str) -> None:
    status, _headers, body = request(default_node.url, "POST", headers={"Host": host})
    assert status == 403
    assert json.loads(body)["error"]["message"] == "invalid host specified"


def test_missing_host_accepted(default_node: NodeProcess) -> None:
    status, _headers, body = request(default_node.url, "POST", skip_host=True)
    assert status == 200, body


def test_configured_host_accepted(strict_node: NodeProcess) -> None:
    status, _headers, _body = request(strict_node.url, "POST", headers={"Host": f"{PROXY_HOST}:443"})
    assert status == 200


def test_health_ignores_host(default_node: NodeProcess) -> None:
    connection = http_connection(default_node.url)
    try:
        connection.request("GET", "/health", headers={"Host": "10.0.0.7:8545"})
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_host_allowlist_parsing() -> None:
    hosts = HostAllowlist(["Node.Example", " localhost ", "[::1]"])
    assert hosts.allows("node.example:8545")
    assert hosts.allows("[::1]:8545")
    assert hosts.allows("[::1]")
    assert not hosts.allows("::1")
    assert not hosts.allows("node.example.evil:80")
    assert HostAllowlist(["*"]).allows("anything:1")


# CORS and WebSocket origins


def test_no_cors_by_default(default_node: NodeProcess) -> None:
    status, headers, _body = request(default_node.url, "POST", headers={"Origin": WALLET_ORIGIN})
    assert status == 200
    assert "access-control-allow-origin" not in headers


def test_preflight_rejected_by_default(default_node: NodeProcess) -> None:
    preflight = {"Origin": WALLET_ORIGIN, "Access-Control-Request-Method": "POST"}
    status, headers, body = request(default_node.url, "OPTIONS", b"", preflight)
    assert status == 405
    assert "access-control-allow-origin" not in headers
    assert "error" in json.loads(body)


def test_cors_preflight_for_allowed_origin(strict_node: NodeProcess) -> None:
    preflight = {
        "Origin": WALLET_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    status, headers, _body = request(strict_node.url, "OPTIONS", b"", preflight)
    assert status == 200
    assert headers["access-control-allow-origin"] == WALLET_ORIGIN
    assert "POST" in headers["access-control-allow-methods"]


def test_cors_header_on_allowed_origin(strict_node: NodeProcess) -> None:
    status, headers, _body = request(strict_node.url, "POST", headers={"Origin": WALLET_ORIGIN})
    assert status == 200
    assert headers["access-control-allow-origin"] == WALLET_ORIGIN


def test_cors_other_origin_gets_no_header(strict_node: NodeProcess) -> None:
    status, headers, _body = request(strict_node.url, "POST", headers={"Origin": "https://evil.example"})
    assert status == 200
    assert "access-control-allow-origin" not in headers
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    status, headers, _body = request(strict_node.url, "OPTIONS", b"", preflight)
    assert status == 400
    assert "access-control-allow-origin" not in headers


def test_websocket_allowed_origin(strict_node: NodeProcess) -> None:
    with connect(strict_node.url.replace("http", "ws"), origin=WALLET_ORIGIN) as socket:  # type: ignore[arg-type]
        socket.send(BLOCK_NUMBER.decode())
        assert "result" in json.loads(socket.recv(timeout=10))


def test_websocket_other_origin_rejected(strict_node: NodeProcess) -> None:
    with pytest.raises(InvalidStatus) as rejected:
        connect(strict_node.url.replace("http", "ws"), origin="https://evil.example")  # type: ignore[arg-type]
    assert rejected.value.response.status_code == 403


def test_websocket_without_origin_accepted(default_node: NodeProcess) -> None:
    with connect(default_node.url.replace("http", "ws")) as socket:
        socket.send(BLOCK_NUMBER.decode())
        assert "result" in json.loads(socket.recv(timeout=10))


def test_websocket_bad_host_rejected(default_node: NodeProcess) -> None:
    # websockets sends the URL's host, so the handshake is written by hand.
    handshake = {
        "Host": "evil.example",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    status, _headers, _body = request(default_node.url, "GET", b"", handshake)
    assert status == 403
    handshake["Host"] = "localhost"
    status, _headers, _body = request(default_node.url, "GET", b"", handshake)
    assert status == 101


def test_origin_allowlist_parsing() -> None:
    origins = OriginAllowlist([WALLET_ORIGIN + "/", ""])
    assert origins.allows(WALLET_ORIGIN)
    assert origins.allows(None)
    assert not origins.allows("https://wallet.example.evil")
    assert not OriginAllowlist([]).allows(WALLET_ORIGIN)
    assert OriginAllowlist(["*"]).allows("https://any.example")


# Request, batch, log range and gas caps


def test_request_size_flag(strict_node: NodeProcess) -> None:
    padding = " " * 4096
    status, body = post_raw(strict_node.url, BLOCK_NUMBER + padding.encode())
    assert status == 413
    assert json.loads(body)["error"]["message"] == "request body too large, the limit is 4096 bytes"
    status, _body = post_raw(strict_node.url, BLOCK_NUMBER + b" " * (4096 - len(BLOCK_NUMBER)))
    assert status == 200


def test_websocket_message_size_flag(strict_node: NodeProcess) -> None:
    with connect(strict_node.url.replace("http", "ws")) as socket:
        socket.send(BLOCK_NUMBER.decode() + " " * 5000)
        with pytest.raises(Exception, match="1009|message too big"):
            socket.recv(timeout=10)


def test_batch_size_flag(strict_node: NodeProcess) -> None:
    batch = [{"jsonrpc": "2.0", "id": index, "method": "eth_chainId", "params": []} for index in range(4)]
    status, body = post_raw(strict_node.url, json.dumps(batch).encode())
    assert status == 200
    answer = json.loads(body)
    assert answer[0]["error"]["message"] == "batch too large: 4 requests, the limit is 3"
    status, body = post_raw(strict_node.url, json.dumps(batch[:3]).encode())
    assert [item["result"] for item in json.loads(body)] == ["0x539"] * 3


def test_log_range_flag(strict_node: NodeProcess) -> None:
    # The range is clamped to the head, so the chain needs three blocks.
    account = dev_account(10)
    while int(call(strict_node.url, "eth_blockNumber"), 16) < 2:
        raw = sign_dynamic_fee(account, nonce_of(strict_node.url, account.address), to=account.address)
        wait_for_receipt(strict_node.url, call(strict_node.url, "eth_sendRawTransaction", [raw]))
    too_wide = rpc(strict_node.url, "eth_getLogs", [{"fromBlock": "0x0", "toBlock": "0x2"}])
    assert too_wide["error"]["code"] == -32005
    assert too_wide["error"]["message"] == "block range is too wide: 3 blocks, the limit is 2"
    within = rpc(strict_node.url, "eth_getLogs", [{"fromBlock": "0x1", "toBlock": "0x2"}])
    assert within["result"] == []


def test_call_gas_cap_flag(strict_node: NodeProcess) -> None:
    probe = deploy_probe(strict_node.url, 6)
    heavy = churn_call(probe, 100_000)
    called = rpc(strict_node.url, "eth_call", [{**heavy, "gas": hex(20_000_000)}, "latest"])
    assert called["error"]["message"] == "out of gas"
    estimated = rpc(strict_node.url, "eth_estimateGas", [heavy, "latest"])
    assert estimated["error"]["message"] == "gas required exceeds allowance (1000000)"
    light = rpc(strict_node.url, "eth_call", [churn_call(probe, 10), "latest"])
    assert "result" in light


# Call time cap


def test_call_time_cap(default_node: NodeProcess) -> None:
    probe = deploy_probe(default_node.url, 7)
    started = time.monotonic()
    answer = rpc(default_node.url, "eth_call", [churn_call(probe, LONG_CHURN_ROUNDS), "latest"], timeout=60)
    elapsed = time.monotonic() - started
    assert answer["error"] == {"code": -32000, "message": "execution aborted (timeout = 0.5s)"}
    assert elapsed < 5, f"the capped call took {elapsed:.1f} s"
    assert "result" in rpc(default_node.url, "eth_call", [churn_call(probe, 10), "latest"])


def test_estimate_gas_time_cap(default_node: NodeProcess) -> None:
    probe = deploy_probe(default_node.url, 8)
    started = time.monotonic()
    answer = rpc(default_node.url, "eth_estimateGas", [churn_call(probe, LONG_CHURN_ROUNDS)], timeout=60)
    elapsed = time.monotonic() - started
    assert answer["error"]["message"] == "execution aborted (timeout = 0.5s)"
    assert elapsed < 5, f"the capped estimate took {elapsed:.1f} s"


def test_timed_out_call_leaves_blocks_sealing(default_node: NodeProcess) -> None:
    probe = deploy_probe(default_node.url, 9)
    rpc(default_node.url, "eth_call", [churn_call(probe, LONG_CHURN_ROUNDS), "latest"], timeout=60)
    account = dev_account(9)
    raw = sign_dynamic_fee(account, nonce_of(default_node.url, account.address), to=account.address, value=1)
    receipt = wait_for_receipt(default_node.url, call(default_node.url, "eth_sendRawTransaction", [raw]))
    assert receipt["status"] == "0x1"


# Rate limit


def test_rate_limit_over_http(tmp_path: Path) -> None:
    node = dev_node(tmp_path, "--rpc-rate-limit", "5").start()
    try:
        time.sleep(1.5)  # the start-up polls used tokens
        statuses = []
        limited_body = b""
        limited_headers: dict[str, str] = {}
        for _ in range(15):
            status, headers, body = request(node.url, "POST")
            statuses.append(status)
            if status == 429:
                limited_body, limited_headers = body, headers
        assert statuses[:5] == [200] * 5
        assert 429 in statuses
        error = json.loads(limited_body)["error"]
        assert error["code"] == -32005
        assert error["message"] == "rate limit exceeded: at most 5 requests per second"
        assert int(limited_headers["retry-after"]) >= 1

        time.sleep(1.2)
        status, _headers, _body = request(node.url, "POST")
        assert status == 200

        time.sleep(1.2)
        with connect(node.url.replace("http", "ws")) as socket:
            answers = []
            for _ in range(12):
                socket.send(BLOCK_NUMBER.decode())
                answers.append(json.loads(socket.recv(timeout=10)))
        limited = [answer for answer in answers if "error" in answer]
        assert limited, answers
        assert limited[0]["error"]["code"] == -32005
    finally:
        node.stop()


def test_rate_limiter_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow("a")
    assert limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.allow("b")
    assert limiter.retry_after("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.allow("a")
    assert not limiter.allow("a")


def test_rate_limiter_off() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.allow("a") for _ in range(10_000))


def test_rate_limiter_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("node.rpc.limits.MAX_TRACKED_CLIENTS", 100)
    now = [0.0]
    limiter = RateLimiter(1, clock=lambda: now[0])
    for index in range(1_000):
        assert limiter.allow(f"10.0.{index // 256}.{index % 256}")
    assert len(limiter._buckets) <= 100


# Flags


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--rpc-rate-limit", "-1"),
        ("--rpc-call-timeout", "nan"),
        ("--rpc-max-batch", "0"),
        ("--rpc-max-request-bytes", "lots"),
    ],
)
def test_bad_flag_value_rejected(flag: str, value: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "dev", flag, value],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert flag in completed.stderr
