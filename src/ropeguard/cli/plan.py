"""`ropeguard plan MODEL --target N`: the settings, the command or an artifact, memory and warnings."""

from __future__ import annotations

import typer

from ropeguard.cli.app import app
from ropeguard.cli.options import JSON_OPTION, NATIVE_OPTION, OFFLINE_OPTION, native_tokens, offline_flag
from ropeguard.errors import UsageError


@app.command("plan")
def plan_command(
    model: str = typer.Argument(..., help="Hugging Face id, model folder, or config.json path."),
    target: str = typer.Option(..., "--target", help="Context length to serve: 131072, 128k."),
    engine: str = typer.Option("vllm", "--engine", help="vllm, sglang, llama.cpp or transformers."),
    engine_version: str | None = typer.Option(
        None,
        "--engine-version",
        help="Engine version to plan for (default: the installed vLLM, else the newest known).",
    ),
    gpu: str | None = typer.Option(
        None, "--gpu", help="GPU kind: h100-80gb, h200, a100-40gb, a100-80gb, a10g, l4, l40s, mi300x."
    ),
    gpu_memory: float | None = typer.Option(
        None, "--gpu-memory", help="GPU memory in GiB (instead of --gpu)."
    ),
    num_gpus: int | None = typer.Option(
        None, "--num-gpus", help="GPUs available (default: as many as needed)."
    ),
    gpus_per_node: int | None = typer.Option(
        None, "--gpus-per-node", help="GPUs in one node (default: 8, the H100/H200/A100/MI300X board)."
    ),
    nodes: int | None = typer.Option(
        None, "--nodes", help="Nodes available (default: what one replica needs); extra replicas are DP."
    ),
    expert_parallel: bool = typer.Option(
        False, "--expert-parallel", help="MoE models: --enable-expert-parallel (whole experts per GPU)."
    ),
    multi_node_backend: str = typer.Option(
        "auto", "--multi-node-backend", help="How nodes are joined: auto (mp where vLLM has it), ray, mp."
    ),
    kv_cache_dtype: str = typer.Option("auto", "--kv-cache-dtype", help="auto or fp8."),
    quantization: str | None = typer.Option(
        None, "--quantization", help="Weight quantization: fp8, awq, gptq..."
    ),
    native: str | None = NATIVE_OPTION,
    p99_input: str | None = typer.Option(None, "--p99-input", help="p99 input length of your traffic."),
    force: bool = typer.Option(False, "--force", help="Plan YaRN even over the model's own scaling."),
    emit: str | None = typer.Option(
        None, "--emit", help="Write an artifact: shell, json, k8s, kuberay, compose, requirements."
    ),
    offline: bool = OFFLINE_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Work out the RoPE/YaRN settings, the serve command and the memory plan for a target context."""
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.api import plan_model

    if multi_node_backend not in ("auto", "ray", "mp"):
        raise UsageError(
            f"unknown --multi-node-backend {multi_node_backend!r}", hint="choose auto, ray or mp"
        )
    if json_output and emit not in (None, "json"):
        raise UsageError("--json and --emit cannot be combined", hint="use --emit json, or --json alone")
    plan = plan_model(
        model,
        target,
        native=native_tokens(native),
        offline=offline_flag(offline),
        engine=engine,
        engine_version=engine_version,
        gpu=gpu,
        gpu_memory_gib=gpu_memory,
        num_gpus=num_gpus,
        kv_cache_dtype=kv_cache_dtype,
        quantization=quantization,
        force=force,
        p99_input_tokens=p99_input,
        gpus_per_node=gpus_per_node,
        nodes=nodes,
        expert_parallel=expert_parallel,
        multi_node_backend=multi_node_backend,  # type: ignore[arg-type]
    )
    if json_output or emit == "json":
        typer.echo(plan.model_dump_json(indent=2))
        return
    if emit is not None:
        # Lazy: `--help` imports every command module; this command's library loads only when it runs.
        from ropeguard.plan.emit import emit as emit_artifact

        typer.echo(emit_artifact(plan, emit), nl=False)
        return
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.plan.summary import render_dimension_table, render_plan

    typer.echo(render_plan(plan, table=render_dimension_table(plan)), nl=False)
