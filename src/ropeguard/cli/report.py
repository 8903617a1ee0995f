"""`ropeguard report RUN_DIR`: one self-contained HTML report and a PNG heatmap."""

from __future__ import annotations

from pathlib import Path

import typer

from ropeguard.cli.app import app


@app.command("report")
def report_command(
    run_dir: Path = typer.Argument(..., help="Run directory of `eval`, `probe` or `certify`."),
    html: Path | None = typer.Option(
        None, "--html", help="HTML file to write (default RUN_DIR/report.html)."
    ),
    png: Path | None = typer.Option(
        None, "--png", help="PNG heatmap to write (default RUN_DIR/heatmap.png)."
    ),
) -> None:
    """Write the HTML report (heatmap, accuracy per length, perplexity curve, settings, versions)."""
    from ropeguard.reports.html import write_report

    files = write_report(run_dir, html=html, png=png)
    typer.echo(f"wrote {files.html}")
    if files.png is not None:
        typer.echo(f"wrote {files.png}")
