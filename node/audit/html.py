"""The report as one self-contained HTML page: inline CSS and an inline SVG chart, nothing fetched.

Every text a reader sees comes from ``labels`` (see ``node.cli.audit.report_labels``), so the
page follows the report language; figures, addresses and hashes are not translated.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

Labels = Mapping[str, str]

CHART_WIDTH = 900
CHART_HEIGHT = 360
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 90, 20, 44, 50
SUPPLY_COLOUR = "#b8860b"
RESERVE_COLOUR = "#2f6f9f"
FINDING_COLOUR = "#c0392b"

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f0e6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.85em; word-break: break-all; }
.findings td { background: #fdecea; } .ok { color: #2e7d32; }
svg text { font-size: 12px; fill: #333; }
"""


def _time(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _code(value: Any) -> str:
    return "" if value is None else f"<code>{escape(str(value))}</code>"


def _text(value: Any, labels: Labels) -> str:
    if value is None:
        return escape(labels["none"])
    if isinstance(value, bool):
        return escape(labels["yes"] if value else labels["no"])
    return escape(str(value))


def _coverage(value: float | None, labels: Labels) -> str:
    return escape(labels["none"]) if value is None else f"{value * 100:.2f}&nbsp;%"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, css_class: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<table{attribute}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(content: str, *, number: bool = False) -> str:
    return f'<td class="num">{content}</td>' if number else f"<td>{content}</td>"


def _nice_step(rough: float) -> float:
    """Round a tick step up to 1, 2, 2.5 or 5 times a power of ten."""
    magnitude = 10 ** math.floor(math.log10(rough))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= rough)


def _block_ticks(first: int, last: int) -> list[int]:
    """Whole block numbers for the x axis: every block for short ranges, else about six round steps."""
    span = last - first
    if span <= 10:
        return list(range(first, last + 1))
    magnitude = 10 ** (len(str(span // 5)) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10, 20, 50) if span // (m * magnitude) <= 6)
    start = -(-first // step) * step
    return list(range(start, last + 1, step))


def render_chart_svg(points: Sequence[Mapping[str, Any]], findings: Sequence[Mapping[str, Any]], labels: Labels) -> str:
    """Supply and reserve as step lines over block numbers, with a red mark at each finding's block."""
    blocks = [int(p["block"]) for p in points]
    supply = [float(p["supply_grams"]) for p in points]
    reserve = [float(p["reserve_grams"]) for p in points]
    first, last = min(blocks), max(blocks)
    span = max(last - first, 1)
    step_grams = _nice_step(max(max(supply), max(reserve), 1.0) * 1.05 / 5)
    top = step_grams * 5
    plot_width = CHART_WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
    plot_height = CHART_HEIGHT - _MARGIN_TOP - _MARGIN_BOTTOM

    def x(block: float) -> float:
        return _MARGIN_LEFT + (block - first) / span * plot_width

    def y(grams: float) -> float:
        return _MARGIN_TOP + plot_height - grams / top * plot_height

    def step_path(values: list[float]) -> str:
        parts = [f"M{x(blocks[0]):.1f},{y(values[0]):.1f}"]
        for index in range(1, len(blocks)):
            parts.append(f"H{x(blocks[index]):.1f}V{y(values[index]):.1f}")
        return " ".join(parts)

    elements = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="supply-chart" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" '
        f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" aria-label="{escape(labels["chart_title"])}">',
        f'<rect x="0" y="0" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" fill="#ffffff"/>',
    ]
    for step in range(6):
        grams = step_grams * step
        elements.append(
            f'<line x1="{_MARGIN_LEFT}" x2="{CHART_WIDTH - _MARGIN_RIGHT}" y1="{y(grams):.1f}" y2="{y(grams):.1f}" '
            'stroke="#e5e5e5"/>'
            f'<text x="{_MARGIN_LEFT - 8}" y="{y(grams) + 4:.1f}" text-anchor="end">{grams:,.6g}</text>'
        )
    for block in _block_ticks(first, last):
        elements.append(
            f'<text x="{x(block):.1f}" y="{CHART_HEIGHT - _MARGIN_BOTTOM + 18}" text-anchor="middle">{block:,.0f}</text>'
        )
    elements.append(
        f'<text x="{_MARGIN_LEFT + plot_width / 2:.0f}" y="{CHART_HEIGHT - 8}" text-anchor="middle">'
        f"{escape(labels['axis_block'])}</text>"
        f'<text x="16" y="{_MARGIN_TOP + plot_height / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {_MARGIN_TOP + plot_height / 2:.0f})">{escape(labels["axis_grams"])}</text>'
    )
    elements.append(
        f'<path d="{step_path(reserve)}" fill="none" stroke="{RESERVE_COLOUR}" stroke-width="2.5" '
        'stroke-dasharray="7 4" class="reserve-line"/>'
        f'<path d="{step_path(supply)}" fill="none" stroke="{SUPPLY_COLOUR}" stroke-width="2.5" class="supply-line"/>'
    )
    for block, grams_supply, grams_reserve in zip(blocks, supply, reserve, strict=True):
        tooltip = f"{labels['block']} {block}: {labels['supply']} {grams_supply:,.6g}, {labels['reserve']} {grams_reserve:,.6g}"
        elements.append(
            f'<circle cx="{x(block):.1f}" cy="{y(grams_supply):.1f}" r="3" fill="{SUPPLY_COLOUR}">'
            f"<title>{escape(tooltip)}</title></circle>"
        )
    by_block = dict(zip(blocks, supply, strict=True))
    for finding in findings:
        block = int(finding["block"])
        level = max((grams for b, grams in by_block.items() if b <= block), default=0.0)
        elements.append(
            f'<circle cx="{x(block):.1f}" cy="{y(level):.1f}" r="7" fill="none" stroke="{FINDING_COLOUR}" '
            f'stroke-width="2" class="finding-mark"><title>{escape(finding["rule"])}</title></circle>'
        )
    # The legend sits in the top margin, above the plot, so no line runs through it.
    legend_x, legend_y = _MARGIN_LEFT, 18
    elements.append(
        f'<line x1="{legend_x}" x2="{legend_x + 24}" y1="{legend_y}" y2="{legend_y}" '
        f'stroke="{SUPPLY_COLOUR}" stroke-width="2.5"/>'
        f'<text x="{legend_x + 30}" y="{legend_y + 4}">{escape(labels["chart_supply"])}</text>'
        f'<line x1="{legend_x + 220}" x2="{legend_x + 244}" y1="{legend_y}" y2="{legend_y}" '
        f'stroke="{RESERVE_COLOUR}" stroke-width="2.5" stroke-dasharray="7 4"/>'
        f'<text x="{legend_x + 250}" y="{legend_y + 4}">{escape(labels["chart_reserve"])}</text>'
    )
    elements.append("</svg>")
    return "".join(elements)


def render_html(report: Mapping[str, Any], labels: Labels, *, language: str) -> str:
    """Render the whole report page in ``language`` (an HTML ``lang`` value such as ``en`` or ``ja``)."""
    summary = report["summary"]
    chain = report["chain"]
    span = report["range"]
    sections = [
        f"<h1>{escape(labels['title'])}</h1>",
        _table(
            [labels["item"], labels["value"]],
            [
                [_td(escape(labels["chain_id"])), _td(str(chain["chain_id"]))],
                [_td(escape(labels["genesis_hash"])), _td(_code(chain["genesis_hash"]))],
                [_td(escape(labels["head"])), _td(f"{chain['head']['number']} {_code(chain['head']['hash'])}")],
                [_td(escape(labels["state_root"])), _td(_code(chain["head"]["state_root"]))],
                [
                    _td(escape(labels["range"])),
                    _td(
                        escape(
                            labels["range_value"].format(
                                first=span["first"],
                                last=span["last"],
                                start=_time(span["first_timestamp"]),
                                end=_time(span["last_timestamp"]),
                            )
                        )
                    ),
                ],
                [
                    _td(escape(labels["replay"])),
                    _td(escape(labels["replay_value"].format(**report["replay"]))),
                ],
            ],
        ),
        f"<h2>{escape(labels['section_summary'])}</h2>",
        _table(
            [labels["item"], labels["value"]],
            [
                [_td(escape(labels["supply_start"])), _td(escape(summary["supply_start_grams"]), number=True)],
                [_td(escape(labels["supply_end"])), _td(escape(summary["supply_end_grams"]), number=True)],
                [_td(escape(labels["reserve_start"])), _td(escape(summary["reserve_start_grams"]), number=True)],
                [_td(escape(labels["reserve_end"])), _td(escape(summary["reserve_end_grams"]), number=True)],
                [_td(escape(labels["coverage_end"])), _td(_coverage(summary["coverage_end"], labels), number=True)],
                [_td(escape(labels["minted"])), _td(escape(summary["minted_grams"]), number=True)],
                [_td(escape(labels["burned"])), _td(escape(summary["burned_grams"]), number=True)],
                [_td(escape(labels["holders"])), _td(str(summary["holders"]), number=True)],
                [_td(escape(labels["frozen_count"])), _td(str(summary["frozen_accounts"]), number=True)],
                [_td(escape(labels["findings_count"])), _td(str(summary["findings"]), number=True)],
            ],
        ),
        f"<h2>{escape(labels['chart_title'])}</h2>",
        render_chart_svg(report["supply"], report["findings"], labels),
        f"<h2>{escape(labels['section_findings'])}</h2>",
        _findings(report["findings"], labels),
        f"<h2>{escape(labels['section_mints'])}</h2>",
        _mints(report["mints"], labels),
        f"<h2>{escape(labels['section_burns'])}</h2>",
        _table(
            [
                labels["block"],
                labels["time"],
                labels["tx"],
                labels["account"],
                labels["amount"],
                labels["burner"],
                labels["burner_role"],
            ],
            [
                [
                    _td(str(b["block"]), number=True),
                    _td(_time(b["timestamp"])),
                    _td(_code(b["tx"])),
                    _td(_code(b["account"])),
                    _td(escape(b["amount_grams"]), number=True),
                    _td(_code(b["burner"]) or _text(None, labels)),
                    _td(_text(b["burner_has_role"], labels)),
                ]
                for b in report["burns"]
            ],
        ),
        f"<h2>{escape(labels['section_attestations'])}</h2>",
        _table(
            [
                labels["block"],
                labels["time"],
                labels["index"],
                labels["reserve"],
                labels["supply"],
                labels["coverage"],
                labels["attestor"],
                labels["report_hash"],
            ],
            [
                [
                    _td(str(a["block"]), number=True),
                    _td(_time(a["timestamp"])),
                    _td(str(a["index"]), number=True),
                    _td(escape(a["reserve_grams"]), number=True),
                    _td(escape(a["supply_grams"]), number=True),
                    _td(_coverage(a["coverage"], labels), number=True),
                    _td(_code(a["attestor"])),
                    _td(_code(a["report_hash"])),
                ]
                for a in report["attestations"]
            ],
        ),
        f"<h2>{escape(labels['section_freezes'])}</h2>",
        _table(
            [labels["block"], labels["time"], labels["account"], labels["action"], labels["by"]],
            [
                [
                    _td(str(f["block"]), number=True),
                    _td(_time(f["timestamp"])),
                    _td(_code(f["account"])),
                    _td(escape(labels["frozen"] if f["frozen"] else labels["unfrozen"])),
                    _td(_code(f["by"])),
                ]
                for f in report["freezes"]
            ],
        ),
        f"<h3>{escape(labels['section_frozen'])}</h3>",
        "<ul>" + "".join(f"<li>{_code(a)}</li>" for a in report["frozen_accounts"]) + "</ul>"
        if report["frozen_accounts"]
        else f"<p>{escape(labels['none'])}</p>",
        f"<h2>{escape(labels['section_holders'])}</h2>",
        f"<p>{escape(labels['holder_count'].format(count=report['holders']['count']))}</p>",
        _table(
            [labels["address"], labels["balance"], labels["share"]],
            [
                [
                    _td(_code(h["address"])),
                    _td(escape(h["balance_grams"]), number=True),
                    _td(_coverage(h["share"], labels), number=True),
                ]
                for h in report["holders"]["largest"]
            ],
        ),
        f"<p>{escape(labels['footer'])}</p>",
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(labels['title'])}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def _findings(findings: Sequence[Mapping[str, Any]], labels: Labels) -> str:
    if not findings:
        return f'<p class="ok">{escape(labels["no_findings"])}</p>'
    return _table(
        [labels["rule"], labels["block"], labels["tx"], labels["got"], labels["expected"], labels["detail"]],
        [
            [
                _td(escape(labels.get("rule:" + f["rule"], f["rule"]))),
                _td(str(f["block"]), number=True),
                _td(_code(f["tx"]) or _text(None, labels)),
                _td(escape(f["got"])),
                _td(escape(f["expected"])),
                _td(escape(f["detail"])),
            ]
            for f in findings
        ],
        css_class="findings",
    )


def _mints(mints: Sequence[Mapping[str, Any]], labels: Labels) -> str:
    rows = []
    for m in mints:
        approvers = "<br>".join(
            f"{_code(a['authority'])} ({escape(labels['approval:' + a['kind']])})" for a in m["approvers"]
        )
        proposer = _code(m["proposer"]) if m["proposer"] else escape(labels["not_published"])
        rows.append(
            [
                _td(str(m["block"]), number=True),
                _td(_time(m["timestamp"])),
                _td(_code(m["tx"])),
                _td(_code(m["recipient"])),
                _td(escape(m["amount_grams"]), number=True),
                _td(f"{_code(m['proposal_hash'])}<br>{escape(labels['proposer'])}: {proposer}"),
                _td(approvers),
                _td(f"{len(m['approvers'])} / {m['threshold']}", number=True),
            ]
        )
    return _table(
        [
            labels["block"],
            labels["time"],
            labels["tx"],
            labels["recipient"],
            labels["amount"],
            labels["proposal"],
            labels["approvers"],
            labels["threshold"],
        ],
        rows,
    )
