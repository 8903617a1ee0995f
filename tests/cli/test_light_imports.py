"""The light commands (plan, inspect, lint) import what they use and nothing more (issue 15).

Each command runs in a fresh interpreter through `ropeguard.cli.main`, offline with an empty Hugging
Face cache (ropeguard's registry answers), and reports which packages ended up in sys.modules. Not a
timing test: bench/plan_walltime.py measures the time; this says where it must not go.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
LINT_FILE = Path(__file__).resolve().parents[1] / "lint" / "realworld" / "k8s_dotted_rope.yaml"

# What no light command needs: the serving stack, the array library, the hub client, HTTP; and
# importlib.metadata's email parser (engines/installed.py reads a version from the METADATA header:
# parsing the whole file of vLLM and transformers cost plan ~15 ms).
NEVER = (
    "numpy",
    "torch",
    "transformers",
    "vllm",
    "huggingface_hub",
    "httpx",
    "matplotlib",
    "gguf",
    "email.feedparser",
)
# What inspect does not need: it reads a config, it plans nothing (the planner's five pydantic
# models, the engines' settings and the installed-package lookup).
NOT_FOR_INSPECT = ("yaml", "ropeguard.plan", "ropeguard.engines")
# The modules of the other commands: the CLI loads only the invoked command's module.
OTHER_COMMANDS = ("doctor", "eval", "probe", "report", "compare", "serve", "certify", "demo")

CASES: dict[str, tuple[list[str], int, tuple[str, ...]]] = {
    # name: (argv, exit code, packages it must not import beyond NEVER)
    "plan text, with the per-dimension table": (["plan", "Qwen/Qwen3-8B", "--target", "128k"], 0, ("yaml",)),
    "plan --json": (["plan", "Qwen/Qwen3-8B", "--target", "128k", "--json"], 0, ("yaml", "rich")),
    "plan within the native window": (["plan", "Qwen/Qwen3-8B", "--target", "16k"], 0, ("yaml",)),
    "plan --emit k8s": (["plan", "Qwen/Qwen3-8B", "--target", "128k", "--emit", "k8s"], 0, ()),
    "inspect": (["inspect", "Qwen/Qwen3-8B"], 0, NOT_FOR_INSPECT),
    "inspect --json": (["inspect", "Qwen/Qwen3-8B", "--json"], 0, (*NOT_FOR_INSPECT, "rich")),
    # --fix and --write alone load the diff and the file writer.
    "lint one file, text to a pipe": (
        ["lint", str(LINT_FILE), "--offline"],
        1,
        ("rich", "ropeguard.lint.autofix"),
    ),
    "lint --format json": (
        ["lint", str(LINT_FILE), "--offline", "--format", "json"],
        1,
        ("rich", "ropeguard.lint.autofix"),
    ),
}
WATCHED = sorted({*NEVER, "yaml", "rich", *(name for case in CASES.values() for name in case[2])})


def _loaded(argv: list[str], tmp_path: Path, *, extra: str = "") -> dict[str, object]:
    code = (
        "import io, json, sys, contextlib\n"
        f"{extra}\n"
        "from ropeguard.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main({argv!r})\n"
        "tops = {name.split('.')[0] for name in sys.modules}\n"
        f"loaded = sorted(name for name in {WATCHED!r} if name in tops or name in sys.modules)\n"
        "commands = sorted(name.rsplit('.', 1)[1] for name in sys.modules\n"
        "                  if name.startswith('ropeguard.cli.') and name != 'ropeguard.cli.app')\n"
        "print(json.dumps({'code': code, 'loaded': loaded, 'commands': commands}))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),  # an empty cache: the registry must answer
    }
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("case", list(CASES))
def test_a_light_command_imports_only_what_it_uses(case: str, tmp_path: Path) -> None:
    argv, exit_code, also_not = CASES[case]
    report = _loaded(argv, tmp_path)
    assert report["code"] == exit_code
    loaded = set(report["loaded"])  # type: ignore[call-overload]
    assert not loaded & {*NEVER, *also_not}, sorted(loaded)
    commands = set(report["commands"])  # type: ignore[call-overload]
    assert argv[0] in commands and not commands & set(OTHER_COMMANDS), sorted(commands)


def test_the_check_sees_an_import(tmp_path: Path) -> None:
    # The same harness, with numpy imported before the command: it must say so (a check that can fail).
    report = _loaded(["inspect", "Qwen/Qwen3-8B", "--json"], tmp_path, extra="import numpy")
    assert "numpy" in report["loaded"]  # type: ignore[operator]


def test_help_still_lists_every_command(tmp_path: Path) -> None:
    report = _loaded(["--help"], tmp_path)
    assert report["code"] == 0
    assert set(OTHER_COMMANDS) | {"plan", "inspect", "lint"} <= set(report["commands"])  # type: ignore[call-overload]
