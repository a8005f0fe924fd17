"""Operations endpoints: Prometheus metrics at /metrics, /health and /ready."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from node.rpc.metrics import NodeGauges, NodeMetrics
from tests.rpc.helpers import DEV_GENESIS, call, dev_account, nonce_of, sign_dynamic_fee, wait_for_receipt
from tests.support.process import REPO, NodeProcess, rpc

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(exposition: str) -> Samples:
    """Map (sample name, sorted labels) to value."""
    samples: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def scrape(url: str) -> tuple[str, Samples]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        content_type = response.headers["Content-Type"]
        return content_type, parse(response.read().decode())


def get(url: str, path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url + path, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_metrics_format(shared_node: NodeProcess) -> None:
    content_type, samples = scrape(shared_node.url)
    assert content_type.startswith("text/plain; version=0.0.4")
    assert samples[("kura_chain_height", ())] >= 0
    assert samples[("kura_chain_head_age_seconds", ())] >= 0
    assert ("kura_txpool_transactions", (("state", "pending"),)) in samples
    assert ("kura_txpool_transactions", (("state", "queued"),)) in samples


def test_dev_node_has_no_network_metrics(shared_node: NodeProcess) -> None:
    _content_type, samples = scrape(shared_node.url)
    names = {name for name, _labels in samples}
    assert "kura_p2p_peers" not in names
    assert "kura_qbft_round" not in names
    assert "kura_shelter_age_seconds" not in names


def test_height_follows_chain(shared_node: NodeProcess) -> None:
    account = dev_account(11)
    raw = sign_dynamic_fee(account, nonce_of(shared_node.url, account.address), to=account.address)
    receipt = wait_for_receipt(shared_node.url, call(shared_node.url, "eth_sendRawTransaction", [raw]))
    _content_type, samples = scrape(shared_node.url)
    assert samples[("kura_chain_height", ())] >= int(receipt["blockNumber"], 16)
    assert samples[("kura_block_build_seconds_count", ())] >= 1
    assert samples[("kura_block_build_seconds_sum", ())] > 0
    assert samples[("kura_block_import_seconds_count", ())] == 0


def test_queued_transaction_counted(shared_node: NodeProcess) -> None:
    account = dev_account(12)
    gapped = sign_dynamic_fee(account, nonce_of(shared_node.url, account.address) + 5, to=account.address)
    call(shared_node.url, "eth_sendRawTransaction", [gapped])
    _content_type, samples = scrape(shared_node.url)
    assert samples[("kura_txpool_transactions", (("state", "queued"),))] >= 1
    assert call(shared_node.url, "txpool_status")["queued"] != "0x0"


def test_rpc_latency_by_method(shared_node: NodeProcess) -> None:
    _content_type, before = scrape(shared_node.url)
    key = ("kura_rpc_request_duration_seconds_count", (("method", "eth_chainId"),))
    for _ in range(3):
        call(shared_node.url, "eth_chainId")
    rpc(shared_node.url, "eth_getBalance", ["not an address"])
    rpc(shared_node.url, "no_suchMethod_a1b2")
    _content_type, after = scrape(shared_node.url)

    assert after[key] - before.get(key, 0) == 3
    assert after[("kura_rpc_errors_total", (("method", "eth_getBalance"),))] >= 1
    assert after[("kura_rpc_request_duration_seconds_count", (("method", "unknown"),))] >= 1
    labels = {dict(labels).get("method") for _name, labels in after}
    assert "no_suchMethod_a1b2" not in labels


def test_optional_gauges_when_present() -> None:
    gauges = NodeGauges(
        height=lambda: 42,
        head_timestamp=lambda: int(time.time()) - 3,
        txpool=lambda: (2, 1),
        peers=lambda: 3,
        qbft_round=lambda: 1,
        shelter_time=lambda: time.time() - 60,
    )
    samples = parse(NodeMetrics(gauges).exposition().decode())
    assert samples[("kura_chain_height", ())] == 42
    assert samples[("kura_p2p_peers", ())] == 3
    assert samples[("kura_qbft_round", ())] == 1
    assert 59 <= samples[("kura_shelter_age_seconds", ())] <= 70
    assert samples[("kura_txpool_transactions", (("state", "pending"),))] == 2


def test_shelter_age_absent_before_first_shelter() -> None:
    gauges = NodeGauges(height=lambda: 0, head_timestamp=lambda: 0, txpool=lambda: (0, 0), shelter_time=lambda: None)
    samples = parse(NodeMetrics(gauges).exposition().decode())
    assert ("kura_shelter_age_seconds", ()) not in samples


def test_lone_validator_ready(shared_node: NodeProcess) -> None:
    status, body = get(shared_node.url, "/ready")
    assert status == 200
    assert body["ready"] is True
    assert body["reason"] == "ok"
    assert body["syncing"] is False


def test_health(shared_node: NodeProcess) -> None:
    status, body = get(shared_node.url, "/health")
    assert status == 200
    assert body["status"] == "ok"


@pytest.fixture
def follower(tmp_path: Path) -> Iterator[NodeProcess]:
    """A ``kura run`` node with no validator key and no peers."""
    data_dir = tmp_path / "data"
    subprocess.run(
        [sys.executable, "-m", "node.cli.main", "init", "--genesis", str(DEV_GENESIS), "--data-dir", str(data_dir)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=60,
    )
    process = NodeProcess(["run", "--data-dir", str(data_dir)], tmp_path / "node.log").start()
    try:
        yield process
    finally:
        process.stop()


def test_lone_follower_not_ready(follower: NodeProcess) -> None:
    status, body = get(follower.url, "/ready")
    assert status == 503
    assert body["ready"] is False
    assert body["reason"] == "no peers"
    assert body["peers"] == 0


def _readiness(height: int, peer_heads: list[int] | None, lone_validator: bool) -> dict[str, object]:
    """Run Node.readiness on a stand-in node with the given head, peer heads and engine."""
    from types import SimpleNamespace

    from node.service import Node

    network = (
        None
        if peer_heads is None
        else SimpleNamespace(peers={bytes([i]): SimpleNamespace(head_number=head) for i, head in enumerate(peer_heads)})
    )
    node = SimpleNamespace(
        chain=SimpleNamespace(head=SimpleNamespace(block_number=height)),
        network=network,
        engine=object() if lone_validator else None,
    )
    return vars(Node.readiness(node))  # type: ignore[arg-type]


def test_readiness_rules() -> None:
    assert _readiness(10, None, lone_validator=True)["reason"] == "ok"
    assert _readiness(10, None, lone_validator=False)["reason"] == "no peers"
    assert _readiness(10, [], lone_validator=False)["reason"] == "no peers"
    assert _readiness(10, [11, 12], lone_validator=False)["reason"] == "ok"
    syncing = _readiness(10, [11, 13], lone_validator=False)
    assert syncing["reason"] == "syncing"
    assert syncing["ready"] is False
    assert syncing["peers"] == 2
