"""``kura audit report`` on an in-process chain: figures, invariant findings and the output files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from eth_utils import keccak

from node.audit.coin import BURNER_ROLE, RULE_BURN_BY_NON_BURNER, CoinTracker
from node.cli.main import main
from node.store.backend import LevelDBBackend, MemoryBackend
from tests.audit.builders import GRAM, Wallets, new_dev_chain, seal


@pytest.fixture(scope="module")
def story_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A chain with a clean issuer story, then two violations: a mint outside MintAuthority and a
    reserve attested below the supply."""
    data_dir = tmp_path_factory.mktemp("report-chain") / "data"
    backend = LevelDBBackend(data_dir / "chaindata", create=True)
    try:
        chain = new_dev_chain(backend)
        wallets = Wallets(chain)
        customer, burner, admin = wallets.address("customer"), wallets.address("burner"), wallets.address("admin")
        # Callables, because each transaction is signed against the head at its turn.
        blocks = [
            lambda: wallets.attest(1000),  # 1
            lambda: wallets.mint("exchange", 600, 1, ("authority_issuer", "authority_custodian")),  # 2
            lambda: wallets.coin("exchange", "transfer", customer, 150 * GRAM),  # 3
            lambda: wallets.coin("customer", "approve", burner, 100 * GRAM),  # 4
            lambda: wallets.coin("burner", "burnFrom", customer, 100 * GRAM),  # 5
            lambda: wallets.coin("compliance", "freeze", customer),  # 6
            lambda: wallets.coin("admin", "grantRole", keccak(text="MINTER_ROLE"), admin),  # 7
            lambda: wallets.coin("admin", "mint", admin, 5 * GRAM),  # 8: outside MintAuthority
            lambda: wallets.attest(400),  # 9: supply 505 g above the new reserve
        ]
        for make_transaction in blocks:
            executed = seal(chain, [make_transaction()])
            assert executed.receipts[0].state_root == b"\x01", f"block {executed.header.block_number} reverted"
    finally:
        backend.close()
    return data_dir


def run_report(story_dir: Path, out: Path, *extra: str) -> int:
    return main(["audit", "report", "--data-dir", str(story_dir), "--out", str(out), "--quiet", *extra])


def test_report_figures(story_dir: Path, tmp_path: Path, capsys):
    code = run_report(story_dir, tmp_path, "--lang", "en")

    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    summary = report["summary"]
    assert summary["supply_end_grams"] == "505"
    assert summary["reserve_end_grams"] == "400"
    assert summary["minted_grams"] == "600"
    assert summary["burned_grams"] == "100"
    assert summary["total_supply_on_chain_grams"] == "505"
    assert summary["holders"] == 3
    assert summary["coverage_end"] == pytest.approx(400 / 505, abs=1e-6)
    assert "Supply 505 g, attested reserve 400 g, 3 holders, 2 findings." in out


def test_report_mint_names_authorities(story_dir: Path, tmp_path: Path):
    run_report(story_dir, tmp_path)

    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    (mint,) = report["mints"]
    assert mint["block"] == 2
    assert mint["amount_grams"] == "600"
    assert mint["threshold"] == 2
    assert {a["authority"] for a in mint["approvers"]} == {
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    }
    assert all(a["kind"] == "signature" and a["signature_recovers"] for a in mint["approvers"])


def test_report_burn_attestations_freezes(story_dir: Path, tmp_path: Path):
    run_report(story_dir, tmp_path)

    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    (burn,) = report["burns"]
    assert burn["burner"] == "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"
    assert burn["burner_has_role"] is True
    assert burn["account"] == "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
    assert [a["reserve_grams"] for a in report["attestations"]] == ["1000", "400"]
    assert report["frozen_accounts"] == ["0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"]


def test_report_findings_name_block_and_tx(story_dir: Path, tmp_path: Path):
    run_report(story_dir, tmp_path)

    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    findings = {finding["rule"]: finding for finding in report["findings"]}
    assert set(findings) == {"mint outside MintAuthority", "supply above reserve"}
    assert findings["mint outside MintAuthority"]["block"] == 8
    assert findings["supply above reserve"]["block"] == 9
    assert findings["supply above reserve"]["got"] == "505 g"
    assert findings["supply above reserve"]["expected"] == "<= 400 g"
    assert all(finding["tx"].startswith("0x") and len(finding["tx"]) == 66 for finding in findings.values())


def test_report_range_excludes_earlier_events(story_dir: Path, tmp_path: Path):
    run_report(story_dir, tmp_path, "--from", "3", "--to", "8")

    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["range"] == {**report["range"], "first": 3, "last": 8}
    assert report["mints"] == []
    assert report["summary"]["supply_start_grams"] == "600"
    assert report["summary"]["supply_end_grams"] == "505"
    assert [finding["rule"] for finding in report["findings"]] == ["mint outside MintAuthority"]


def test_report_fail_on_findings_exit_status(story_dir: Path, tmp_path: Path):
    assert run_report(story_dir, tmp_path, "--fail-on-findings") == 1
    assert run_report(story_dir, tmp_path, "--fail-on-findings", "--to", "7") == 0


def test_report_files_written(story_dir: Path, tmp_path: Path):
    run_report(story_dir, tmp_path, "--lang", "en")

    with open(tmp_path / "supply.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["Block", "Time (UTC)", "Supply (g)"]
    assert [row[2] for row in rows[1:]] == ["0", "0", "600", "500", "505", "505"]
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="supply-chart"' in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert (tmp_path / "supply-chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_japanese(story_dir: Path, tmp_path: Path):
    run_report(story_dir, tmp_path, "--lang", "ja")

    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<html lang="ja">' in html
    assert "ゴールドコイン監査レポート" in html
    with open(tmp_path / "findings.csv", encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header[0] == "規則"


def test_burn_by_account_without_role_is_finding():
    """GoldCoin itself rejects such a burn, so the check is driven directly."""
    chain = new_dev_chain(MemoryBackend())
    tracker = CoinTracker(chain)
    header = chain.head
    outsider = bytes.fromhex("11" * 20)

    tracker._record_burn(header, b"\x01" * 32, outsider, GRAM, outsider, in_range=True)

    (finding,) = tracker.findings
    assert finding.rule == RULE_BURN_BY_NON_BURNER
    assert finding.got == "0x" + "11" * 20
    assert tracker._has_role(BURNER_ROLE, bytes.fromhex("9965507D1a55bcC2695C58ba16FB37d819B0A4dc")) is True
