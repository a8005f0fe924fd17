"""The coin audit report: figures gathered by :class:`CoinTracker`, as JSON and CSV.

Amounts are token base units (1e18 = 1 gram) written as decimal strings, so no JSON reader
rounds them, each with a ``_grams`` twin for people. Addresses and hashes are 0x-hex.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from node.audit.chart_png import render_chart_png
from node.audit.coin import CoinTracker, Finding, SupplyPoint
from node.audit.errors import AuditError
from node.audit.html import Labels, render_html
from node.audit.progress import Progress
from node.audit.replay import ReplayResult, replay
from node.audit.sources import BlockSource
from node.chain.chain import Chain
from node.chain.genesis import parse_genesis
from node.coin.predeploy import GOLD_COIN_ADDRESS, MINT_AUTHORITY_ADDRESS
from node.coin.units import format_grams

#: Holders listed in the report's "largest holders" table by default.
DEFAULT_LARGEST_HOLDERS = 10


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + bytes(value).hex()


def _account(value: bytes | None) -> str | None:
    return None if value is None else to_checksum_address(bytes(value))


def _amount(name: str, value: int) -> dict[str, str]:
    return {name: str(value), f"{name}_grams": format_grams(value)}


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _point(point: SupplyPoint) -> dict[str, Any]:
    return {
        "block": point.block,
        "timestamp": point.timestamp,
        **_amount("supply", point.supply),
        **_amount("reserve", point.reserve),
        "coverage": _ratio(point.coverage),
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "block": finding.block,
        "tx": _hex(finding.tx),
        "got": str(finding.got),
        "expected": str(finding.expected),
        "detail": finding.detail,
    }


def build_report(
    tracker: CoinTracker,
    result: ReplayResult,
    *,
    chain_id: int,
    genesis_hash: bytes,
    largest: int = DEFAULT_LARGEST_HOLDERS,
) -> dict[str, Any]:
    """Assemble the report document; call after the replay and ``tracker.finish()``."""
    end = tracker.points[-1]
    start = tracker.start_point
    holders = sorted(tracker.balances.items(), key=lambda item: (-item[1], item[0]))
    minted = sum(m.amount for m in tracker.mints)
    burned = sum(b.amount for b in tracker.burns)
    frozen = sorted(account for account, is_frozen in tracker.frozen.items() if is_frozen)
    head = result.head

    return {
        "chain": {
            "chain_id": chain_id,
            "genesis_hash": _hex(genesis_hash),
            "head": {"number": int(head.block_number), "hash": _hex(head.hash), "state_root": _hex(head.state_root)},
        },
        "contracts": {"gold_coin": GOLD_COIN_ADDRESS, "mint_authority": MINT_AUTHORITY_ADDRESS},
        "range": {
            "first": tracker.first,
            "last": int(tracker.end_header.block_number),
            "first_timestamp": start.timestamp,
            "last_timestamp": tracker.end_header.timestamp,
        },
        "replay": {"blocks": result.blocks, "transactions": result.transactions, "seconds": round(result.seconds, 3)},
        "summary": {
            **_amount("supply_start", start.supply),
            **_amount("supply_end", end.supply),
            **_amount("reserve_start", start.reserve),
            **_amount("reserve_end", end.reserve),
            "coverage_end": _ratio(end.coverage),
            **_amount("minted", minted),
            **_amount("burned", burned),
            "mints": len(tracker.mints),
            "burns": len(tracker.burns),
            "attestations": len(tracker.attestations),
            "holders": len(holders),
            "frozen_accounts": len(frozen),
            "findings": len(tracker.findings),
            **_amount("total_supply_on_chain", tracker.state_supply),
            **_amount("latest_reserve_on_chain", tracker.state_reserve),
        },
        "supply": [_point(point) for point in [start, *tracker.points]],
        "mints": [
            {
                "block": m.block,
                "timestamp": m.timestamp,
                "tx": _hex(m.tx),
                "proposal_hash": _hex(m.proposal_hash),
                "recipient": _account(m.recipient),
                **_amount("amount", m.amount),
                "reserve_ref": _hex(m.reserve_ref),
                "nonce": str(m.nonce),
                "proposer": _account(m.proposer),
                "proposed_block": m.proposed_block,
                "approvers": [
                    {"authority": _account(a.address), "kind": a.kind, "signature_recovers": a.recovered}
                    for a in m.approvers
                ],
                "approvals_reported": m.approvals_reported,
                "threshold": m.threshold,
                "authorities": [_account(a) for a in m.authorities],
            }
            for m in tracker.mints
        ],
        "burns": [
            {
                "block": b.block,
                "timestamp": b.timestamp,
                "tx": _hex(b.tx),
                "account": _account(b.account),
                **_amount("amount", b.amount),
                "burner": _account(b.burner),
                "burner_has_role": b.burner_has_role,
            }
            for b in tracker.burns
        ],
        "attestations": [
            {
                "block": a.block,
                "timestamp": a.timestamp,
                "tx": _hex(a.tx),
                "index": a.index,
                **_amount("reserve", a.reserve),
                "report_hash": _hex(a.report_hash),
                "as_of": a.as_of,
                "attestor": _account(a.attestor),
                **_amount("supply", a.supply),
                "coverage": _ratio(a.coverage),
            }
            for a in tracker.attestations
        ],
        "freezes": [
            {
                "block": f.block,
                "timestamp": f.timestamp,
                "tx": _hex(f.tx),
                "account": _account(f.account),
                "frozen": f.frozen,
                "by": _account(f.by),
            }
            for f in tracker.freezes
        ],
        "frozen_accounts": [_account(account) for account in frozen],
        "holders": {
            "count": len(holders),
            "largest": [
                {
                    "address": _account(address),
                    **_amount("balance", balance),
                    "share": _ratio(balance / end.supply) if end.supply else None,
                }
                for address, balance in holders[:largest]
            ],
        },
        "findings": [_finding(finding) for finding in tracker.findings],
    }


def write_json(report: Mapping[str, Any], path: Path) -> None:
    _write_text(path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")


#: CSV tables: file name, report key, columns (report field names).
CSV_TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("supply.csv", "supply", ("block", "timestamp", "supply_grams", "reserve_grams", "coverage", "supply", "reserve")),
    (
        "mints.csv",
        "mints",
        (
            "block",
            "timestamp",
            "tx",
            "recipient",
            "amount_grams",
            "proposal_hash",
            "proposer",
            "approvers",
            "threshold",
        ),
    ),
    ("burns.csv", "burns", ("block", "timestamp", "tx", "account", "amount_grams", "burner", "burner_has_role")),
    (
        "attestations.csv",
        "attestations",
        ("block", "timestamp", "tx", "index", "reserve_grams", "supply_grams", "coverage", "attestor", "report_hash"),
    ),
    ("freezes.csv", "freezes", ("block", "timestamp", "tx", "account", "frozen", "by")),
    ("holders.csv", "holders", ("address", "balance_grams", "share", "balance")),
    ("findings.csv", "findings", ("rule", "block", "tx", "got", "expected", "detail")),
)


def write_csv_tables(report: Mapping[str, Any], directory: Path, headings: Mapping[str, str]) -> list[Path]:
    """Write one CSV file per table; ``headings`` maps field names to the header row's words."""
    written = []
    for file_name, key, columns in CSV_TABLES:
        rows = report[key]["largest"] if key == "holders" else report[key]
        path = directory / file_name
        temporary = path.with_suffix(".csv.tmp")
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([headings.get(column, column) for column in columns])
            for row in rows:
                writer.writerow([_cell(row, column) for column in columns])
        os.replace(temporary, path)
        written.append(path)
    return written


def _cell(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    if column == "approvers":
        return " ".join(f"{a['authority']}({a['kind']})" for a in value or [])
    if value is None:
        return ""
    return str(value)


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def produce_report(
    source: BlockSource,
    out_dir: Path,
    *,
    labels: Labels,
    fallback_labels: Labels,
    headings: Mapping[str, str],
    language: str,
    first: int = 1,
    last: int | None = None,
    largest: int = DEFAULT_LARGEST_HOLDERS,
    progress: Progress | None = None,
) -> tuple[dict[str, Any], list[Path]]:
    """Replay ``source`` up to ``last`` and write report.json, the CSV tables, report.html and supply-chart.png.

    Raises BlockValidationError when the replay finds a broken block rule: a report is only
    written for a chain that replays cleanly.
    """
    trackers: list[CoinTracker] = []

    def make_observers(chain: Chain) -> list[CoinTracker]:
        trackers.append(CoinTracker(chain, first=first, last=last))
        return trackers

    result = replay(source, progress=progress, make_observers=make_observers, until=last)
    tracker = trackers[0]
    if last is not None and int(result.head.block_number) < last:
        raise AuditError(f"--to {last} is beyond the chain's head {result.head.block_number}")
    if first > int(result.head.block_number):
        raise AuditError(f"--from {first} is beyond the chain's head {result.head.block_number}")
    tracker.finish()
    genesis = parse_genesis(source.genesis_document())
    genesis_hash = trackers[0].genesis_hash
    report = build_report(tracker, result, chain_id=genesis.config.chain_id, genesis_hash=genesis_hash, largest=largest)

    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "report.json"]
    write_json(report, written[0])
    written += write_csv_tables(report, out_dir, headings)
    html_path = out_dir / "report.html"
    _write_text(html_path, render_html(report, labels, language=language))
    png_path = out_dir / "supply-chart.png"
    render_chart_png(report["supply"], report["findings"], labels, fallback_labels, png_path)
    written += [html_path, png_path]
    return report, written
