"""`ropeguard report RUN_DIR`: one self-contained HTML report and a PNG heatmap."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ropeguard.cli import print_out, print_warning
from ropeguard.cli.app import app
from ropeguard.cli.options import JSON_OPTION
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
    title: str | None = typer.Option(
        None, "--title", help="The report's title: which configuration this run is (default: generic)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the HTML report (heatmap, accuracy per length, perplexity curve, settings, versions).

    Prints the report's headline (recall failing inside the length the server accepts) and the
    effective context, then the files written; with --json, all of it as one JSON document.
    """
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.reports.html import report_summary, write_report

    window = parse_token_count(within, what="--within") if within is not None else None
    files = write_report(run_dir, html=html, png=png, baseline=baseline, within=window, title=title)
    for warning in files.warnings:
        print_warning(warning)
    document = report_summary(files)
    if as_json:
        print_out(json.dumps(document, indent=2))
        return
    if files.headline:
        print_out(f"warning: {files.headline}")
    for line in document["effective_context_text"]:
        print_out(line)
    typer.echo(f"wrote {files.html}")
    if files.png is not None:
        typer.echo(f"wrote {files.png}")
