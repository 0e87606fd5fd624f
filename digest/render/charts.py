"""Charts drawn at build time as inline SVG: no JavaScript, no images to fetch.

Owns: `bar_chart`, one series of counts as bars (the archive's trends page:
a country's stories per issue), with its accessible name and description
(`<title>`, `<desc>`, `role="img"`), one `<title>` per bar (the browser shows it
as a tooltip, screen readers read it), and the classes the page's stylesheet
colours (`chart-bar`, `chart-grid`), so that dark mode recolours it. Pure: text
in, markup out.

Doesn't own: the page around the chart or the labels' wording (the caller
passes localised text), nor its colours (`templates/archive.css`).

Why by hand: the chart is a row of rectangles and two lines. Charting libraries
that write SVG (pygal, matplotlib) either embed JavaScript and their own CSS or
weigh tens of megabytes; this is 60 lines and its output is ours to check.
The text around a chart (its name, the first and last week, the largest
count) is HTML next to the SVG, not SVG text: the SVG scales with the page
(a 600-unit-wide drawing is 343 px wide on a phone) and text inside it would
shrink to an unreadable size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Bar", "bar_chart"]

WIDTH = 600  # viewBox units; the SVG is drawn 100% wide, at most this many px
HEIGHT = 120
TOP = 6  # room above the tallest bar, so the top gridline is not cut
MAX_BAR = 40  # a chart of three issues draws three bars, not three slabs
GAP = 0.2  # of each bar's slot, left empty between bars


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # the bar's tooltip and spoken text, e.g. "Issue #12 (Mar 16 – 22): 8"
    value: int


def _n(x: float) -> str:
    # Short, stable numbers: the page is compared byte for byte between builds.
    return f"{x:.2f}".rstrip("0").rstrip(".")


def bar_chart(bars: Sequence[Bar], *, chart_id: str, title: str, description: str) -> Markup:
    """An SVG bar chart of `bars`, left to right, scaled to the largest value.

    `chart_id` must be unique in the page (it names the title and description
    elements); `title` is the chart's accessible name, `description` says what
    it shows in words (first and last value, largest)."""
    largest = max((b.value for b in bars), default=0)
    # The bars spread over the whole width (the labels under its ends name the
    # first and last issue), at most MAX_BAR wide each.
    slot = WIDTH / max(1, len(bars))
    width = min(slot * (1 - GAP), MAX_BAR)
    usable = HEIGHT - TOP
    cid = escape(chart_id)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" role="img"'
        f' aria-labelledby="{cid}-title {cid}-desc">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
        # The largest count's level and the baseline; the bars stand between them.
        f'<line class="chart-grid" x1="0" y1="{TOP}" x2="{WIDTH}" y2="{TOP}"'
        ' stroke="#9aa0a6" stroke-width="1" stroke-dasharray="4 4"/>',
        f'<line class="chart-grid" x1="0" y1="{HEIGHT - 0.5}" x2="{WIDTH}" y2="{HEIGHT - 0.5}"'
        ' stroke="#9aa0a6" stroke-width="1"/>',
    ]
    for i, bar in enumerate(bars):
        height = usable * bar.value / largest if largest else 0
        # A zero is a visible stub, so that a missing week reads as "none", not as a gap.
        height = max(height, 1.5)
        x = i * slot + (slot - width) / 2
        parts.append(
            f'<rect class="chart-bar" x="{_n(x)}" y="{_n(HEIGHT - height)}" width="{_n(width)}"'
            f' height="{_n(height)}" fill="#0b57d0"><title>{escape(bar.label)}</title></rect>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
