"""`ropeguard certify MODEL --target N [--gate LEN:MIN ...]`: serve, measure, compare, report, gate."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ropeguard.cli import interrupt_says_where, print_out
from ropeguard.cli.app import app
from ropeguard.cli.options import parse_depths, parse_gates
from ropeguard.cli.serve import (
    CPU_KV,
    ENGINE_VERSION,
    FORCE,
    GPU,
    GPU_MEMORY,
    KV_CACHE_DTYPE,
    NATIVE,
    NUM_GPUS,
    OFFLINE,
    QUANTIZATION,
    PlanOptions,
)
from ropeguard.lengths import parse_token_counts


@app.command("certify", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def certify_command(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Hugging Face id, model folder, or config.json path."),
    target: str = typer.Option(..., "--target", help="Context length to certify: 131072, 128k."),
    gate: list[str] = typer.Option(
        [], "--gate", help="LEN:MIN_RECALL, repeatable (default: 0.9 at every grid length)."
    ),
    no_baseline: bool = typer.Option(
        False, "--no-baseline", help="Skip the unscaled baseline (the short-input cost check)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Folder for runs, logs and the report."),
    lengths: str | None = typer.Option(None, "--lengths", help="Grid lengths (default: powers of two)."),
    depths: str | None = typer.Option(None, "--depths", help="Needle depths, e.g. 0,0.25,0.5,0.75,1."),
    trials: int = typer.Option(4, "--trials", help="Most rounds over the depths per length."),
    task: str = typer.Option("passkey", "--task", help="Eval task."),
    seed: int = typer.Option(0, "--seed", help="Seed of the prompts."),
    no_think: bool = typer.Option(False, "--no-think", help="Send enable_thinking=false (Qwen3 and alike)."),
    json_output: bool = typer.Option(False, "--json", help="Print the certificate as one JSON document."),
    native: str | None = NATIVE,
    engine_version: str | None = ENGINE_VERSION,
    gpu: str | None = GPU,
    gpu_memory: float | None = GPU_MEMORY,
    num_gpus: int | None = NUM_GPUS,
    kv_cache_dtype: str = KV_CACHE_DTYPE,
    quantization: str | None = QUANTIZATION,
    force: bool = FORCE,
    offline: bool = OFFLINE,
    cpu_kv_cache_gib: float | None = CPU_KV,
    # Not serve's READY_TIMEOUT (default 900): None says "not given", which --base-url needs to know.
    ready_timeout: float | None = typer.Option(
        None, "--ready-timeout", help="Seconds to wait for each server to be ready (default 900)."
    ),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        help="Certify the deployment at this URL (ending in /v1) against the plan; no server is started.",
    ),
    baseline_url: str | None = typer.Option(
        None, "--baseline-url", help="With --base-url: an unscaled deployment of the model, for the baseline."
    ),
    probe: bool = typer.Option(
        False,
        "--probe",
        help="Also probe the NLL per position at the target (gate: perplexity to the target).",
    ),
    max_nll_rise: float | None = typer.Option(
        None,
        "--max-nll-rise",
        metavar="NATS",
        help="With --probe: the largest NLL rise over the baseline allowed.",
    ),
) -> None:
    """Serve MODEL as planned, run the recall grid (and an unscaled baseline), report; exit 1 below a gate.

    Extra vLLM flags go after `--` (both servers get them); flags the plan sets are refused there.
    With --base-url the deployment there is certified instead (its max_model_len must be the target);
    the API key comes from ROPEGUARD_API_KEY or OPENAI_API_KEY.
    """
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.certify import certify, check_endpoint_options, check_probe_options, render_certificate

    engine_args = list(ctx.args)
    check_probe_options(probe, max_nll_rise)
    check_endpoint_options(base_url, baseline_url, engine_args, cpu_kv_cache_gib, ready_timeout)
    options = PlanOptions(
        native, engine_version, gpu, gpu_memory, num_gpus, kv_cache_dtype, quantization, force, offline
    )
    plan = options.plan(model, target)
    with interrupt_says_where():
        certificate = certify(
            model,
            plan.target_context,
            plan=plan,
            gates=parse_gates(gate) or None,
            baseline=not no_baseline,
            out_dir=out,
            lengths=parse_token_counts(lengths) if lengths else None,
            depths=parse_depths(depths) if depths else None,
            trials=trials,
            seed=seed,
            task=task,
            no_think=no_think,
            cpu_kv_cache_gib=cpu_kv_cache_gib,
            engine_args=engine_args,
            ready_timeout=ready_timeout,
            progress=not json_output,
            base_url=base_url,
            baseline_url=baseline_url,
            probe=probe,
            max_nll_rise=max_nll_rise,
        )
    if json_output:
        print_out(json.dumps(certificate.model_dump(mode="json"), indent=2))
    else:
        print_out(render_certificate(certificate), nl=False)
    if not certificate.passed:
        raise typer.Exit(1)
