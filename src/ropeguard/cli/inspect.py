"""`ropeguard inspect MODEL [--json] [--native N] [--offline]`: what the config says."""

from __future__ import annotations

import json

import typer

from ropeguard.cli.app import app
from ropeguard.cli.options import JSON_OPTION, NATIVE_OPTION, OFFLINE_OPTION, native_tokens, offline_flag


@app.command("inspect")
def inspect_command(
    model: str = typer.Argument(..., help="Hugging Face id, local model folder, or path to a config.json."),
    as_json: bool = JSON_OPTION,
    native: str | None = NATIVE_OPTION,
    offline: bool = OFFLINE_OPTION,
) -> None:
    """Family, native context (and where it came from), rope type/theta/params, heads, layers, layout."""
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.api import inspect_model
    from ropeguard.models.inspection import inspect_document, summary_rows

    spec = inspect_model(model, native=native_tokens(native), offline=offline_flag(offline))
    if as_json:
        typer.echo(json.dumps(inspect_document(spec), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"ropeguard inspect {model}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for label, value in summary_rows(spec):
        table.add_row(label, value)
    Console().print(table)
