"""`ropeguard lint PATH...`: findings in deployment files (text, JSON or SARIF)."""

from __future__ import annotations

import json
import sys

import typer

from ropeguard.cli.app import app
from ropeguard.cli.options import OFFLINE_OPTION, offline_flag
from ropeguard.errors import UsageError
from ropeguard.version import __version__


@app.command("lint")
def lint_command(
    paths: list[str] = typer.Argument(..., metavar="PATH", help="Files or folders to lint."),
    engine_version: str | None = typer.Option(
        None,
        "--engine-version",
        metavar="V",
        help="vLLM version to judge against (default: pinned, installed, newest).",
    ),
    offline: bool = OFFLINE_OPTION,
    model_config: str | None = typer.Option(
        None, "--model-config", metavar="DIR", help="Model folder (config.json) to use for every launch."
    ),
    output: str = typer.Option("text", "--format", metavar="text|json|sarif", help="Output format."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the findings as one JSON document (the same as --format json)."
    ),
    fix: bool = typer.Option(False, "--fix", help="Print a unified diff of the corrected files."),
    write: bool = typer.Option(False, "--write", help="Write the corrected files."),
    markdown: bool = typer.Option(
        False, "--markdown", help="Also read shell commands in Markdown's fenced bash/sh/console blocks."
    ),
) -> int:
    """Find settings in deployment files that silently break long context."""
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.lint import lint_report

    if output not in ("text", "json", "sarif"):
        raise UsageError(f"--format {output!r} is not one of text, json, sarif")
    if as_json:
        # --json is every command's machine-readable flag; for lint it is --format json.
        if output not in ("text", "json"):
            raise UsageError(f"--json and --format {output} ask for two outputs", hint="give one of them")
        output = "json"
    report = lint_report(
        paths,
        engine_version=engine_version,
        offline=offline_flag(offline),
        model_config=model_config,
        markdown=markdown,
    )
    if fix or write:
        # Lazy: only --fix and --write need the diff and the atomic file writer.
        from ropeguard.lint.autofix import fixed_files, unified_diff, write_fixes

        changed = fixed_files(report.edits)
        if fix:
            sys.stdout.write(unified_diff(changed))
        if write:
            written = write_fixes(changed)
            typer.echo(f"fixed {len(written)} file(s)", err=True)
            report = lint_report(
                paths,
                engine_version=engine_version,
                offline=offline_flag(offline),
                model_config=model_config,
                markdown=markdown,
            )
        if fix:
            return 1 if report.failed else 0
    if output == "json":
        typer.echo(json.dumps([finding.model_dump() for finding in report.findings], indent=2))
    elif output == "sarif":
        # Lazy: `--help` imports every command module; this command's library loads only when it runs.
        from ropeguard.lint.sarif import to_sarif

        typer.echo(json.dumps(to_sarif(report.findings, version=__version__), indent=2))
    else:
        # Lazy: `--help` imports every command module; this command's library loads only when it runs.
        from ropeguard.lint.render import plain_text, print_text, rich_would_style

        text = (
            None
            if rich_would_style()
            else plain_text(report.findings, report.notes, files_read=report.files_read)
        )
        if text is not None:  # a pipe or a file: the same lines rich prints there, without loading rich
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            from rich.console import Console

            print_text(
                report.findings, report.notes, console=Console(soft_wrap=True), files_read=report.files_read
            )
    if output != "text":
        for note in report.notes:
            typer.echo(f"note: {note.path}: {note.message}", err=True)
    return 1 if report.failed else 0
