"""Command-line entry point: `ropeguard COMMAND ...`.

`main()` imports the command modules (each registers itself on `app`), runs the app and turns
ropeguard's own errors into `error: ...` / `hint: ...` on stderr with the error's exit code (2 for
usage and input errors, 1 for refused plans and failed gates); Ctrl-C exits 130. No traceback reaches
a user for anything ropeguard raises on purpose.
"""

from __future__ import annotations

import importlib
import sys

import typer

from ropeguard.cli.app import app
from ropeguard.errors import RopeguardError

# One module per command; importing a module registers its command(s) on `app`.
_COMMAND_MODULES: tuple[str, ...] = (
    "inspect",
    "plan",
    "lint",
    "doctor",
    "eval",
    "probe",
    "report",
    "compare",
    "serve",
    "certify",
    "demo",
)


def _load_commands() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(f"ropeguard.cli.{name}")


def print_error(error: RopeguardError) -> None:
    typer.echo(f"error: {error.message}", err=True)
    if error.hint:
        typer.echo(f"hint: {error.hint}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    _load_commands()
    try:
        result = app(args=argv, prog_name="ropeguard", standalone_mode=False)
    except RopeguardError as error:
        print_error(error)
        return error.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        return 130
    except typer.Exit as done:
        return done.exit_code
    except typer.TyperException as error:  # click's usage errors (typer vendors click)
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {error}", err=True)
        return 2
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())
