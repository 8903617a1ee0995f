"""Inline SVG charts for the HTML report: no scripts, no external requests, every label escaped.

Each function returns one `<svg>` element as a string. Text passes through `escape` because lengths
and depths are numbers but model names, task names and config values are not ours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Accuracy colour scale: red (0) -> yellow (0.5) -> green (1), the colours the Chromium test looks for.
RED = (215, 48, 39)
YELLOW = (254, 224, 139)
GREEN = (26, 152, 80)
EMPTY = (220, 220, 220)
CURVE_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#9d755d", "#bab0ac")


def accuracy_rgb(value: float | None) -> tuple[int, int, int]:
    if value is None:
        return EMPTY
    v = min(1.0, max(0.0, value))
    low, high, t = (RED, YELLOW, v / 0.5) if v <= 0.5 else (YELLOW, GREEN, (v - 0.5) / 0.5)
    return tuple(round(a + (b - a) * t) for a, b in zip(low, high, strict=True))  # type: ignore[return-value]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _text_colour(rgb: tuple[int, int, int]) -> str:
    luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return "#000" if luminance > 140 else "#fff"


def heatmap_svg(
    lengths: Sequence[int],
    depths: Sequence[float],
    cells: dict[tuple[int, float], tuple[float | None, int]],
) -> str:
    """Rows = lengths, columns = depths; each cell coloured by accuracy and labelled `acc (n)`."""
    cell_w, cell_h, left, top = 64, 30, 80, 34
    # At least as wide as the depth axis label, however few the depths.
    width = max(left + cell_w * len(depths) + 10, left + 250)
    height = top + cell_h * len(lengths) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        'aria-label="recall heatmap, prompt length (rows) by needle depth (columns)">',
        f'<text x="{left + max(cell_w * len(depths), 250) / 2}" y="14" text-anchor="middle" class="axis">'
        "needle depth (% into the prompt)</text>",
        '<text x="4" y="14" class="axis">prompt length</text>',
        f'<text x="4" y="{top - 8}" class="axis">(tokens)</text>',
    ]
    for j, depth in enumerate(depths):
        x = left + j * cell_w + cell_w / 2
        label = escape(f"{depth * 100:g}%")
        parts.append(f'<text x="{x}" y="{top - 6}" text-anchor="middle" class="tick">{label}</text>')
    for i, length in enumerate(lengths):
        y = top + i * cell_h
        parts.append(
            f'<text x="{left - 6}" y="{y + cell_h / 2 + 4}" text-anchor="end" class="tick">'
            f"{escape(str(length))}</text>"
        )
        for j, depth in enumerate(depths):
            accuracy, n = cells.get((length, depth), (None, 0))
            rgb = accuracy_rgb(accuracy)
            label = "-" if accuracy is None else f"{accuracy:.2f}"
            x = left + j * cell_w
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{_hex(rgb)}">'
                f"<title>length {length}, depth {depth:g}: {escape(label)} over {n} trials</title></rect>"
            )
            parts.append(
                f'<text x="{x + (cell_w - 2) / 2}" y="{y + cell_h / 2 + 3}" text-anchor="middle" '
                f'class="cell" fill="{_text_colour(rgb)}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class IntervalPoint:
    label: str
    value: float | None
    low: float
    high: float


def interval_chart_svg(points: Sequence[IntervalPoint], threshold: float | None = None) -> str:
    """Accuracy per length: a dot at the accuracy and a bar over its 95% interval; y from 0 to 1."""
    left, right, top, bottom, plot_h = 48, 16, 14, 40, 200
    step = 72
    width = left + right + step * max(1, len(points))
    height = top + plot_h + bottom

    def y_of(v: float) -> float:
        return top + (1.0 - v) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="intervals" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="accuracy per length with 95% intervals">',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_of(tick)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" class="tick">{tick:.2f}</text>')
    if threshold is not None:
        y = y_of(threshold)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" class="threshold"/>')
    for k, point in enumerate(points):
        x = left + step * k + step / 2
        parts.append(
            f'<text x="{x}" y="{top + plot_h + 18}" text-anchor="middle" class="tick">'
            f"{escape(point.label)}</text>"
        )
        if point.value is None:
            continue
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{y_of(point.high)}" y2="{y_of(point.low)}" class="interval"/>'
            f'<line x1="{x - 6}" x2="{x + 6}" y1="{y_of(point.high)}" y2="{y_of(point.high)}" '
            'class="interval"/>'
            f'<line x1="{x - 6}" x2="{x + 6}" y1="{y_of(point.low)}" y2="{y_of(point.low)}" '
            'class="interval"/>'
            f'<circle cx="{x}" cy="{y_of(point.value)}" r="5" fill="{_hex(accuracy_rgb(point.value))}" '
            f'stroke="#333"><title>{escape(point.label)}: {point.value:.2f} '
            f"[{point.low:.2f}, {point.high:.2f}]</title></circle>"
        )
    parts.append(
        f'<text x="{left + (width - left - right) / 2}" y="{height - 4}" text-anchor="middle" class="axis">'
        "prompt length (tokens)</text></svg>"
    )
    return "".join(parts)


@dataclass(frozen=True)
class Curve:
    label: str
    points: Sequence[tuple[float, float]]  # (position, mean NLL)
    marker: int | None = None  # degradation start


def nll_chart_svg(curves: Sequence[Curve], baseline: float | None, threshold: float | None) -> str:
    """Mean NLL per position bucket, one line per curve, with the baseline and baseline + threshold."""
    left, right, top, bottom, plot_w, plot_h = 56, 170, 14, 40, 560, 220
    width, height = left + plot_w + right, top + plot_h + bottom
    xs = [x for c in curves for x, _ in c.points] or [0.0, 1.0]
    ys = [y for c in curves for _, y in c.points] or [0.0, 1.0]
    # Ticks at multiples of a power of two, the unit context lengths come in.
    x_step = 2 ** max(0, math.ceil(math.log2(max(max(xs), 1.0) / 4)))
    x_max = float(x_step * math.ceil(max(max(xs), 1.0) / x_step))
    y_max = max(max(ys), (baseline or 0.0) + (threshold or 0.0)) * 1.08 or 1.0

    def px(x: float) -> float:
        return left + x / x_max * plot_w

    def py(y: float) -> float:
        return top + (1.0 - y / y_max) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="nll" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="mean NLL by token position">',
    ]
    for k in range(5):
        value = y_max * k / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{py(value)}" y2="{py(value)}" class="grid"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{py(value) + 4}" text-anchor="end" class="tick">{value:.2f}</text>'
        )
    for k in range(round(x_max / x_step) + 1):
        value = float(k * x_step)
        parts.append(
            f'<text x="{px(value)}" y="{top + plot_h + 16}" text-anchor="middle" class="tick">'
            f"{value:.0f}</text>"
        )
    if baseline is not None:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{py(baseline)}" y2="{py(baseline)}" '
            'class="baseline"/>'
        )
        if threshold is not None:
            y = py(baseline + threshold)
            parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y}" y2="{y}" class="threshold"/>')
    for index, curve in enumerate(curves):
        colour = CURVE_COLOURS[index % len(CURVE_COLOURS)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in curve.points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if curve.marker is not None:
            x = px(curve.marker)
            parts.append(
                f'<line x1="{x}" x2="{x}" y1="{top}" y2="{top + plot_h}" stroke="{colour}" class="marker"/>'
            )
        legend_y = top + 14 + 18 * index
        parts.append(
            f'<line x1="{left + plot_w + 12}" x2="{left + plot_w + 30}" '
            f'y1="{legend_y - 4}" y2="{legend_y - 4}" '
            f'stroke="{colour}" stroke-width="3"/><text x="{left + plot_w + 34}" y="{legend_y}" class="tick">'
            f"{escape(curve.label)}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle" class="axis">'
        "token position</text>"
        f'<text x="12" y="{top + plot_h / 2}" class="axis" transform="rotate(-90 12 {top + plot_h / 2})" '
        'text-anchor="middle">mean NLL (nats)</text></svg>'
    )
    return "".join(parts)
