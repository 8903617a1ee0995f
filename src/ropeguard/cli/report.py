"""`ropeguard report RUN_DIR`: one self-contained HTML report and a PNG heatmap."""

from __future__ import annotations

from pathlib import Path

import typer

from ropeguard.cli import print_warning
from ropeguard.cli.app import app
from ropeguard.lengths import parse_token_count


@app.command("report")
def report_command(
    run_dir: Path = typer.Argument(..., help="Run directory of `eval`, `probe` or `certify`."),
    html: Path | None = typer.Option(
        None, "--html", help="HTML file to write (default RUN_DIR/report.html)."
    ),
    png: Path | None = typer.Option(
        None, "--png", help="PNG heatmap to write (default RUN_DIR/heatmap.png)."
    ),
    baseline: Path | None = typer.Option(
        None, "--baseline", help="Run directory of the unscaled server: paired comparison, short-input cost."
    ),
    within: str | None = typer.Option(
        None, "--within", help="Native window for the short-input cost (default: the baseline's max length)."
    ),
) -> None:
    """Write the HTML report (heatmap, accuracy per length, perplexity curve, settings, versions)."""
    # Lazy: the CLI imports every command module at start; this command's library loads when it runs.
    from ropeguard.reports.html import write_report

    window = parse_token_count(within, what="--within") if within is not None else None
    files = write_report(run_dir, html=html, png=png, baseline=baseline, within=window)
    for warning in files.warnings:
        print_warning(warning)
    typer.echo(f"wrote {files.html}")
    if files.png is not None:
        typer.echo(f"wrote {files.png}")
