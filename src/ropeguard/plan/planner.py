"""target -> settings: the YaRN decision, the engine's settings, the memory plan and the warnings.

`make_plan` is a pure function of a ModelSpec and the options (the only thing it reads from the
environment is the installed vLLM's version, from package metadata, when none is given).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ropeguard import validation
from ropeguard.engines import EngineRequest, get_engine, vllm_versions
from ropeguard.errors import PlanRefused
from ropeguard.lengths import format_token_count
from ropeguard.models.spec import ModelSpec
from ropeguard.plan.memory import MemoryPlan, plan_memory

SCHEMA_VERSION = 1

# Zero-shot YaRN (no fine-tuning at the longer length) keeps recall up to about this factor.
SAFE_ZERO_SHOT_FACTOR = 4.0
# Rope types that are YaRN already: a forced plan raises their factor instead of replacing them.
_YARN_TYPES = ("yarn", "deepseek_yarn")

Scaling = Literal["none", "yarn", "yarn-extended", "yarn-replacing"]


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
    # forced plans: "yarn-extended" (a YaRN model's factor raised), "yarn-replacing" (own scaling dropped)
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
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    engine: str
    engine_version: str | None
    engine_distribution: str | None = None
    p99_input_tokens: int | None = None


def yarn_attention_factor(factor: float, rope: dict[str, Any]) -> float:
    """YaRN's cos/sin multiplier as transformers and vLLM >= 0.30 compute it (FACTS.md section 3)."""
    if "attention_factor" in rope and rope["attention_factor"] is not None:
        return float(rope["attention_factor"])

    def mscale(scale: float, weight: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * weight * math.log(scale) + 1.0

    if rope.get("mscale") and rope.get("mscale_all_dim"):
        return mscale(factor, float(rope["mscale"])) / mscale(factor, float(rope["mscale_all_dim"]))
    return mscale(factor)


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
) -> ContextPlan:
    """Plan serving `spec` at `target` tokens: the rope override, the command, memory and warnings.

    Raises PlanRefused when the model already carries its own scaling and the target exceeds the window
    that scaling gives (unless `force`), and UsageError for impossible options.
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
        installed = vllm_versions.installed_vllm()
        if engine_version is None:
            engine_version = installed.version if installed else vllm_versions.NEWEST_KNOWN
        engine_version = str(vllm_versions.parse_version(engine_version))  # "v0.12.0" -> "0.12.0"
        version = vllm_versions.release(engine_version)
        same_as_installed = installed is not None and vllm_versions.release(installed.version) == version
        if distribution is None and installed is not None and same_as_installed:
            distribution = installed.distribution
        if version > vllm_versions.release(vllm_versions.NEWEST_KNOWN):
            warnings.append(
                f"vLLM {engine_version} is newer than the releases ropeguard knows (up to "
                f"{vllm_versions.NEWEST_KNOWN}); the plan assumes {vllm_versions.NEWEST_KNOWN}'s behaviour"
            )
    elif engine_version is None:
        engine_version = chosen_engine.default_version()

    rope: dict[str, Any] | None = None
    rope_by_layer_type: dict[str, Any] | None = None
    scaling: Scaling = "none"
    max_position: int | None = None
    attention_factor: float | None = None
    cache_positions: int | None = None
    factor = 1.0
    if target <= native:
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
        attention_factor = yarn_attention_factor(rope_factor, applied)
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
    if not memory.fits:
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
        kv_cache_dtype=kv_cache_dtype,
        quantization=quantization,
        distribution=distribution,
    )
    settings = chosen_engine.settings(request)
    warnings += settings.warnings
    notes += settings.notes

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
        warnings=warnings,
        notes=notes,
        engine=settings.engine,
        engine_version=settings.engine_version,
        engine_distribution=distribution if chosen_engine.name == "vllm" else None,
        p99_input_tokens=p99_input_tokens,
    )
