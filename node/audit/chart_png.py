"""The supply-versus-reserve chart as a PNG file, drawn with matplotlib's Agg backend (no display)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from node.audit.html import FINDING_COLOUR, RESERVE_COLOUR, SUPPLY_COLOUR, Labels

logger = logging.getLogger(__name__)

#: Fonts with Japanese glyphs, tried in this order when the labels are not plain ASCII.
CJK_FONTS = ("Noto Sans CJK JP", "IPAexGothic", "IPAGothic", "TakaoGothic", "VL Gothic", "Droid Sans Fallback")


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    available = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in available), None)


def render_chart_png(
    points: Sequence[Mapping[str, Any]],
    findings: Sequence[Mapping[str, Any]],
    labels: Labels,
    fallback_labels: Labels,
    path: Path,
) -> None:
    """Write the chart to ``path``.

    When ``labels`` need glyphs that no installed font has (Japanese without a CJK font),
    the chart is labelled with ``fallback_labels`` (English) instead of drawing empty boxes.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    chosen = labels
    font = None
    if not all(text.isascii() for text in (labels["chart_title"], labels["axis_grams"])):
        font = _cjk_font()
        if font is None:
            logger.warning("no font with Japanese glyphs found; the PNG chart is labelled in English")
            chosen = fallback_labels

    blocks = [int(p["block"]) for p in points]
    supply = [float(p["supply_grams"]) for p in points]
    reserve = [float(p["reserve_grams"]) for p in points]
    with matplotlib.rc_context({"font.family": [font, "sans-serif"] if font else ["sans-serif"]}):
        figure, axes = pyplot.subplots(figsize=(9, 3.6), dpi=100)
        try:
            axes.step(blocks, supply, where="post", color=SUPPLY_COLOUR, linewidth=2.2, label=chosen["chart_supply"])
            axes.step(
                blocks,
                reserve,
                where="post",
                color=RESERVE_COLOUR,
                linewidth=2.2,
                linestyle="--",
                label=chosen["chart_reserve"],
            )
            for finding in findings:
                axes.axvline(int(finding["block"]), color=FINDING_COLOUR, linewidth=1, alpha=0.7)
            axes.set_title(chosen["chart_title"])
            axes.set_xlabel(chosen["axis_block"])
            axes.set_ylabel(chosen["axis_grams"])
            axes.set_ylim(bottom=0)
            axes.grid(True, color="#e5e5e5")
            axes.legend(loc="upper left")
            figure.tight_layout()
            temporary = path.with_name(path.name + ".tmp")
            figure.savefig(temporary, format="png")
            temporary.replace(path)
        finally:
            pyplot.close(figure)
