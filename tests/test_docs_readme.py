"""The README's commands work as written, and its example output is what they print.

Every `ropeguard ...` line in the README's bash / console blocks (also through `scripts/demo.sh`)
must parse against the real CLI; the light ones (plan, lint, inspect) run for real, offline with an
empty Hugging Face cache, in a fresh folder outside the repository after the blocks' own set-up lines
(`mkdir`, `echo ... > file`), and must not end in a usage error. Where a console block shows output,
its lines must appear in what the command prints, in order (`...` skips lines; a line ending in `...`
matches as a prefix).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ropeguard.cli import _load_commands
from ropeguard.cli.app import app

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
LIGHT = ("plan", "lint", "inspect")
SETUP_WORDS = ("mkdir", "echo")  # the only shell the test runs from the README besides ropeguard


@dataclass
class Command:
    line: str
    args: list[str]  # after `ropeguard`
    expected: list[str] = field(default_factory=list)  # the output shown under it (console blocks)


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    return [
        (lang, body.splitlines())
        for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    ]


def _ropeguard_args(line: str) -> list[str] | None:
    words = shlex.split(line, comments=True)
    if words[:1] == ["ropeguard"]:
        return words[1:]
    if len(words) >= 2 and words[0] == "bash" and words[1].endswith("scripts/demo.sh"):
        return words[2:] or ["demo"]
    return None


def readme_commands() -> tuple[list[Command], list[str]]:
    """The ropeguard commands of the README's shell blocks, and their set-up lines, in order."""
    commands: list[Command] = []
    setup: list[str] = []
    for lang, lines in _blocks(README.read_text()):
        if lang in ("bash", "sh"):
            for line in lines:
                if line.strip() and not line.lstrip().startswith("#"):
                    args = _ropeguard_args(line)
                    if args is not None:
                        commands.append(Command(line, args))
        elif lang == "console":
            current: Command | None = None
            for line in lines:
                if line.startswith("$ "):
                    shell = line[2:]
                    args = _ropeguard_args(shell)
                    if args is not None:
                        current = Command(shell, args)
                        commands.append(current)
                    else:
                        setup.append(shell)
                        current = None
                elif current is not None:
                    current.expected.append(line)
    return commands, setup


COMMANDS, SETUP = readme_commands()


def _group():  # type: ignore[no-untyped-def]
    import typer.main

    _load_commands()
    return typer.main.get_command(app)


def test_the_readme_starts_with_the_two_set_up_commands_and_the_next_steps() -> None:
    text = README.read_text()
    first_screen = text.split("\n## ", 2)
    assert len(first_screen) == 3
    screen = "## " + first_screen[1]
    assert screen.count("\n") <= 45, "the README's first section no longer fits one screen"
    for needed in ("bash scripts/demo.sh", "bash scripts/test.sh", ".venv/bin/activate"):
        assert needed in screen, needed
    names = [c.args[0] for c in COMMANDS if c.line in screen]
    assert {"plan", "lint", "certify"} <= set(names), names
    assert "scripts/test.sh" in (REPO / ".ci" / "run").read_text()  # CI runs what the README says
    for script in ("scripts/demo.sh", "scripts/test.sh", "scripts/bootstrap.sh"):
        assert (REPO / script).is_file()


def test_the_readme_has_commands_to_check() -> None:
    names = {c.args[0] for c in COMMANDS}
    assert {"plan", "lint", "certify", "demo"} <= names, names
    assert any(c.expected for c in COMMANDS if c.args[0] == "plan")
    assert any(c.expected for c in COMMANDS if c.args[0] == "lint")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.line)
def test_every_readme_command_parses_against_the_cli(command: Command) -> None:
    group = _group()
    root = group.make_context("ropeguard", [command.args[0]], resilient_parsing=True)
    found = group.get_command(root, command.args[0])
    assert found is not None, f"{command.args[0]} is not a ropeguard command"
    # Parses and converts every option as a run would (required ones included); runs nothing.
    found.make_context(command.args[0], list(command.args[1:]), parent=root)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the repository, after the README's own set-up lines ran in it."""
    folder = tmp_path_factory.mktemp("user-project")
    for line in SETUP:
        for part in line.split("&&"):
            word = shlex.split(part)[0]
            assert word in SETUP_WORDS, f"the README runs {word!r}: teach this test about it first"
        subprocess.run(["bash", "-c", line], cwd=folder, check=True, timeout=30)
    return folder


def _run(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "HF_TOKEN", "COLUMNS")}
    env.update(
        PYTHONPATH=str(REPO / "src"),
        HF_HUB_OFFLINE="1",
        HF_HOME=str(home),
        NO_COLOR="1",
    )
    return subprocess.run(
        [sys.executable, "-m", "ropeguard", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _missing(expected: list[str], actual: list[str]) -> str | None:
    """The first expected line not found (in order) in actual, or None when all are."""
    position = 0
    for line in expected:
        if line.strip() == "...":
            continue
        prefix = line[:-3].rstrip() if line.endswith("...") else None
        while position < len(actual):
            candidate = actual[position].rstrip()
            position += 1
            if candidate == line.rstrip() or (prefix is not None and candidate.startswith(prefix)):
                break
        else:
            return line
    return None


LIGHT_COMMANDS = [c for c in COMMANDS if c.args[0] in LIGHT]


@pytest.mark.parametrize("command", LIGHT_COMMANDS, ids=lambda c: c.line)
def test_the_light_readme_commands_run_and_print_what_it_shows(
    command: Command, workdir: Path, tmp_path: Path
) -> None:
    empty_hf_home = tmp_path / "hf"
    empty_hf_home.mkdir()
    result = _run(command.args, workdir, empty_hf_home)
    assert result.returncode in (0, 1), result.stderr  # 1: findings (lint); 2 would be a usage error
    assert "Traceback" not in result.stderr
    if command.expected:
        missing = _missing(command.expected, result.stdout.splitlines())
        assert missing is None, f"the README shows {missing!r}, `{command.line}` does not print it"


def test_the_output_matcher_can_fail() -> None:
    actual = ["a", "b long line", "c"]
    assert _missing(["a", "...", "c"], actual) is None
    assert _missing(["b long...", "c"], actual) is None
    assert _missing(["c", "a"], actual) == "a"  # order matters
    assert _missing(["b"], actual) == "b"  # a whole line must match unless it ends in ...
