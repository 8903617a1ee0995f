"""Terminal rendering of an eval summary: the length x depth grid in colour."""

from __future__ import annotations

from rich.table import Table

from ropeguard.evals.results import Summary
from ropeguard.lengths import format_token_count


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


def render_grid_table(summary: Summary) -> Table:
    """Rows: lengths; columns: depths, then the length's accuracy with its Wilson 95% interval.

    A cell shows accuracy over scored trials; invalid and error trials are counted in the last
    column, never as failures.
    """
    depths = sorted({cell.depth for cell in summary.cells})
    by_cell = {(cell.length, cell.depth): cell for cell in summary.cells}
    title = f"recall: {summary.task}" if summary.task else "recall"
    table = Table(title=title, show_lines=False)
    table.add_column("length", justify="right", style="bold")
    for depth in depths:
        table.add_column(f"{depth:g}", justify="center")
    table.add_column("accuracy [95% CI]", justify="right")
    table.add_column("n", justify="right")
    table.add_column("degenerate", justify="right")
    table.add_column("invalid/err", justify="right")
    for length in sorted(summary.lengths):
        stats = summary.lengths[length]
        row = [format_token_count(length)]
        for depth in depths:
            cell = by_cell.get((length, depth))
            accuracy = cell.accuracy if cell else None
            row.append(f"[{_style(accuracy)}]{_cell(accuracy)}[/]")
        overall = (
            f"[{_style(stats.accuracy)}]{_cell(stats.accuracy)}[/] [{stats.ci_low:.2f}, {stats.ci_high:.2f}]"
        )
        degenerate = "-" if stats.degenerate_rate is None else f"{stats.degenerate_rate:.2f}"
        row.extend([overall, str(stats.n), degenerate, f"{stats.invalid}/{stats.errors}"])
        table.add_row(*row)
    effective = summary.effective_context
    caption = (
        f"effective context (accuracy >= {summary.effective_context_threshold:g} at it and every shorter "
        f"length): {format_token_count(effective) if effective else 'none'}"
    )
    if summary.effective_context_low is not None or summary.effective_context_high is not None:
        low = format_token_count(summary.effective_context_low) if summary.effective_context_low else "none"
        high = (
            format_token_count(summary.effective_context_high) if summary.effective_context_high else "none"
        )
        caption += f" (95% range {low} .. {high})"
    if summary.gates:
        verdicts = ", ".join(
            f"{format_token_count(v.length)} {v.verdict} (>= {v.gate:g}: {v.correct}/{v.n})"
            for v in summary.gates
        )
        caption += f"\ngates: {verdicts}"
    if summary.verdict:
        caption += f"\n{summary.verdict}"
    table.caption = caption
    return table
