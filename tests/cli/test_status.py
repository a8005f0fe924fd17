"""``kura status`` against a running dev node, in English and Japanese."""

from __future__ import annotations

import json

from tests.cli.test_cli import kura
from tests.support.process import NodeProcess, free_port

DEV_VALIDATOR = "0x8626f6940E2eb28930eFb4CeF49B2d1F2C9C1199"


def test_status_english(shared_node: NodeProcess) -> None:
    completed = kura("status", "--rpc", shared_node.url)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == f"Node:        {shared_node.url}"
    assert "Chain ID:    1337" in lines
    assert any(line.startswith("Height:      ") and line.endswith(" s old)") for line in lines)
    assert "Peers:       0" in lines
    assert "Syncing:     no" in lines
    assert "Ready:       yes (ok)" in lines
    assert "Validators:  1" in lines
    assert f"  {DEV_VALIDATOR}" in lines


def test_status_japanese(shared_node: NodeProcess) -> None:
    completed = kura("status", "--rpc", shared_node.url, lang="ja_JP.UTF-8")
    assert completed.returncode == 0, completed.stderr
    assert "同期中:        いいえ" in completed.stdout
    assert "準備完了:      はい (正常)" in completed.stdout
    assert "バリデーター:  1" in completed.stdout


def test_status_json(shared_node: NodeProcess) -> None:
    completed = kura("status", "--rpc", shared_node.url, "--json")
    assert completed.returncode == 0, completed.stderr
    status = json.loads(completed.stdout)
    assert status["chain_id"] == 1337
    assert status["peers"] == 0
    assert status["ready"] is True
    assert status["validators"] == [DEV_VALIDATOR]
    assert status["pending"] >= 0


def test_status_unreachable_node() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    completed = kura("status", "--rpc", url)
    assert completed.returncode == 1
    assert f"cannot reach the node at {url}" in completed.stderr
