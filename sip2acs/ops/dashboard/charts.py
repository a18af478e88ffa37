# -*- test-case-name: tests.test_dashboard -*-
"""
Small line charts drawn server-side as inline SVG: no script, no external
file.
"""

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

__all__ = ["lineChart"]

WIDTH = 360
HEIGHT = 64
_PAD = 2


def _path(values: Sequence[float | None], slots: int, top: float) -> str:
    """
    An SVG path through C{values}, right-aligned in C{slots} places, broken
    where a value is missing.
    """
    parts = []
    pen = "M"
    offset = slots - len(values)
    step = (WIDTH - 2 * _PAD) / max(1, slots - 1)
    for index, value in enumerate(values):
        if value is None:
            pen = "M"
            continue
        x = _PAD + (offset + index) * step
        y = HEIGHT - _PAD - (HEIGHT - 2 * _PAD) * (value / top if top else 0.0)
        parts.append("%s%.1f %.1f" % (pen, x, y))
        pen = "L"
    return " ".join(parts)


def lineChart(
    title: str,
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    slots: int,
    fmt: Callable[[float], str],
) -> Markup:
    """
    Draw one chart.

    @param title: What it shows, e.g. C{"Requests/s"}.
    @param series: C{(name, CSS colour, values)} for each line, values
        oldest first (L{None} for a gap).
    @param slots: How many values the full width holds (the last hour's).
    @param fmt: Formats a value for the legend.
    @return: An C{<svg>} element with a C{<title>}, each line a C{<path>}
        with its C{data-series} name and a legend of the latest and
        highest value of each.
    """
    present = [v for _, _, values in series for v in values if v is not None]
    top = max(present, default=0.0)
    lines = []
    legend = []
    for name, colour, values in series:
        known = [v for v in values if v is not None]
        latest = fmt(known[-1]) if known else "-"
        highest = fmt(max(known)) if known else "-"
        lines.append(
            '<path data-series="%s" d="%s" fill="none" stroke="%s" stroke-width="1.5"/>'
            % (escape(name), _path(values, slots, top), escape(colour))
        )
        legend.append(
            '<span class="series" style="color:%s">%s</span> now <b>%s</b>, max %s'
            % (escape(colour), escape(name), escape(latest), escape(highest))
        )
    svg = (
        '<svg class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d"'
        ' xmlns="http://www.w3.org/2000/svg"><title>%s</title>'
        '<rect x="0" y="0" width="%d" height="%d" fill="#fafafa" stroke="#ddd"/>%s</svg>'
        % (WIDTH, HEIGHT, WIDTH, HEIGHT, escape(title), WIDTH, HEIGHT, "".join(lines))
    )
    return Markup(
        '<figure><figcaption>%s <small>(max %s)</small></figcaption>%s'
        '<div class="legend">%s</div></figure>'
        % (escape(title), escape(fmt(top)), svg, "; ".join(legend))
    )
