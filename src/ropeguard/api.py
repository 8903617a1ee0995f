"""ropeguard's public functions: what `inspect`, `plan`, `lint` and `doctor` do, callable from Python.

    import ropeguard
    spec = ropeguard.inspect_model("Qwen/Qwen3-8B")           # ModelSpec
    plan = ropeguard.plan_model("Qwen/Qwen3-8B", "128k")      # ContextPlan
    findings = ropeguard.lint_paths(["deploy/"])              # list[Finding]
    report = ropeguard.run_doctor()                           # DoctorReport

These are the edges of the library: they read model configs (files, the Hugging Face cache or hub,
ropeguard's registry) and look up the installed stack, then call the pure core (`make_plan`) with
what they found. The top-level package re-exports them lazily, so `import ropeguard` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from ropeguard.errors import ServerGone
from ropeguard.lengths import parse_token_count
from ropeguard.models.reader import load_model_spec
from ropeguard.models.spec import ModelSpec

if TYPE_CHECKING:
    from ropeguard.doctor import DoctorReport
    from ropeguard.evals.config import EvalConfig
    from ropeguard.evals.results import Run
    from ropeguard.lint import Finding
    from ropeguard.plan import ContextPlan
    from ropeguard.serve import Server

__all__ = ["inspect_model", "lint_paths", "plan_model", "run_doctor"]


def _native(native: int | str | None) -> int | None:
    return parse_token_count(native, what="native context") if native is not None else None


def inspect_model(model: str, *, native: int | str | None = None, offline: bool | None = None) -> ModelSpec:
    """Read MODEL (hub id, local folder or config.json path) into a ModelSpec.

    For an id: the Hugging Face cache first, then the hub (unless offline), then ropeguard's registry.
    native: override the native context (`--native`); offline: never touch the network (None follows
    HF_HUB_OFFLINE). Raises ModelConfigError / UnsupportedLayoutError.
    """
    return load_model_spec(model, native=_native(native), offline=offline)


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
    gpus_per_node: int | None = None,
    nodes: int | None = None,
    expert_parallel: bool = False,
    multi_node_backend: Literal["auto", "ray", "mp"] = "auto",
    installed: Mapping[str, str] | None = None,
) -> ContextPlan:
    """Read MODEL (a hub id, a folder, a config.json, or a ModelSpec) and plan it at `target` tokens.

    Token counts accept 131072 or "128k". Without `engine_version` the plan is for the engine
    installed here (`installed`: distribution -> version; None looks it up from package metadata).
    Raises PlanRefused (exit 1) for a plan that would be wrong, UsageError / ModelConfigError (exit 2)
    for bad input.
    """
    # Lazy, so that `ropeguard inspect`, which imports this module, loads neither the planner (its
    # five pydantic models) nor the metadata lookup.
    from ropeguard.engines.installed import installed_packages
    from ropeguard.plan import make_plan

    if isinstance(model, ModelSpec):
        spec = model
        if native is not None:
            spec = spec.model_copy(
                update={"native_context": _native(native), "native_context_source": "given by the caller"}
            )
    else:
        spec = load_model_spec(model, native=_native(native), offline=offline)
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
        gpus_per_node=gpus_per_node,
        nodes=nodes,
        expert_parallel=expert_parallel,
        multi_node_backend=multi_node_backend,
        installed=installed_packages() if installed is None else installed,
    )


def lint_paths(
    paths: list[str] | str,
    *,
    engine_version: str | None = None,
    offline: bool | None = None,
    model_config: str | None = None,
) -> list[Finding]:
    """Lint deployment files (folders are walked) and return the findings, most severe first.

    `ropeguard.lint.lint_report` also returns the notes about skipped files and the edits behind `--fix`.
    """
    # Lazy, so that `ropeguard plan` and `inspect`, which import this module, do not load lint.
    from ropeguard.lint import lint

    return lint(paths, engine_version=engine_version, offline=offline, model_config=model_config)


def run_doctor(*, probe_cuda: bool = True, versions: Mapping[str, str | None] | None = None) -> DoctorReport:
    """The installed serving stack and its known-bad version combinations (`versions` overrides the
    installed ones, to check a stack you do not have)."""
    # Lazy, so that `ropeguard plan` and `inspect`, which import this module, do not load doctor.
    from ropeguard.doctor import doctor

    return doctor(probe_cuda=probe_cuda, versions=versions)


def eval_on_server(server: Server, config: EvalConfig) -> Run:
    """The eval against a server we started: if it stops answering, say how the server died."""
    # Lazy, like lint_paths: `plan` and `inspect` go through this module and need no eval code.
    from ropeguard.evals import run

    try:
        return run(config)
    except ServerGone as gone:
        raise server.explain(gone) from None
