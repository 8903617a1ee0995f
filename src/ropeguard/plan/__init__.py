"""target -> settings: the rope override, the engine command, the memory plan and warnings.

`make_plan(spec, target, ...)` is the pure core (a ModelSpec in, a ContextPlan out). The package itself
is also callable, so that `ropeguard.plan("Qwen/Qwen3-8B", "128k")` reads the model (hub, folder or
ropeguard's registry) and plans it in one call; `plan_model` is the same function by name.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from ropeguard.lengths import parse_token_count
from ropeguard.models.reader import load_model_spec
from ropeguard.models.spec import ModelSpec
from ropeguard.plan.memory import MemoryPlan, plan_memory
from ropeguard.plan.planner import SCHEMA_VERSION, ContextPlan, make_plan

if TYPE_CHECKING:
    from ropeguard.models.spec import ModelSpec

__all__ = ["SCHEMA_VERSION", "ContextPlan", "MemoryPlan", "make_plan", "plan_memory", "plan_model"]


def plan_model(
    model: str | ModelSpec,
    target: int | str,
    *,
    native: int | str | None = None,
    offline: bool | None = None,
    engine: str = "vllm",
    engine_version: str | None = None,
    gpu: str | None = None,
    gpu_memory_gib: float | None = None,
    num_gpus: int | None = None,
    kv_cache_dtype: str = "auto",
    quantization: str | None = None,
    force: bool = False,
    p99_input_tokens: int | str | None = None,
) -> ContextPlan:
    """Read MODEL (a hub id, a folder, a config.json, or a ModelSpec) and plan it at `target` tokens.

    Token counts accept 131072 or "128k". Raises PlanRefused (exit 1) for a plan that would be wrong,
    UsageError / ModelConfigError (exit 2) for bad input.
    """

    if isinstance(model, ModelSpec):
        spec = model
        if native is not None:
            spec = spec.model_copy(
                update={
                    "native_context": parse_token_count(native, what="native context"),
                    "native_context_source": "given by the caller",
                }
            )
    else:
        spec = load_model_spec(
            model,
            native=parse_token_count(native, what="native context") if native is not None else None,
            offline=offline,
        )
    return make_plan(
        spec,
        parse_token_count(target, what="target"),
        engine=engine,
        engine_version=engine_version,
        gpu=gpu,
        gpu_memory_gib=gpu_memory_gib,
        num_gpus=num_gpus,
        kv_cache_dtype=kv_cache_dtype,
        quantization=quantization,
        force=force,
        p99_input_tokens=(
            parse_token_count(p99_input_tokens, what="p99 input length")
            if p99_input_tokens is not None
            else None
        ),
    )


class _CallablePackage(types.ModuleType):
    """`ropeguard.plan` is both this package and the function users call: calling it runs plan_model."""

    def __call__(self, model: str | ModelSpec, target: int | str, **options: Any) -> ContextPlan:
        return plan_model(model, target, **options)


sys.modules[__name__].__class__ = _CallablePackage
