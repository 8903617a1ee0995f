"""The `plan` command end to end through the CLI, offline (the registry answers well-known ids)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ropeguard
from ropeguard.cli import main

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache: the registry must answer


def _plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    assert main(["plan", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_done_when_qwen3_8b_at_128k(capsys: pytest.CaptureFixture[str]) -> None:
    plan = _plan_json(capsys, "Qwen/Qwen3-8B", "--target", "128k", "--engine-version", "0.33.0")
    assert plan["factor"] == 4.0
    assert plan["native_context"] == 32768
    assert plan["rope_theta"] == 1e6
    assert plan["hf_overrides"] == {
        "rope_parameters": {
            "rope_type": "yarn",
            "factor": 4.0,
            "original_max_position_embeddings": 32768,
            "rope_theta": 1e6,
        },
        "max_position_embeddings": 131072,
    }
    assert plan["memory"]["kv_bytes_per_token"] == 147456
    for key in (
        "model",
        "model_type",
        "native_context_source",
        "max_position_embeddings",
        "existing_rope_type",
        "target_context",
        "rope_parameters",
        "command",
        "env",
        "warnings",
        "engine",
        "engine_version",
    ):
        assert key in plan
    for key in ("kv_bytes_at_target", "weight_bytes", "gpus_needed", "tensor_parallel_size"):
        assert key in plan["memory"]


def test_default_version_is_the_installed_vllm(capsys: pytest.CaptureFixture[str]) -> None:
    from ropeguard.engines.vllm_versions import default_vllm_version

    plan = _plan_json(capsys, "Qwen/Qwen3-8B", "--target", "128k")
    assert plan["engine_version"] == default_vllm_version()


def test_done_when_0_11_0_gives_rope_scaling(capsys: pytest.CaptureFixture[str]) -> None:
    plan = _plan_json(capsys, "Qwen/Qwen3-8B", "--target", "128k", "--engine-version", "0.11.0")
    assert set(plan["hf_overrides"]) == {"rope_scaling", "rope_theta"}
    assert plan["hf_overrides"]["rope_scaling"]["factor"] == 4.0


def test_done_when_llama31_at_256k_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "meta-llama/Llama-3.1-8B-Instruct", "--target", "256k", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and "hint: " in captured.err
    assert main(["plan", "meta-llama/Llama-3.1-8B-Instruct", "--target", "256k", "--force", "--json"]) == 0


def test_done_when_target_within_native_has_no_override(capsys: pytest.CaptureFixture[str]) -> None:
    plan = _plan_json(capsys, "Qwen/Qwen3-8B", "--target", "32k")
    assert plan["factor"] == 1.0
    assert plan["hf_overrides"] is None and plan["rope_parameters"] is None
    assert "--hf-overrides" not in plan["command"]


def test_native_override_changes_the_factor(capsys: pytest.CaptureFixture[str]) -> None:
    plan = _plan_json(capsys, "Qwen/Qwen3-8B", "--target", "128k", "--native", "40960")
    assert plan["native_context"] == 40960
    assert plan["factor"] == 131072 / 40960


def test_text_mode_shows_command_memory_and_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["plan", "Qwen/Qwen3-8B", "--target", "128k", "--engine-version", "0.33.0", "--gpu", "h100"])
        == 0
    )
    out = capsys.readouterr().out
    assert "vllm serve Qwen/Qwen3-8B" in out
    assert "147,456 bytes/token" in out and "18.0 GiB" in out
    assert "warnings:" in out


@pytest.mark.parametrize(
    "args",
    [
        ["--target", "lots"],
        ["--target", "128k", "--engine", "tgi"],
        ["--target", "128k", "--gpu", "tpu"],
        ["--target", "128k", "--gpu", "h100", "--gpu-memory", "80"],
        ["--target", "128k", "--emit", "helm"],
        ["--target", "128k", "--engine-version", "latest"],
    ],
)
def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(["plan", "Qwen/Qwen3-8B", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_emit_requirements_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "plan",
        "Qwen/Qwen3-8B",
        "--target",
        "128k",
        "--engine-version",
        "0.33.0",
        "--emit",
        "requirements",
    ]
    assert main(args) == 0
    assert "vllm==0.33.0\ntorch==2.14.0\n" in capsys.readouterr().out


@pytest.mark.parametrize("submodule_first", [False, True])
def test_library_entry_point_is_plan_model(tmp_path: Path, submodule_first: bool) -> None:
    # A fresh interpreter: `ropeguard.plan_model` is a function; the 0.1 call `ropeguard.plan(...)`
    # still works with a DeprecationWarning whether or not a submodule came first, and
    # `ropeguard.plan` stays the package (its submodules import and are reachable as attributes).
    code = (
        "import importlib, warnings, ropeguard\n"
        + ("importlib.import_module('ropeguard.plan.memory')\n" if submodule_first else "")
        + "first = ropeguard.plan_model('Qwen/Qwen3-8B', '128k', engine_version='0.33.0', offline=True)\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    second = ropeguard.plan('Qwen/Qwen3-8B', 65536, offline=True)\n"
        "importlib.import_module('ropeguard.plan.emit')\n"
        "assert ropeguard.plan.emit.__name__ == 'ropeguard.plan.emit'\n"
        "assert ropeguard.plan.memory.__name__ == 'ropeguard.plan.memory'\n"
        "print(first.factor, second.factor, type(first).__name__, *[w.category.__name__ for w in caught])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["4.0", "2.0", "ContextPlan", "DeprecationWarning"]
    assert ropeguard.plan_model.__module__ == "ropeguard.api"


def test_plan_json_imports_no_heavy_package(tmp_path: Path) -> None:
    code = (
        "import sys, json\n"
        "from ropeguard.cli import main\n"
        "code = main(['plan', 'Qwen/Qwen3-8B', '--target', '128k', '--json'])\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules)\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}
    assert json.loads(done.stdout)["factor"] == 4.0
