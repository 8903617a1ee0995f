"""What to start: a `LaunchSpec` (built from a plan, or by hand) and the `Launch` (argv + env) it becomes.

The plan is the single source of truth for the rope override and the max length; this module only adds
where to listen, how to start vLLM in this environment (see runtime.py) and the parallel layout, and
refuses extra engine args that would silently contradict what was planned.
"""

from __future__ import annotations

import json
import shlex
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ropeguard import validation
from ropeguard.engines.argv import flag_groups, is_flag
from ropeguard.errors import UsageError
from ropeguard.redaction import REDACTED
from ropeguard.serve.runtime import Runtime

# Flags whose value ropeguard decides; an extra engine arg naming one of them is a conflict.
OWNED_FLAGS: frozenset[str] = frozenset(
    {
        "--model",
        "--host",
        "--port",
        "--max-model-len",
        "--hf-overrides",
        "--tensor-parallel-size",
        "--pipeline-parallel-size",
        "--data-parallel-size",
        "--distributed-executor-backend",
        "--nnodes",
        "--node-rank",
        "--master-addr",
        "--served-model-name",
        "--headless",
    }
)
# Short spellings vLLM accepts for some of them.
FLAG_ALIASES: dict[str, str] = {"-tp": "--tensor-parallel-size", "-pp": "--pipeline-parallel-size"}
# Flags that never go into a printed command with their value.
SECRET_FLAGS: frozenset[str] = frozenset({"--api-key", "--hf-token"})
SECRET_ENV_WORDS: tuple[str, ...] = ("TOKEN", "KEY", "SECRET", "PASSWORD")


class PlanLike(Protocol):
    """The parts of a `ropeguard.plan.ContextPlan` that serving reads."""

    @property
    def model(self) -> str: ...
    @property
    def target_context(self) -> int: ...
    @property
    def hf_overrides(self) -> dict[str, Any] | None: ...
    @property
    def command(self) -> list[str]: ...
    @property
    def env(self) -> dict[str, str]: ...


class LaunchSpec(BaseModel):
    """Everything that decides one vLLM launch."""

    model_config = ConfigDict(extra="forbid")

    model: str
    max_model_len: int | None = None
    hf_overrides: dict[str, Any] | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    served_model_name: str | None = None
    tensor_parallel_size: int = Field(1, ge=1)
    pipeline_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)
    # Multi-node: "ray" (a Ray cluster started beforehand) or "mp" with nnodes/node_rank/master_addr.
    distributed_executor_backend: str | None = None
    nnodes: int = Field(1, ge=1)
    node_rank: int = Field(0, ge=0)
    master_addr: str | None = None
    # Other planned engine args (e.g. --kv-cache-dtype fp8), then the user's extra ones.
    planned_args: list[str] = Field(default_factory=list)
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    # vllm-cpu only: GiB of KV cache (VLLM_CPU_KVCACHE_SPACE).
    cpu_kv_cache_gib: float | None = None
    # vllm-cpu only: the cores its engine threads are pinned to ("0", "2-3"); None: vLLM's choice.
    cpu_cores: str | None = None
    # Plan numbers quoted by failure messages (KV bytes at the target, weights, GPUs needed...).
    memory: dict[str, Any] = Field(default_factory=dict)


class Launch(BaseModel):
    """The exact process to start."""

    model_config = ConfigDict(extra="forbid")

    argv: list[str]
    env: dict[str, str]  # only what ropeguard sets on top of the inherited environment

    def shell(self) -> str:
        """The command that reproduces this launch, secrets redacted."""
        words: list[str] = []
        hiding = False  # vLLM takes several keys after one --api-key: hide up to the next flag
        for word in self.argv:
            if hiding and canonical_flag(word) is None:
                words.append(REDACTED)
                continue
            hiding = False
            flag, eq, _ = word.partition("=")
            if canonical_flag(flag) in SECRET_FLAGS:
                if eq:
                    words.append(f"{flag}={REDACTED}")
                else:
                    words.append(word)
                    hiding = True
                continue
            words.append(word)
        prefix = [f"{name}={_env_value(name, value)}" for name, value in sorted(self.env.items())]
        return shlex.join([*prefix, *words])


def secret_values(argv: list[str]) -> list[str]:
    """The values given to --api-key / --hf-token in an argv (`--api-key K`, `--api-key=K`, and the
    several keys vLLM accepts after one `--api-key`)."""
    values: list[str] = []
    for piece in split_flags(argv):
        flag, eq, value = piece[0].partition("=")
        if canonical_flag(flag) in SECRET_FLAGS:
            values.extend([value] if eq else piece[1:])
    return values


def api_key_of(launch: Launch, environ: dict[str, str]) -> str | None:
    """The key a launched vLLM requires on /v1: the first value of the last `--api-key` (argparse
    keeps only the last of a repeated flag), else VLLM_API_KEY (from the launch's env over the
    inherited one); vLLM's own precedence (--api-key wins)."""
    for piece in reversed(split_flags(launch.argv)):
        flag, eq, value = piece[0].partition("=")
        if canonical_flag(flag) == "--api-key":
            keys = [value] if eq else piece[1:]
            if keys and keys[0]:
                return keys[0]
    return launch.env.get("VLLM_API_KEY") or environ.get("VLLM_API_KEY") or None


def is_secret_env(name: str) -> bool:
    """An environment variable whose value is never printed (and is redacted wherever it shows)."""
    return any(word in name.upper() for word in SECRET_ENV_WORDS)


def _env_value(name: str, value: str) -> str:
    return REDACTED if is_secret_env(name) else value


def canonical_flag(word: str) -> str | None:
    """`--max_model_len=8` -> `--max-model-len`; None for a value (not a flag)."""
    if not is_flag(word):
        return None
    name = word.split("=", 1)[0]
    name = FLAG_ALIASES.get(name, name)
    if name.startswith("--"):
        name = "--" + name[2:].replace("_", "-")
    return name


def split_flags(args: list[str]) -> list[list[str]]:
    """Group an engine-arg list into [flag, value?] pieces (values never start with `--`)."""
    return flag_groups(args)


def _planned_extras(command: list[str]) -> list[str]:
    """The plan's engine flags that serving does not set itself (e.g. --kv-cache-dtype fp8)."""
    start = next((i for i, word in enumerate(command) if word.startswith("--")), len(command))
    kept: list[str] = []
    for piece in split_flags(command[start:]):
        flag = canonical_flag(piece[0])
        if flag is None or flag in OWNED_FLAGS or flag == "--gpu-memory-utilization":
            continue
        kept.extend(piece)
    return kept


def _memory_dict(plan: Any) -> dict[str, Any]:
    memory = getattr(plan, "memory", None)
    if memory is None:
        return {}
    if isinstance(memory, BaseModel):
        return memory.model_dump(mode="json")
    return dict(memory) if isinstance(memory, dict) else {}


def spec_from_plan(
    plan: PlanLike,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    tensor_parallel_size: int | None = None,
    pipeline_parallel_size: int | None = None,
    data_parallel_size: int | None = None,
    distributed_executor_backend: str | None = None,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str | None = None,
    extra_args: list[str] | None = None,
    cpu_kv_cache_gib: float | None = None,
    served_model_name: str | None = None,
) -> LaunchSpec:
    """A launch of `plan` (parallel sizes from its memory plan unless given)."""
    # Options are checked here, before any command is built: 0 must not quietly mean "the default".
    validation.port(port)
    for flag, size in (
        ("--tensor-parallel-size", tensor_parallel_size),
        ("--pipeline-parallel-size", pipeline_parallel_size),
        ("--data-parallel-size", data_parallel_size),
    ):
        if size is not None:
            validation.as_int(size, flag, minimum=1, maximum=validation.MAX_GPUS)
    validation.as_int(nnodes, "--nnodes", minimum=1, maximum=validation.MAX_GPUS)
    validation.as_int(node_rank, "--node-rank", minimum=0, maximum=nnodes - 1)
    if cpu_kv_cache_gib is not None:
        validation.as_float(
            cpu_kv_cache_gib, "--cpu-kv-cache-gib", positive=True, maximum=validation.MAX_GPU_MEMORY_GIB
        )
    if distributed_executor_backend not in (None, "mp", "ray"):
        backend = validation.shown(distributed_executor_backend)
        raise UsageError(f"--distributed-executor-backend {backend} is not mp or ray")
    memory = _memory_dict(plan)
    tp = tensor_parallel_size or int(memory.get("tensor_parallel_size") or 1)
    # A plan that spans nodes carries its pipeline split in `layout` (plan/layout.py).
    layout = getattr(plan, "layout", None)
    planned_pp = getattr(layout, "pipeline_parallel", None) or memory.get("pipeline_parallel_size")
    return LaunchSpec(
        model=plan.model,
        max_model_len=plan.target_context,
        hf_overrides=plan.hf_overrides,
        host=host,
        port=port,
        served_model_name=served_model_name,
        tensor_parallel_size=tp,
        pipeline_parallel_size=pipeline_parallel_size or int(planned_pp or 1),
        data_parallel_size=data_parallel_size or 1,
        distributed_executor_backend=distributed_executor_backend
        or (getattr(layout, "backend", None) if nnodes > 1 else None),
        nnodes=nnodes,
        node_rank=node_rank,
        master_addr=master_addr,
        planned_args=_planned_extras(list(plan.command)),
        extra_args=list(extra_args or []),
        env=dict(plan.env),
        cpu_kv_cache_gib=cpu_kv_cache_gib,
        memory=memory,
    )


def check_conflicts(spec: LaunchSpec) -> None:
    """Refuse extra engine args that set what the plan (or ropeguard) already set."""
    decided = {flag for flag in OWNED_FLAGS}
    decided |= {f for piece in split_flags(spec.planned_args) if (f := canonical_flag(piece[0]))}
    for piece in split_flags(spec.extra_args):
        flag = canonical_flag(piece[0])
        if flag is None:
            raise UsageError(
                f"extra engine argument {piece[0]!r} is not a flag",
                hint="pass extra vLLM flags after `--`, each as --flag [value]",
            )
        if flag in decided:
            raise UsageError(
                f"extra engine argument {flag} conflicts with the planned launch, which sets it already",
                hint=_conflict_hint(flag),
            )


def _conflict_hint(flag: str) -> str:
    options = {
        "--max-model-len": "change the length with --target",
        "--hf-overrides": "the rope override comes from the plan; change it with the plan options",
        "--host": "use --host",
        "--port": "use --port",
        "--model": "give the model as the first argument",
        "--tensor-parallel-size": "use --tensor-parallel-size",
        "--pipeline-parallel-size": "use --pipeline-parallel-size",
        "--data-parallel-size": "use --data-parallel-size",
    }
    return options.get(flag, "drop it from the extra args, or change the plan option that sets it")


def build_launch(spec: LaunchSpec, runtime: Runtime | None = None) -> Launch:
    """The argv and environment for `spec` in this environment. Never mutates its inputs."""
    check_conflicts(spec)
    runtime = runtime or Runtime.detect()
    argv = runtime.launcher(spec.model)
    argv += ["--host", spec.host, "--port", str(spec.port)]
    if spec.served_model_name:
        argv += ["--served-model-name", spec.served_model_name]
    if spec.max_model_len is not None:
        argv += ["--max-model-len", str(spec.max_model_len)]
    if spec.hf_overrides:
        argv += ["--hf-overrides", json.dumps(spec.hf_overrides, separators=(", ", ": "))]
    if spec.tensor_parallel_size > 1:
        argv += ["--tensor-parallel-size", str(spec.tensor_parallel_size)]
    if spec.pipeline_parallel_size > 1:
        argv += ["--pipeline-parallel-size", str(spec.pipeline_parallel_size)]
    if spec.data_parallel_size > 1:
        argv += ["--data-parallel-size", str(spec.data_parallel_size)]
    backend = spec.distributed_executor_backend
    if backend is None and spec.nnodes > 1:
        backend = "ray"
    if backend is not None:
        argv += ["--distributed-executor-backend", backend]
    if spec.nnodes > 1 and backend == "mp":
        # vLLM's own multi-node launcher: the same command on every node, each with its rank.
        argv += ["--nnodes", str(spec.nnodes), "--node-rank", str(spec.node_rank)]
        if spec.master_addr:
            argv += ["--master-addr", spec.master_addr]
        if spec.node_rank > 0:
            # Only node 0 runs the API server; the others host engine workers.
            argv += ["--headless"]
    cpu_args, cpu_env = runtime.cpu_defaults(spec.cpu_kv_cache_gib, spec.cpu_cores)
    user_flags = {canonical_flag(p[0]) for p in split_flags([*spec.planned_args, *spec.extra_args])}
    if "--gpu-memory-utilization" in user_flags:
        cpu_args = []
    argv += cpu_args
    argv += spec.planned_args
    argv += spec.extra_args
    env = {**cpu_env, **spec.env}
    return Launch(argv=argv, env=env)


def is_headless(spec: LaunchSpec) -> bool:
    """A worker node of a multi-node `mp` launch: no HTTP API to wait for."""
    return spec.nnodes > 1 and spec.node_rank > 0 and spec.distributed_executor_backend == "mp"


def suggested_tensor_parallel(needed_gib: float, available_gib: float, current: int) -> int:
    """The smallest power-of-two tensor parallel size whose KV memory covers `needed_gib`."""
    if available_gib <= 0:
        return current * 2
    ratio = needed_gib / available_gib * current
    size = 1
    while size < ratio:
        size *= 2
    return max(size, current * 2 if ratio > current else current)
