"""The page's charts, drawn on the server as inline SVG (no script, no library).

Each chart has a <title> for screen readers and every bar or point its own <title>, which
browsers also show as a tooltip. Sizes are in the viewBox: the SVG scales to its box.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bridge.report.figures import Week
from bridge.report.html.texts import percent

WIDTH, HEIGHT = 320, 160
_TOP, _BOTTOM, _LEFT = 18, 22, 8
# Scores 1-2 read as bad, 3 as so-so, 4-5 as good: the colours say so at a glance.
_SCORE_COLOURS = {1: "#c0392b", 2: "#e67e22", 3: "#f1c40f", 4: "#7fb800", 5: "#2e9e44"}


def _open(label: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
    )


def _text(x: float, y: float, value: str, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle"{extra}>{escape(value)}</text>'


def distribution(counts: dict[int, int], label: str, bar_title: str) -> str:
    """Bars of how many people gave each score 1-5; `bar_title` has {score} and {n}."""
    tallest = max(counts.values(), default=0) or 1
    plot = HEIGHT - _TOP - _BOTTOM
    step = (WIDTH - 2 * _LEFT) / 5
    parts = [_open(label)]
    for score in range(1, 6):
        n = counts.get(score, 0)
        height = plot * n / tallest
        x = _LEFT + step * (score - 1) + step * 0.15
        y = _TOP + plot - height
        title = escape(bar_title.format(score=score, n=n))
        parts.append(
            f'<g><title>{title}</title><rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
            f'height="{height:.1f}" fill="{_SCORE_COLOURS[score]}"/>'
            + _text(x + step * 0.35, y - 4, str(n), ' class="value"')
            + "</g>"
        )
        parts.append(_text(x + step * 0.35, HEIGHT - 6, str(score)))
    parts.append("</svg>")
    return "".join(parts)


def trend(weeks: Sequence[Week], label: str, point_title: str, language: str) -> str:
    """CSAT per ISO week as a line with a dot per week that has ratings (0-100%);
    `point_title` has {week}, {csat} and {n}."""
    plot = HEIGHT - _TOP - _BOTTOM
    step = (WIDTH - 2 * _LEFT) / max(len(weeks), 1)
    parts = [_open(label), _grid(plot)]
    points: list[str] = []
    for i, week in enumerate(weeks):
        x = _LEFT + step * (i + 0.5)
        if len(weeks) <= 12 or i % ((len(weeks) + 11) // 12) == 0:
            parts.append(_text(x, HEIGHT - 6, week.short(language), ' class="axis"'))
        if week.score.csat is None:
            continue
        y = _TOP + plot * (1 - week.score.csat)
        points.append(f"{x:.1f},{y:.1f}")
        title = point_title.format(
            week=week.label(language), csat=percent(week.score.csat), n=week.score.ratings
        )
        parts.append(
            f'<g><title>{escape(title)}</title><circle cx="{x:.1f}" cy="{y:.1f}" r="4"/></g>'
        )
    if len(points) > 1:
        parts.insert(2, f'<polyline points="{" ".join(points)}" fill="none"/>')
    parts.append("</svg>")
    return "".join(parts)


def _grid(plot: float) -> str:
    lines = []
    for share in (0.0, 0.5, 1.0):
        y = _TOP + plot * (1 - share)
        lines.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _LEFT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            + f'<text x="{WIDTH - _LEFT}" y="{y - 2:.1f}" text-anchor="end" class="axis">'
            + f"{round(share * 100)}%</text>"
        )
    return "".join(lines)
