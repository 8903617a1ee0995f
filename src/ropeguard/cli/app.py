"""The Typer application every command module registers on.

Command modules (cli/<command>.py) stay thin: parse options, call one library function, print.
They import heavy packages inside the command function so that `plan`, `lint` and `inspect` stay light.
"""

from __future__ import annotations

import typer

from ropeguard.version import __version__

app = typer.Typer(
    name="ropeguard",
    help="Serve LLMs past their native context window correctly, and prove that it works.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ropeguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Serve LLMs past their native context window correctly, and prove that it works."""
