"""Command-line entry point: `ropeguard COMMAND ...`.

`main()` imports the module of the command it is asked for (each registers itself on `app`; all of
them only when no known command is named: `--help`, a typo), runs the app and turns
ropeguard's own errors into `error: ...` / `hint: ...` on stderr with the error's exit code (2 for
usage and input errors, 1 for refused plans and failed gates); Ctrl-C exits 130, saying where the
results so far are when a run was writing some. No traceback reaches a user for anything ropeguard
raises on purpose, and known secrets never reach stderr or
what `print_out` prints (ropeguard.redaction).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Iterator, Sequence

import typer

from ropeguard.cli.app import app
from ropeguard.errors import Interrupted, RopeguardError
from ropeguard.redaction import redact_text

# One module per command, named as the command; importing a module registers its command on `app`.
# The order is the order of `ropeguard --help`.
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


def _invoked_command(argv: Sequence[str]) -> str | None:
    """The command `argv` names (its first word that is not an option), when it is one of ours."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in _COMMAND_MODULES else None
    return None


# Commands that read files and print, start nothing and should feel instant (issue 15: < 0.3 s).
LIGHT_COMMANDS: tuple[str, ...] = ("inspect", "plan", "lint")


@contextlib.contextmanager
def _without_pydantic_plugins(command: str | None) -> Iterator[None]:
    """Around a light command: no pydantic plugin discovery (PYDANTIC_DISABLE_PLUGINS=1, as typer
    sets it around its own adapters). The first pydantic model built in a process otherwise reads the
    entry points of every installed distribution (hundreds in a vLLM environment: ~20-40 ms, a tenth
    of the budget); a light command starts no child that could inherit the setting, and the previous
    value is back when it returns."""
    if command not in LIGHT_COMMANDS:
        yield
        return
    previous = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYDANTIC_DISABLE_PLUGINS", None)
        else:
            os.environ["PYDANTIC_DISABLE_PLUGINS"] = previous


def _load_commands(argv: Sequence[str] | None = None) -> str | None:
    """Register the command `argv` invokes (and return its name), or every command when it names none.

    A light command (`plan`, `lint`, `inspect`) then imports its own module only, not the modules of
    the other ten commands. `ropeguard --help`, a misspelt command and `argv=None` load all, so that
    help and click's "No such command" see every command, in the order of _COMMAND_MODULES."""
    wanted = _invoked_command(argv) if argv is not None else None
    for name in (wanted,) if wanted else _COMMAND_MODULES:
        importlib.import_module(f"ropeguard.cli.{name}")
    if not wanted:
        # A process that ran one command before (the tests call main() many times) registered it
        # first; help lists the commands in their documented order all the same.
        order = {f"ropeguard.cli.{name}": index for index, name in enumerate(_COMMAND_MODULES)}
        app.registered_commands.sort(
            key=lambda command: order.get(getattr(command.callback, "__module__", ""), len(order))
        )
    return wanted


def print_error(error: RopeguardError) -> None:
    # Messages may quote a server's answer or log: the one redaction of known secrets applies.
    typer.echo(f"error: {redact_text(error.message)}", err=True)
    if error.hint:
        typer.echo(f"hint: {redact_text(error.hint)}", err=True)


@contextlib.contextmanager
def interrupt_says_where() -> Iterator[None]:
    """Around a long-running command: Ctrl-C prints where the results so far are and exits 130.

    Needed inside the command because typer turns a KeyboardInterrupt escaping a command into a
    silent exit 130, before `main` could see which folder the run was writing."""
    try:
        yield
    except Interrupted as interrupted:
        typer.echo(str(interrupted), err=True)
        raise typer.Exit(130) from None


def print_out(text: str, *, nl: bool = True) -> None:
    """A command's result on stdout (a JSON document, a verdict): a record printed as it was measured
    may quote a server (its model name, an answer), so the one redaction of known secrets applies."""
    typer.echo(redact_text(text), nl=nl)


def print_warning(text: str | None) -> None:
    """`warning: ...` on stderr (nothing for None), so that --json output stays one document."""
    if text:
        typer.echo(f"warning: {redact_text(text)}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    command = _load_commands(sys.argv[1:] if argv is None else argv)
    try:
        with _without_pydantic_plugins(command):
            result = app(args=argv, prog_name="ropeguard", standalone_mode=False)
    except RopeguardError as error:
        print_error(error)
        return error.exit_code
    except Interrupted as interrupted:
        typer.echo(str(interrupted), err=True)
        return 130
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        return 130
    except typer.Exit as done:
        return done.exit_code
    except typer.TyperException as error:  # click's usage errors (typer vendors click)
        print_error(_usage_error(error))
        return 2
    except OSError as error:  # a path the OS refuses (a file where a folder goes, a name too long, ...)
        where = f"{error.filename}: " if error.filename else ""
        print_error(RopeguardError(f"{where}{error.strerror or error}"))
        return 2
    except Exception as error:  # a bug: still one line, never a traceback (ROPEGUARD_DEBUG=1 shows it)
        if os.environ.get("ROPEGUARD_DEBUG"):
            raise
        detail = str(error).split("\n", 1)[0][:200]
        print_error(
            RopeguardError(
                f"internal error: {type(error).__name__}: {detail}",
                hint="this is a bug in ropeguard; ROPEGUARD_DEBUG=1 prints the traceback to report it",
            )
        )
        return 2
    return result if isinstance(result, int) else 0


def _usage_error(error: Exception) -> RopeguardError:
    """click's usage error as ropeguard's one-line error, with a hint naming the command's --help."""
    format_message = getattr(error, "format_message", None)
    message = format_message() if callable(format_message) else str(error)
    message = " ".join(message.split()) or "missing command"
    context = getattr(error, "ctx", None)
    command = getattr(context, "command_path", None) or "ropeguard"
    if type(error).__name__ == "NoArgsIsHelpError":
        message = "no command given"
    return RopeguardError(message.rstrip("."), hint=f"'{command} --help' lists what it takes")


def run() -> None:
    """main() in a process of its own (the console script, `python -m ropeguard`).

    What starting imports (typer, pydantic and their schemas, the command's module) lives until the
    process exits: it is frozen out of the cyclic collector (gc.freeze) before the command runs, so
    that later collections walk only what the command allocates. ropeguard.__main__ turns the
    collector off before the CLI's imports; here it is off at least while the command's module loads.
    Collection is on again for the command itself, so a lint of a large tree stays bounded (a 3,000
    file lint: the same peak memory). Measured on `python -m ropeguard plan` (issue 15): 73 collections
    took 16-31 ms before, 30 take 5-17 ms now, on this 2-core machine under other work."""
    gc.disable()
    _load_commands(sys.argv[1:])
    gc.freeze()
    gc.enable()
    sys.exit(main())
