"""Terminal rendering of an eval summary: the length x depth grid in colour, with labelled axes.

Laid out by hand (fixed-width columns, rich styles for colour) rather than as a rich Table: a Table
squeezed into 80 columns wraps its cells ("1.00 [0.72," over "1.00]"), and it cannot put one label
over several columns. Here every row is one line; when the grid and the per-length columns do not
fit side by side in `width`, the per-length columns go below the grid in a block of their own.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.text import Text

from ropeguard.evals.results import Summary
from ropeguard.lengths import format_token_count
from ropeguard.reports.narrative import effective_context_lines, task_words

WIDTH = 80  # what a terminal of unknown width gets; a newcomer's terminal is often no wider
DEPTH_LABEL = "needle depth (% into the prompt)"
LENGTH_HEADER = ("prompt length", "(tokens)")
GAP = 2


def _style(accuracy: float | None) -> str:
    if accuracy is None:
        return "dim"
    if accuracy >= 0.9:
        return "bold green"
    if accuracy >= 0.5:
        return "yellow"
    return "bold red"


def _cell(accuracy: float | None) -> str:
    return "-" if accuracy is None else f"{accuracy:.2f}"


@dataclass
class _Column:
    header: tuple[str, str]  # two header lines (the first may be blank under a spanning label)
    cells: list[tuple[str, str]] = field(default_factory=list)  # (text, style) per row
    width: int = 0

    def fit(self) -> None:
        self.width = max([len(h) for h in self.header] + [len(text) for text, _ in self.cells] + [1])


def _depth_text(depth: float) -> str:
    return f"{depth * 100:g}%"


def _lines(columns: Sequence[_Column], span: tuple[int, int] | None = None, label: str = "") -> list[Text]:
    """Header lines and one line per row; `label` is centred over columns[span[0]:span[1]]."""
    for column in columns:
        column.fit()
    if span is not None:
        inner = columns[span[0] : span[1]]
        natural = sum(c.width for c in inner) + GAP * (len(inner) - 1)
        for k in range(max(0, len(label) - natural)):  # widen the spanned columns to hold the label
            inner[k % len(inner)].width += 1
    lines: list[Text] = []
    for row in range(2):
        line = Text()
        k = 0
        while k < len(columns):
            if line.plain:
                line.append(" " * GAP)
            if span is not None and row == 0 and k == span[0]:
                inner = columns[span[0] : span[1]]
                total = sum(c.width for c in inner) + GAP * (len(inner) - 1)
                line.append(label.center(total), style="bold")
                k = span[1]
                continue
            column = columns[k]
            text = column.header[row]
            line.append(text.rjust(column.width), "bold")
            k += 1
        lines.append(line)
    rows = len(columns[0].cells)
    for row in range(rows):
        line = Text()
        for k, column in enumerate(columns):
            if k:
                line.append(" " * GAP)
            text, style = column.cells[row]
            line.append(text.rjust(column.width), style=style or None)
        lines.append(line)
    return [line for line in lines if line.plain.strip()]


def render_grid(
    summary: Summary, *, title: str | None = None, width: int = WIDTH, explain: bool = True
) -> Text:
    """Rows: prompt lengths; columns: needle depths, then recall over all depths with its Wilson 95%
    interval and the number of scored prompts. Invalid and error trials (never counted as failures)
    and degenerate answers get columns only when there are some. `explain`: a line saying what is
    recalled (the demo says it once above both tables). The lines under the table are wrapped to
    `width` with a hanging indent.
    """
    depths = sorted({cell.depth for cell in summary.cells})
    by_cell = {(cell.length, cell.depth): cell for cell in summary.cells}
    lengths = sorted(summary.lengths)
    length_column = _Column(LENGTH_HEADER, [(format_token_count(n), "bold") for n in lengths])
    depth_columns = []
    for depth in depths:
        column = _Column(("", _depth_text(depth)))
        for length in lengths:
            cell = by_cell.get((length, depth))
            accuracy = cell.accuracy if cell else None
            column.cells.append((_cell(accuracy), _style(accuracy)))
        depth_columns.append(column)
    stats_columns = [_Column(("recall, all depths", "[95% interval]")), _Column(("", "n"))]
    show_degenerate = any(s.degenerate for s in summary.lengths.values())
    show_unscored = any(s.invalid or s.errors for s in summary.lengths.values())
    if show_degenerate:
        stats_columns.append(_Column(("", "degenerate")))
    if show_unscored:
        stats_columns.append(_Column(("unscored", "invalid/err")))
    for length in lengths:
        stats = summary.lengths[length]
        stats_columns[0].cells.append(
            (f"{_cell(stats.accuracy)} [{stats.ci_low:.2f}, {stats.ci_high:.2f}]", _style(stats.accuracy))
        )
        stats_columns[1].cells.append((str(stats.n), ""))
        extra = 2
        if show_degenerate:
            rate = "-" if stats.degenerate_rate is None else f"{stats.degenerate_rate:.2f}"
            stats_columns[extra].cells.append((rate, ""))
            extra += 1
        if show_unscored:
            stats_columns[extra].cells.append((f"{stats.invalid}/{stats.errors}", ""))

    text = Text()
    heading = title or (f"recall: {summary.task}" if summary.task else "recall")
    text.append(heading + "\n", style="bold")
    if explain:
        text.append(_fill(f"recalled: {task_words(summary.task)}", width) + "\n")
    side_by_side = _lines(
        [length_column, *depth_columns, *stats_columns], (1, 1 + len(depth_columns)), DEPTH_LABEL
    )
    if depth_columns and max(len(line.plain) for line in side_by_side) <= width:
        blocks = [side_by_side]
    else:
        grid = [length_column, *depth_columns]
        blocks = [
            _lines(grid, (1, len(grid)), DEPTH_LABEL) if depth_columns else [],
            _lines([_Column(LENGTH_HEADER, list(length_column.cells)), *stats_columns]),
        ]
    for index, block in enumerate(blocks):
        if index and blocks[0]:
            text.append("\n")
        for line in block:
            line.rstrip()
            text.append_text(line)
            text.append("\n")
    for caption in caption_lines(summary):
        text.append(_fill(caption, width) + "\n")
    text.rstrip()
    return text


def _fill(line: str, width: int) -> str:
    return textwrap.fill(line, width=width, subsequent_indent="  ", break_on_hyphens=False)


def caption_lines(summary: Summary) -> list[str]:
    """What the table means, under it: the effective context in words, the gates, the verdict."""
    lines = effective_context_lines(summary)
    if summary.gates:
        verdicts = ", ".join(
            f"{format_token_count(v.length)} {v.verdict} (>= {v.gate:g}: {v.correct}/{v.n})"
            for v in summary.gates
        )
        lines.append(f"gates: {verdicts}")
    if summary.verdict:
        lines.append(summary.verdict)
    return lines
