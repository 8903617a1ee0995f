"""The parallel layout: TP inside a node, PP across nodes, replicas, and the commands for every node.

Model shapes come from the published config.json files (ropeguard's registry, or plan_specs.py with
the source named there); the vLLM rules checked here were read from vLLM 0.32's source (see the
docstring of ropeguard.plan.layout).
"""

import math

import pytest
from plan_specs import deepseek_v3, llama31_405b, qwen3_8b

from ropeguard.errors import UsageError
from ropeguard.models.reader import registry_spec
from ropeguard.models.spec import ModelSpec, MoeSpec
from ropeguard.plan import ContextPlan, make_plan
from ropeguard.plan.layout import pipeline_partition, tensor_parallel_options
from ropeguard.plan.memory import kv_cache

GIB = 1024**3
K128 = 131072


def _registry(model: str) -> ModelSpec:
    spec = registry_spec(model)
    assert spec is not None, model
    return spec


def _plan(spec: ModelSpec, gpu: str, target: int = K128, **options: object) -> ContextPlan:
    return make_plan(spec, target, gpu=gpu, engine_version="0.33.0", distribution="vllm", **options)  # type: ignore[arg-type]


# --- golden layouts (the cases) --------------------------------------------------------

GOLDEN = {
    # model, gpu: (TP, PP, nodes)
    ("deepseek-ai/DeepSeek-V3", "h100-80gb"): (8, 2, 2),
    ("deepseek-ai/DeepSeek-V3", "h200"): (8, 1, 1),
    ("Qwen/Qwen3-235B-A22B-Instruct-2507", "h100-80gb"): (8, 1, 1),
    ("Qwen/Qwen3-235B-A22B-Instruct-2507", "h200"): (4, 1, 1),
    ("meta-llama/Llama-3.1-70B-Instruct", "h100-80gb"): (4, 1, 1),
    ("meta-llama/Llama-3.1-70B-Instruct", "h200"): (2, 1, 1),
}


@pytest.mark.parametrize(("model", "gpu"), list(GOLDEN))
def test_golden_layouts_at_128k(model: str, gpu: str) -> None:
    plan = _plan(_registry(model), gpu)
    layout = plan.layout
    assert layout is not None
    assert (layout.tensor_parallel, layout.pipeline_parallel, layout.nodes) == GOLDEN[(model, gpu)]
    assert layout.fits and layout.concurrency_at_target >= 1
    assert layout.tensor_parallel <= layout.gpus_per_node == 8
    # vLLM's rule: TP divides the attention heads.
    spec = _registry(model)
    assert spec.num_attention_heads % layout.tensor_parallel == 0
    # The budget left after the weights holds one target-length request on the tightest GPU.
    assert layout.kv_budget_bytes_per_gpu >= layout.kv_bytes_at_target_per_gpu
    assert layout.reason


def test_llama_405b_needs_two_h100_nodes_and_fits_one_h200_node() -> None:
    h100 = _plan(llama31_405b(), "h100-80gb").layout
    assert h100 is not None
    assert (h100.tensor_parallel, h100.pipeline_parallel, h100.nodes) == (8, 2, 2)
    assert h100.pipeline_layer_partition == [63, 63]
    h200 = _plan(llama31_405b(), "h200").layout
    assert h200 is not None
    assert (h200.tensor_parallel, h200.pipeline_parallel, h200.nodes) == (8, 1, 1)


def test_deepseek_v3_on_h100_is_tp8_pp2_with_commands_for_both_nodes() -> None:
    plan = _plan(_registry("deepseek-ai/DeepSeek-V3"), "h100-80gb")
    layout = plan.layout
    assert layout is not None and layout.multi_node
    # 61 layers over 2 stages as vLLM's get_pp_indices splits them.
    assert layout.pipeline_layer_partition == [31, 30]
    argv = plan.command
    assert argv[argv.index("--tensor-parallel-size") + 1] == "8"
    assert argv[argv.index("--pipeline-parallel-size") + 1] == "2"
    # 0.33 has the multiprocessing multi-node mode, so "auto" uses it.
    assert layout.backend == "mp"
    roles = plan.node_commands
    assert [(r.role, r.node_rank) for r in roles] == [("head", 0), ("worker", 1)]
    head, worker = roles[0].commands[0], roles[1].commands[0]
    assert head == argv and "--headless" not in head
    assert worker[worker.index("--node-rank") + 1] == "1" and "--headless" in worker
    assert worker[worker.index("--nnodes") + 1] == "2"
    assert head[head.index("--master-addr") + 1] == worker[worker.index("--master-addr") + 1]
    for role in roles:
        assert set(role.env) == {"NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "VLLM_HOST_IP"}
    assert any("InfiniBand" in note for note in plan.notes)
    # The memory plan is restated for the layout, so it matches the command.
    assert plan.memory.tensor_parallel_size == 8 and plan.memory.gpus_needed == 16


def test_ray_backend_commands() -> None:
    plan = _plan(_registry("deepseek-ai/DeepSeek-V3"), "h100-80gb", multi_node_backend="ray")
    head, worker = plan.node_commands
    assert head.commands[0] == ["ray", "start", "--head", "--port", "6379"]
    assert head.commands[1] == plan.command
    assert plan.command[-2:] == ["--distributed-executor-backend", "ray"]
    assert worker.commands == [["ray", "start", "--address", "<HEAD_NODE_IP>:6379", "--block"]]
    assert worker.count == 1


def test_multiprocessing_backend_is_gated_by_vllm_version() -> None:
    plan = make_plan(
        _registry("deepseek-ai/DeepSeek-V3"),
        K128,
        gpu="h100-80gb",
        engine_version="0.11.0",
        distribution="vllm",
        multi_node_backend="mp",
    )
    assert "--nnodes" not in plan.command and "--distributed-executor-backend" in plan.command
    assert any("0.11.1" in warning for warning in plan.warnings)
    auto = make_plan(_registry("deepseek-ai/DeepSeek-V3"), K128, gpu="h100-80gb", engine_version="0.11.0")
    assert auto.layout is not None and auto.layout.backend == "ray"


def test_single_node_plans_keep_their_command() -> None:
    plan = _plan(qwen3_8b(), "h100-80gb")
    assert plan.layout is not None and not plan.layout.multi_node
    assert plan.layout.tensor_parallel == (plan.memory.tensor_parallel_size or 1)
    assert "--pipeline-parallel-size" not in plan.command
    assert [role.role for role in plan.node_commands] == ["server"]
    assert plan.node_commands[0].commands == [plan.command]


def test_extra_nodes_become_replicas() -> None:
    layout = _plan(_registry("deepseek-ai/DeepSeek-V3"), "h100-80gb", nodes=5).layout
    assert layout is not None
    assert (layout.nodes_per_replica, layout.data_parallel, layout.nodes) == (2, 2, 5)
    small = _plan(qwen3_8b(), "h100-80gb", nodes=2).layout
    assert small is not None
    # Qwen3-8B at 128K needs one H100: 8 replicas a node.
    assert small.tensor_parallel == 1 and small.data_parallel == 16


def test_too_few_nodes_do_not_fit() -> None:
    plan = _plan(_registry("deepseek-ai/DeepSeek-V3"), "h100-80gb", nodes=1)
    assert plan.layout is not None and not plan.layout.fits
    assert any("cannot hold one replica" in note for note in plan.layout.notes)


def test_num_gpus_beyond_a_node_means_nodes() -> None:
    layout = _plan(_registry("deepseek-ai/DeepSeek-V3"), "h100-80gb", num_gpus=32).layout
    assert layout is not None and layout.nodes == 4 and layout.data_parallel == 2


# --- vLLM's rules --------------------------------------------------------------------------------


def test_pipeline_partition_matches_vllm_get_pp_indices() -> None:
    utils = pytest.importorskip("vllm.distributed.utils")
    for layers in (2, 5, 20, 61, 94, 126):
        for stages in range(1, min(layers, 9) + 1):
            ours = pipeline_partition(layers, stages)
            theirs = [
                end - start
                for start, end in (utils.get_pp_indices(layers, rank, stages) for rank in range(stages))
            ]
            assert ours == theirs, (layers, stages)


def test_pipeline_partition_refuses_more_stages_than_layers() -> None:
    with pytest.raises(UsageError):
        pipeline_partition(4, 5)


def test_tensor_parallel_divides_heads_and_kv_heads() -> None:
    # Qwen2.5-7B: 28 heads, 4 KV heads: 7 divides the heads but neither divides nor is divided by 4.
    spec = _registry("Qwen/Qwen2.5-7B-Instruct")
    assert tensor_parallel_options(spec, 8) == [1, 2, 4]
    # MLA has no KV-head constraint: any divisor of the 128 heads.
    assert tensor_parallel_options(deepseek_v3(), 8) == [1, 2, 4, 8]


def test_kv_heads_are_replicated_past_their_count() -> None:
    # Qwen3-235B: 4 KV heads at TP 8 -> each GPU keeps one (vLLM: max(1, 4 // 8)).
    spec = _registry("Qwen/Qwen3-235B-A22B-Instruct-2507")
    layout = _plan(spec, "h100-80gb").layout
    assert layout is not None and layout.tensor_parallel == 8
    assert layout.kv_heads_per_gpu == 1
    assert layout.kv_bytes_per_token_per_gpu == 2 * 94 * 1 * 128 * 2
    # That is a quarter of the model's KV, not an eighth.
    assert layout.kv_bytes_per_token_per_gpu * 4 == kv_cache(spec).bytes_per_token


def test_mla_latent_is_not_sharded_by_tensor_parallel() -> None:
    spec = _registry("deepseek-ai/DeepSeek-V3")
    single = _plan(spec, "h200").layout
    assert single is not None and single.tensor_parallel == 8
    # Every rank keeps the whole latent of its layers: (512 + 64) x 2 bytes a layer.
    assert single.kv_bytes_per_token_per_gpu == kv_cache(spec).bytes_per_token == 61 * 576 * 2
    split = _plan(spec, "h100-80gb").layout
    assert split is not None
    assert [stage.kv_bytes_per_token for stage in split.stages] == [31 * 576 * 2, 30 * 576 * 2]
    assert split.kv_heads_per_gpu is None


def test_per_gpu_weights_add_up_to_the_model() -> None:
    # One GPU, one stage: the layout's weights are the memory plan's.
    for spec in (qwen3_8b(), deepseek_v3(), _registry("Qwen/Qwen3-235B-A22B-Instruct-2507")):
        plan = make_plan(spec, 4096, gpu_memory_gib=4096, engine_version="0.33.0")
        assert plan.layout is not None and plan.layout.tensor_parallel == 1
        assert abs(plan.layout.weight_bytes_per_gpu - plan.memory.weight_bytes) <= 2


def test_pipeline_stages_split_the_weights() -> None:
    layout = _plan(llama31_405b(), "h100-80gb").layout
    assert layout is not None
    total = make_plan(llama31_405b(), 4096, gpu_memory_gib=4096).memory.weight_bytes
    stage_sum = sum(stage.weight_bytes for stage in layout.stages) * layout.tensor_parallel
    # TP 8 replicates only each rank's KV projections (8 KV heads: none here) and the norms.
    assert math.isclose(stage_sum, total, rel_tol=0.001)


def test_expert_parallel_memory_effect() -> None:
    spec = _registry("Qwen/Qwen3-235B-A22B-Instruct-2507")
    sliced = _plan(spec, "h100-80gb").layout
    whole = _plan(spec, "h100-80gb", expert_parallel=True)
    assert whole.layout is not None and sliced is not None
    assert "--enable-expert-parallel" in whole.command
    # 128 experts over 8 ranks: 16 whole experts each, the same bytes as slicing all of them.
    assert abs(whole.layout.weight_bytes_per_gpu - sliced.weight_bytes_per_gpu) <= 1
    # 60 experts over 8 ranks: 8 whole experts on the fullest rank instead of 7.5 experts' worth.
    uneven = spec.model_copy(
        update={"moe": MoeSpec(num_experts=60, num_experts_per_tok=4, moe_intermediate_size=1536)}
    )
    a = _plan(uneven, "h100-80gb", num_gpus=8).layout
    b = _plan(uneven, "h100-80gb", num_gpus=8, expert_parallel=True).layout
    assert a is not None and b is not None and a.tensor_parallel == b.tensor_parallel == 8
    expert = 3 * spec.hidden_size * 1536 * 2  # bf16
    assert b.weight_bytes_per_gpu - a.weight_bytes_per_gpu == pytest.approx(94 * 0.5 * expert, abs=94)
    assert any("uneven" in note for note in b.notes)


def test_expert_parallel_needs_experts() -> None:
    with pytest.raises(UsageError, match="expert"):
        _plan(qwen3_8b(), "h100-80gb", expert_parallel=True)


def test_bad_layout_options() -> None:
    with pytest.raises(UsageError):
        _plan(qwen3_8b(), "h100-80gb", gpus_per_node=0)
    with pytest.raises(UsageError):
        _plan(qwen3_8b(), "h100-80gb", nodes=0)


def test_layout_is_a_pure_function_of_its_inputs() -> None:
    spec = _registry("deepseek-ai/DeepSeek-V3")
    first = _plan(spec, "h100-80gb").model_dump_json()
    assert _plan(spec, "h100-80gb").model_dump_json() == first


def test_gpus_per_node_changes_the_layout() -> None:
    # Four-GPU nodes: DeepSeek-V3 at TP 4 needs three stages (626.7 GiB over 12 GPUs), one a node.
    layout = _plan(_registry("deepseek-ai/DeepSeek-V3"), "h100-80gb", gpus_per_node=4).layout
    assert layout is not None and layout.tensor_parallel == 4 and layout.gpus_per_node == 4
    assert layout.pipeline_parallel == 3 and layout.nodes == 3
    # vLLM gives the extra layer to the middle stage (not the first, which holds the embedding).
    assert layout.pipeline_layer_partition == [20, 21, 20]
    assert layout.fits


def test_cli_plan_json_has_layout_and_node_commands(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    import json

    from ropeguard.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    args = ["plan", "deepseek-ai/DeepSeek-V3", "--target", "128k", "--gpu", "h100-80gb"]
    args += ["--engine-version", "0.33.0"]
    assert main([*args, "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    # Every key of the DESIGN.md contract is still there.
    for key in ("model", "factor", "hf_overrides", "command", "env", "memory", "warnings", "engine_version"):
        assert key in plan
    layout = plan["layout"]
    assert (layout["tensor_parallel"], layout["pipeline_parallel"], layout["nodes"]) == (8, 2, 2)
    assert layout["weight_bytes_per_gpu"] > 0 and layout["kv_bytes_at_target_per_gpu"] > 0
    assert layout["reason"]
    assert [role["role"] for role in plan["node_commands"]] == ["head", "worker"]
    assert main([*args]) == 0
    text = capsys.readouterr().out
    assert "layout: TP 8 x PP 2" in text and "--headless" in text
    assert main([*args, "--multi-node-backend", "nope"]) == 2
    assert main([*args, "--emit", "compose"]) == 2


def test_serve_launch_of_a_multi_node_plan_keeps_the_pipeline_split() -> None:
    from ropeguard.serve import build_launch, spec_from_plan

    plan = _plan(_registry("deepseek-ai/DeepSeek-V3"), "h100-80gb")
    argv = build_launch(spec_from_plan(plan, nnodes=2, node_rank=0, master_addr="10.0.0.1")).argv
    assert argv[argv.index("--tensor-parallel-size") + 1] == "8"
    assert argv[argv.index("--pipeline-parallel-size") + 1] == "2"
    assert argv[argv.index("--nnodes") + 1] == "2"


def test_more_gpus_than_a_node_for_a_small_model_are_replicas() -> None:
    plan = _plan(qwen3_8b(), "h100-80gb", num_gpus=16)
    layout = plan.layout
    assert layout is not None and not layout.multi_node
    assert (layout.tensor_parallel, layout.data_parallel, layout.nodes) == (1, 16, 2)
    # The command follows the layout, not a 16-way tensor-parallel group across the nodes.
    assert "--tensor-parallel-size" not in plan.command
    assert plan.memory.tensor_parallel_size == 1


def test_no_layout_without_weight_shapes() -> None:
    spec = qwen3_8b(intermediate_size=None, missing_weight_fields=["intermediate_size"])
    plan = _plan(spec, "h100-80gb")
    assert plan.memory.parameters is None and plan.layout is None
    assert [role.role for role in plan.node_commands] == ["server"]


def test_layout_options_are_bounded() -> None:
    # --num-gpus stops at 65,536; so do the node options (10**8 nodes planned 8*10**8 replicas before).
    with pytest.raises(UsageError, match="--nodes must be between 1 and 65536"):
        _plan(qwen3_8b(), "h100-80gb", nodes=10**8, gpus_per_node=8)
    with pytest.raises(UsageError, match="--gpus-per-node must be between 1 and 65536"):
        _plan(qwen3_8b(), "h100-80gb", gpus_per_node=10**6)
    assert _plan(qwen3_8b(), "h100-80gb", nodes=65536, gpus_per_node=8).layout is not None
