"""Audit tools against a running ``kura dev`` node after the issuer story.

The report's figures are checked against direct JSON-RPC queries (``eth_call`` and
``eth_getLogs`` at the report's last block), the replay over JSON-RPC must end on the node's
state root, and the HTML page is rendered in headless Chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address

from node.cli.main import DEV_GENESIS, main
from node.coin.abi import gold_coin_interface, mint_authority_interface
from node.coin.predeploy import GOLD_COIN_ADDRESS, MINT_AUTHORITY_ADDRESS
from node.coin.units import format_grams
from tests.support.process import REPO, NodeProcess, dev_node

TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
ZERO_TOPIC = "0x" + "00" * 32


@pytest.fixture(scope="module")
def story_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A dev node on which scripts/issuer_story.py has run."""
    process = dev_node(tmp_path_factory.mktemp("story-node")).start()
    try:
        completed = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "issuer_story.py"), "--rpc", process.url],
            capture_output=True,
            text=True,
            env={**os.environ, "ETH_HASH_BACKEND": "pysha3", "LANGUAGE": "en"},
            cwd=REPO,
            timeout=180,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def report_dir(story_node: NodeProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    code = main(
        ["audit", "report", "--rpc", story_node.url, "--genesis", str(DEV_GENESIS), "--out", str(out), "--quiet"]
    )
    assert code == 0
    return out


def load(report_dir: Path) -> dict[str, Any]:
    return json.loads((report_dir / "report.json").read_text(encoding="utf-8"))


def call_int(node: NodeProcess, function: str, *args: Any, block: int) -> int:
    data = gold_coin_interface().encode_call(function, *args)
    result = node.call("eth_call", [{"to": GOLD_COIN_ADDRESS, "data": "0x" + data.hex()}, hex(block)])
    return int(result, 16)


def logs(node: NodeProcess, address: str, topics: list[Any], last: int) -> list[dict[str, Any]]:
    return node.call("eth_getLogs", [{"address": address, "topics": topics, "fromBlock": "0x0", "toBlock": hex(last)}])


def test_report_supply_and_reserve_match_rpc(story_node: NodeProcess, report_dir: Path):
    report = load(report_dir)
    last = report["range"]["last"]
    summary = report["summary"]

    assert int(summary["supply_end"]) == call_int(story_node, "totalSupply", block=last)
    assert int(summary["reserve_end"]) == call_int(story_node, "latestReserve", block=last)
    assert summary["supply_end_grams"] == "500"
    assert summary["reserve_end_grams"] == "900"
    assert report["findings"] == []


def test_report_balances_and_holders_match_rpc(story_node: NodeProcess, report_dir: Path):
    report = load(report_dir)
    last = report["range"]["last"]
    accounts = set()
    for log in logs(story_node, GOLD_COIN_ADDRESS, [TRANSFER], last):
        for topic in log["topics"][1:3]:
            if topic != ZERO_TOPIC:
                accounts.add(to_checksum_address("0x" + topic[-40:]))
    balances = {account: call_int(story_node, "balanceOf", account, block=last) for account in accounts}
    holding = {account: balance for account, balance in balances.items() if balance > 0}

    assert report["holders"]["count"] == len(holding)
    for holder in report["holders"]["largest"]:
        assert int(holder["balance"]) == holding[holder["address"]]
    assert sum(int(holder["balance"]) for holder in report["holders"]["largest"]) == int(
        report["summary"]["supply_end"]
    )


def test_report_events_match_rpc(story_node: NodeProcess, report_dir: Path):
    report = load(report_dir)
    last = report["range"]["last"]
    authority = mint_authority_interface()
    coin = gold_coin_interface()
    executed = logs(story_node, MINT_AUTHORITY_ADDRESS, ["0x" + authority.event_topic("MintExecuted").hex()], last)
    attested = logs(story_node, GOLD_COIN_ADDRESS, ["0x" + coin.event_topic("ReserveAttested").hex()], last)
    burned = logs(story_node, GOLD_COIN_ADDRESS, [TRANSFER, None, ZERO_TOPIC], last)

    assert [m["tx"] for m in report["mints"]] == [log["transactionHash"] for log in executed]
    assert [a["tx"] for a in report["attestations"]] == [log["transactionHash"] for log in attested]
    assert [b["tx"] for b in report["burns"]] == [log["transactionHash"] for log in burned]
    assert [int(b["amount"]) for b in report["burns"]] == [int(log["data"], 16) for log in burned]
    (mint,) = report["mints"]
    assert mint["amount_grams"] == "600"
    assert len(mint["approvers"]) == 3
    assert all(approver["signature_recovers"] for approver in mint["approvers"])
    assert mint["proposer"] is None  # the story passes signatures and never calls proposeMint
    (burn,) = report["burns"]
    assert burn["burner_has_role"] is True
    assert format_grams(int(burn["amount"])) == "100"


def test_replay_over_rpc_matches_node(story_node: NodeProcess, capsys: pytest.CaptureFixture[str]):
    code = main(["audit", "replay", "--rpc", story_node.url, "--genesis", str(DEV_GENESIS), "--quiet"])

    out, err = capsys.readouterr()
    assert code == 0, err
    height = int(out.split("Head ")[1].split()[0])
    block = story_node.call("eth_getBlockByNumber", [hex(height), False])
    assert f"state root {block['stateRoot']}" in out


def test_replay_running_node_data_dir_copy(story_node: NodeProcess, capsys: pytest.CaptureFixture[str]):
    data_dir = Path(story_node.args[story_node.args.index("--data-dir") + 1])

    locked = main(["audit", "replay", "--data-dir", str(data_dir), "--quiet"])
    locked_err = capsys.readouterr().err
    copied = main(["audit", "replay", "--data-dir", str(data_dir), "--copy", "--quiet"])

    out, err = capsys.readouterr()
    assert locked == 1
    assert "Another kura process may be using this data directory" in locked_err
    assert copied == 0, err
    assert "Every rule held." in out


def test_replay_over_rpc_fetches_genesis(story_node: NodeProcess, capsys: pytest.CaptureFixture[str]):
    """The node serves its genesis document (kura_getGenesis), so --genesis is optional with --rpc."""
    code = main(["audit", "replay", "--rpc", story_node.url, "--quiet"])

    assert code == 0, capsys.readouterr().err


def test_genesis_method_returns_store_document(story_node: NodeProcess):
    from node.audit.rpc_methods import get_genesis

    class Store:
        def genesis_document(self) -> dict[str, Any]:
            return json.loads(Path(DEV_GENESIS).read_text(encoding="utf-8"))

    context = SimpleNamespace(chain=SimpleNamespace(store=Store()))

    assert get_genesis(context, [])["config"]["chainId"] == 1337  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_html_renders_in_chromium(report_dir: Path, tmp_path: Path):
    from PIL import Image

    screenshot = tmp_path / "report-screenshot.png"
    completed = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--window-size=1000,1100",
            f"--screenshot={screenshot}",
            (report_dir / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert completed.returncode == 0, completed.stderr
    assert screenshot.stat().st_size > 20_000
    image = Image.open(screenshot).convert("RGB")
    colours = image.getcolors(maxcolors=1_000_000) or []
    supply_pixels = sum(count for count, (r, g, b) in colours if abs(r - 0xB8) < 24 and abs(g - 0x86) < 24 and b < 60)
    reserve_pixels = sum(
        count for count, (r, g, b) in colours if abs(r - 0x2F) < 24 and abs(g - 0x6F) < 24 and abs(b - 0x9F) < 24
    )
    assert supply_pixels > 300, "the supply line of the chart was not drawn"
    assert reserve_pixels > 300, "the reserve line of the chart was not drawn"
    png = Image.open(report_dir / "supply-chart.png")
    assert png.size == (900, 360)
    assert len(png.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 50


def test_export_over_rpc_then_import(story_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    block_file = tmp_path / "chain.rlp.gz"
    genesis_file = tmp_path / "genesis.json"
    exported = main(
        [
            "export",
            str(block_file),
            "--rpc",
            story_node.url,
            "--genesis",
            str(DEV_GENESIS),
            "--genesis-out",
            str(genesis_file),
        ]
    )
    imported = main(["import", str(block_file), "--data-dir", str(tmp_path / "data"), "--genesis", str(genesis_file)])

    out, err = capsys.readouterr()
    assert exported == 0, err
    assert imported == 0, err
    height = int(out.split("; head ")[1].split()[0])
    block = story_node.call("eth_getBlockByNumber", [hex(height), False])
    assert f"; head {height} {block['hash']}." in out
