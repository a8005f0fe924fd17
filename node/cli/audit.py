"""``kura audit``: replay the chain from genesis, and report the coin's supply against its reserve.

``replay`` re-executes every block from a data directory, a running node or a block file in a
fresh store and stops at the first broken rule with exit status 2. ``report`` runs the same
replay and writes JSON, CSV, HTML and PNG files about the gold coin. Only the parsers are built
at import; the handlers import the chain code when they run.
"""

from __future__ import annotations

import argparse
import gettext
import os
import sys
from pathlib import Path

from node.cli.export import EXIT_RULE_BROKEN, add_source_options, make_progress, open_source, print_rule_broken
from node.cli.i18n import DOMAIN, LOCALE_DIR, _
from node.errors import KuraError

#: Languages the report is written in.
REPORT_LANGUAGES = ("en", "ja")


def cmd_replay(args: argparse.Namespace) -> int:
    from node.audit.replay import replay
    from node.errors import BlockValidationError
    from node.store.backend import LevelDBBackend

    backend = None
    if args.store_dir:
        if Path(args.store_dir).exists() and any(Path(args.store_dir).iterdir()):
            raise KuraError(
                _("--store-dir {path} is not empty; the replay needs a fresh store").format(path=args.store_dir)
            )
        backend = LevelDBBackend(args.store_dir, create=True)
    source = open_source(args)
    try:
        result = replay(source, backend=backend, progress=make_progress(args.quiet), until=args.last)
    except BlockValidationError as error:
        print_rule_broken(error, _("replay"))
        return EXIT_RULE_BROKEN
    finally:
        source.close()
        if backend is not None:
            backend.close()
    head = result.head
    print(
        _(
            "Replayed {blocks} blocks ({transactions} transactions) in {seconds:.1f} s: "
            "{rate:.1f} blocks/s, {tx_rate:.0f} txs/s."
        ).format(
            blocks=result.blocks,
            transactions=result.transactions,
            seconds=result.seconds,
            rate=result.blocks_per_second,
            tx_rate=result.transactions_per_second,
        )
    )
    print(
        _("Every rule held. Head {number} 0x{hash}, state root 0x{root}.").format(
            number=head.block_number, hash=head.hash.hex(), root=head.state_root.hex()
        )
    )
    return 0


def _language(requested: str | None) -> str:
    """Return the report language: ``--lang``, else the locale's language when it has a catalogue, else English."""
    if requested:
        return requested
    found = gettext.find(DOMAIN, LOCALE_DIR)
    return "ja" if found and f"{os.sep}ja{os.sep}" in found else "en"


def report_labels(language: str) -> dict[str, str]:
    """Return every text of the HTML page and the chart, translated into ``language``."""
    translation = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True)
    _ = translation.gettext  # noqa: F811 - pybabel extracts these calls as messages
    return {
        "title": _("Gold coin audit report"),
        "item": _("Item"),
        "value": _("Value"),
        "chain_id": _("Chain ID"),
        "genesis_hash": _("Genesis hash"),
        "head": _("Head block"),
        "state_root": _("State root at the head"),
        "range": _("Block range"),
        "range_value": _("blocks {first} to {last} ({start} to {end} UTC)"),
        "replay": _("Replay"),
        "replay_value": _(
            "{blocks} blocks with {transactions} transactions re-executed from genesis in {seconds} s; every seal, "
            "signature, root and receipt matched"
        ),
        "section_summary": _("Summary"),
        "supply_start": _("Supply at the start (g)"),
        "supply_end": _("Supply at the end (g)"),
        "reserve_start": _("Attested reserve at the start (g)"),
        "reserve_end": _("Attested reserve at the end (g)"),
        "coverage_end": _("Coverage at the end (reserve / supply)"),
        "minted": _("Minted in the range (g)"),
        "burned": _("Burned in the range (g)"),
        "holders": _("Holders at the end"),
        "frozen_count": _("Frozen accounts at the end"),
        "findings_count": _("Findings"),
        "chart_title": _("Supply and attested reserve"),
        "chart_supply": _("Supply"),
        "chart_reserve": _("Attested reserve"),
        "axis_block": _("Block"),
        "axis_grams": _("Grams of gold"),
        "section_findings": _("Findings"),
        "no_findings": _("No invariant was violated in this range."),
        "rule:supply above reserve": _("Supply above the attested reserve"),
        "rule:mint without quorum": _("Mint without a quorum of authorities"),
        "rule:mint outside MintAuthority": _("Mint outside MintAuthority"),
        "rule:burn by non-burner": _("Burn by an account without BURNER_ROLE"),
        "rule:supply from events differs from totalSupply": _("Supply from events differs from totalSupply"),
        "section_mints": _("Mints"),
        "section_burns": _("Burns"),
        "section_attestations": _("Reserve attestations"),
        "section_freezes": _("Freezes and unfreezes"),
        "section_frozen": _("Frozen accounts at the end of the range"),
        "section_holders": _("Largest holders"),
        "holder_count": _("{count} accounts hold a balance at the end of the range."),
        "block": _("Block"),
        "time": _("Time (UTC)"),
        "tx": _("Transaction"),
        "recipient": _("Recipient"),
        "amount": _("Amount (g)"),
        "proposal": _("Proposal"),
        "proposer": _("Proposed by"),
        "not_published": _("not published on chain"),
        "approvers": _("Approving authorities"),
        "approval:signature": _("signature"),
        "approval:on-chain": _("on-chain approval"),
        "threshold": _("Approvals / threshold"),
        "account": _("Account"),
        "burner": _("Burned by"),
        "burner_role": _("Has BURNER_ROLE"),
        "index": _("Index"),
        "reserve": _("Reserve (g)"),
        "supply": _("Supply (g)"),
        "coverage": _("Coverage"),
        "attestor": _("Attestor"),
        "report_hash": _("Report hash"),
        "action": _("Action"),
        "frozen": _("frozen"),
        "unfrozen": _("unfrozen"),
        "by": _("By"),
        "address": _("Address"),
        "balance": _("Balance (g)"),
        "share": _("Share of supply"),
        "rule": _("Rule"),
        "got": _("Found"),
        "expected": _("Expected"),
        "detail": _("Detail"),
        "yes": _("yes"),
        "no": _("no"),
        "none": _("none"),
        "footer": _(
            "Made by 'kura audit report' from a replay of the chain from genesis. Amounts are grams of gold; "
            "one gram is 10^18 token base units."
        ),
    }


def csv_headings(labels: dict[str, str]) -> dict[str, str]:
    """Header words of the CSV columns, from the report labels."""
    return {
        "block": labels["block"],
        "timestamp": labels["time"],
        "tx": labels["tx"],
        "supply_grams": labels["supply"],
        "reserve_grams": labels["reserve"],
        "coverage": labels["coverage"],
        "recipient": labels["recipient"],
        "amount_grams": labels["amount"],
        "proposal_hash": labels["proposal"],
        "proposer": labels["proposer"],
        "approvers": labels["approvers"],
        "threshold": labels["threshold"],
        "account": labels["account"],
        "burner": labels["burner"],
        "burner_has_role": labels["burner_role"],
        "index": labels["index"],
        "attestor": labels["attestor"],
        "report_hash": labels["report_hash"],
        "frozen": labels["frozen"],
        "by": labels["by"],
        "address": labels["address"],
        "balance_grams": labels["balance"],
        "share": labels["share"],
        "rule": labels["rule"],
        "got": labels["got"],
        "expected": labels["expected"],
        "detail": labels["detail"],
    }


def cmd_report(args: argparse.Namespace) -> int:
    from node.audit.report import produce_report
    from node.errors import BlockValidationError

    if args.last is not None and args.first > args.last:
        raise KuraError(
            _("--from {first} is after --to {last}; the block range is empty").format(first=args.first, last=args.last)
        )
    language = _language(args.lang)
    labels = report_labels(language)
    source = open_source(args)
    try:
        report, written = produce_report(
            source,
            Path(args.out),
            labels=labels,
            fallback_labels=report_labels("en"),
            headings=csv_headings(labels),
            language=language,
            first=args.first,
            last=args.last,
            largest=args.largest,
            progress=make_progress(args.quiet),
        )
    except BlockValidationError as error:
        print_rule_broken(error, _("replay"))
        return EXIT_RULE_BROKEN
    finally:
        source.close()
    summary = report["summary"]
    print(
        _("Supply {supply} g, attested reserve {reserve} g, {holders} holders, {findings} findings.").format(
            supply=summary["supply_end_grams"],
            reserve=summary["reserve_end_grams"],
            holders=summary["holders"],
            findings=summary["findings"],
        )
    )
    for path in written:
        print(_("wrote {path}").format(path=path))
    for finding in report["findings"]:
        print(
            _("finding: {rule} at block {block} tx {tx}: found {got}, expected {expected}").format(**finding),
            file=sys.stderr,
        )
    return 1 if report["findings"] and args.fail_on_findings else 0


def _block_number(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise argparse.ArgumentTypeError(_("block number {value!r} is not a decimal integer").format(value=value))
    return int(value)


def _positive(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(_("{value!r} is not a positive integer").format(value=value))
    return int(value)


def register(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help=_("replay the chain from genesis and report on the gold coin"))
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar=_("ACTION"))

    replay = actions.add_parser(
        "replay", help=_("re-execute every block in a fresh store and check seals, signatures, roots and receipts")
    )
    add_source_options(replay)
    replay.add_argument("--to", dest="last", type=_block_number, help=_("last block to replay (default: the head)"))
    replay.add_argument(
        "--store-dir", help=_("replay into a new LevelDB store in this empty directory instead of memory")
    )
    replay.add_argument("--quiet", action="store_true", help=_("print no progress line"))
    replay.set_defaults(handler=cmd_replay)

    report = actions.add_parser(
        "report", help=_("write the coin's supply, reserve, mints, burns and findings as JSON, CSV, HTML and PNG")
    )
    add_source_options(report)
    report.add_argument("--out", required=True, help=_("directory to write the report files to"))
    report.add_argument(
        "--from", dest="first", type=_positive, default=1, help=_("first block of the range (default 1)")
    )
    report.add_argument("--to", dest="last", type=_block_number, help=_("last block of the range (default: the head)"))
    report.add_argument(
        "--lang", choices=REPORT_LANGUAGES, help=_("report language; default: the locale's (LANG, LANGUAGE)")
    )
    report.add_argument(
        "--largest", type=_positive, default=10, help=_("number of largest holders to list (default 10)")
    )
    report.add_argument(
        "--fail-on-findings", action="store_true", help=_("exit with status 1 when an invariant is violated")
    )
    report.add_argument("--quiet", action="store_true", help=_("print no progress line"))
    report.set_defaults(handler=cmd_report)
