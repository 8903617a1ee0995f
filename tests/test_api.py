"""The public API: plain functions importable from `ropeguard`, and the 0.1 call forms, deprecated."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import ropeguard
import ropeguard.api
from ropeguard.doctor import DoctorReport
from ropeguard.plan import ContextPlan

# Versions of a stack known to be consistent (vLLM 0.33.0 pins torch 2.14.0; FACTS.md section 2).
STACK = {"python": "3.12.3", "torch": "2.14.0", "transformers": "5.19.0", "vllm": "0.33.0"}


def test_public_names_are_plain_functions() -> None:
    for name in ("inspect_model", "plan_model", "lint_paths", "run_doctor"):
        value = getattr(ropeguard, name)
        assert inspect.isfunction(value), name
        assert value is getattr(ropeguard.api, name)
        assert name in ropeguard.__all__


def test_plan_model_and_the_deprecated_call_agree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    plan = ropeguard.plan_model("Qwen/Qwen3-8B", "128k", engine_version="0.33.0", offline=True)
    assert isinstance(plan, ContextPlan) and plan.factor == 4.0
    with pytest.warns(DeprecationWarning, match=r"ropeguard\.plan_model"):
        old = ropeguard.plan("Qwen/Qwen3-8B", "128k", engine_version="0.33.0", offline=True)  # type: ignore[operator]
    assert old == plan
    # The package is still the package: its submodules are attributes.
    assert ropeguard.plan.memory.__name__ == "ropeguard.plan.memory"


def test_lint_paths_and_the_deprecated_call_agree(tmp_path: Path) -> None:
    script = tmp_path / "serve.sh"
    script.write_text("vllm serve Qwen/Qwen3-8B --max-model-len 40960\n")
    findings = ropeguard.lint_paths([str(script)], offline=True)
    assert [f.rule for f in findings] == ["RG205"]
    with pytest.warns(DeprecationWarning, match=r"ropeguard\.lint_paths"):
        old = ropeguard.lint([str(script)], offline=True)  # type: ignore[operator]
    assert old == findings
    assert ropeguard.lint.rules.__name__ == "ropeguard.lint.rules"


def test_run_doctor_and_the_deprecated_call_agree() -> None:
    report = ropeguard.run_doctor(probe_cuda=False, versions=STACK)
    assert isinstance(report, DoctorReport) and report.vllm == "0.33.0"
    with pytest.warns(DeprecationWarning, match=r"ropeguard\.run_doctor"):
        old = ropeguard.doctor(probe_cuda=False, versions=STACK)  # type: ignore[operator]
    assert old == report


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = ropeguard.no_such_name  # type: ignore[attr-defined]
