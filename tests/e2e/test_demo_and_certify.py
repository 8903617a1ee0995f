"""`ropeguard demo` and `ropeguard certify` end to end on the bundled tiny model with real vLLM (CPU).

These need the trained tiny model (a random one cannot retrieve a passkey at any length): the model
was trained on 2048-token sequences and its config says 8192, so the numbers below are the story the
demo tells, measured, not assumed: recall holds with YaRN x4 and falls without it past 2048.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Two server starts and a grid each: minutes on two quiet cores, far more on a busy machine.
pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(3000)]

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def trained_model(tiny_model_dir: Path) -> Path:
    return tiny_model_dir


def _ropeguard(*args: str, timeout: float = 2900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ropeguard", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )


def test_demo_shows_the_failure_and_the_fix(trained_model: Path, tmp_path: Path) -> None:
    done = _ropeguard("demo", "--out", str(tmp_path / "demo"), "--backend", "vllm", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["backend"] == "vllm"
    unscaled, planned = result["unscaled"], result["planned"]
    # Every long prompt was accepted and answered by the unscaled server: the failure is silent.
    assert unscaled["errors"] == 0
    assert unscaled["answered"] == 40
    assert planned["hf_overrides"]["rope_parameters"]["factor"] == 4.0
    assert planned["recall"]["8192"] >= 0.8
    assert unscaled["recall"]["1024"] >= 0.8  # the model works inside its trained window
    assert unscaled["recall"]["8192"] <= planned["recall"]["8192"] - 0.5
    for side in (unscaled, planned):
        assert Path(side["report_html"]).stat().st_size > 2000


def test_certify_passes_with_the_plan(trained_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "certify-yarn"
    done = _ropeguard(
        "certify", str(trained_model), "--target", "8192", "--native", "2048",
        "--gate", "8192:0.8", "--lengths", "1k,8k", "--out", str(out), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    certificate = json.loads(done.stdout)
    assert certificate["passed"] is True
    assert certificate["factor"] == 4.0
    names = [gate["name"] for gate in certificate["gates"]]
    assert "recall at 8192" in names
    assert any("static YaRN" in name for name in names)  # the baseline ran and was compared
    assert (out / "baseline" / "summary.json").exists()
    assert Path(certificate["report_html"]).exists()


def test_certify_fails_without_scaling(trained_model: Path, tmp_path: Path) -> None:
    done = _ropeguard(
        "certify", str(trained_model), "--target", "8192", "--native", "8192",
        "--gate", "8192:0.8", "--lengths", "8k", "--out", str(tmp_path / "certify-none"), "--json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    certificate = json.loads(done.stdout)
    assert certificate["passed"] is False
    assert certificate["factor"] == 1.0
    gate = next(g for g in certificate["gates"] if g["length"] == 8192)
    assert gate["verdict"] == "fail"
