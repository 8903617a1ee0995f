"""`ropeguard eval`: a recall grid against an endpoint (or an in-process model).

Exit codes: 0 every grid trial has a result and none ended in `error`; 1 a gate failed, or trials
ended in `error`, or the grid is incomplete (`--allow-errors` makes the last two 0); 2 bad input, an
unreachable server, or a server that stopped answering; 130 Ctrl-C. Results so far are kept in --out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from ropeguard import validation
from ropeguard.cli import interrupt_says_where, print_out, print_warning
from ropeguard.cli.app import app
from ropeguard.cli.options import parse_depths, parse_gates, parse_hf_overrides
from ropeguard.errors import UsageError
from ropeguard.lengths import parse_token_counts


def _config_error(error: Exception) -> UsageError:
    """A pydantic validation error, reported against the option that caused it."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "options"
        option = "--" + where.replace("_", "-") if where != "options" else "options"
        return UsageError(f"{option}: {first['msg']}")
    return UsageError(str(error))


@app.command("eval")
def eval_command(
    lengths: str = typer.Option(..., "--lengths", help="Context lengths, e.g. 1k,2k,4k,8k (k = 1024)."),
    base_url: list[str] | None = typer.Option(
        None,
        "--base-url",
        help="Server URL ending in /v1 (repeat for replicas).",
    ),
    model: str | None = typer.Option(
        None, "--model", help="Served model name (default: the first served), or a folder/hub id in process."
    ),
    backend: str = typer.Option(
        "openai", "--backend", help="openai (a server) or transformers (in process)."
    ),
    hf_overrides: str | None = typer.Option(
        None, "--hf-overrides", help="JSON applied to the config before the in-process model is built."
    ),
    depths: str | None = typer.Option(None, "--depths", help="Needle depths 0..1 (default 0,0.1,...,1)."),
    trials: int = typer.Option(3, "--trials", help="Trials per (length, depth) cell."),
    task: str = typer.Option("passkey", "--task", help="passkey, niah-single, niah-multikey, ..."),
    seed: int = typer.Option(0, "--seed", help="Seed of the haystack and the needles."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default runs/<timestamp>)."),
    concurrency: int | None = typer.Option(None, "--concurrency", help="Requests in flight (default 8)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
    adaptive: bool = typer.Option(
        False, "--adaptive", help="Sequential test per length and bisection: fewest tokens for a verdict."
    ),
    gate: list[str] | None = typer.Option(
        None, "--gate", help="LEN:MIN_RECALL (repeatable); exit 1 if a gate fails."
    ),
    threshold: float = typer.Option(0.9, "--threshold", help="Accuracy that defines the effective context."),
    gate_test: str = typer.Option(
        "exact",
        "--gate-test",
        help="exact (bounds against the gate), sprt (also stops early on a pass; indifference zone) "
        "or tuned (sprt with thresholds tuned to the budget: stops soonest, no worse error rates).",
    ),
    indifference: float = typer.Option(
        0.2, "--indifference", help="sprt, tuned: recall <= gate - this is what a pass rules out."
    ),
    tokenizer: str | None = typer.Option(
        None, "--tokenizer", help="Local tokenizer (folder or hub id) when the server has no /tokenize."
    ),
    haystack: str = typer.Option("noise", "--haystack", help="Filler style: noise or natural."),
    haystack_file: Path | None = typer.Option(None, "--haystack-file", help="Use this text as filler."),
    mode: str = typer.Option("chat", "--mode", help="chat (server-side template) or completion (raw text)."),
    no_think: bool = typer.Option(False, "--no-think", help="Send enable_thinking=false (Qwen3 and alike)."),
    thinking_budget: int | None = typer.Option(
        None, "--thinking-budget", help="Extra max_tokens for reasoning before the answer."
    ),
    native: str | None = typer.Option(
        None,
        "--native",
        help="The model's native window (e.g. 8k): the summary says if recall fails inside it.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON document."),
    allow_errors: bool = typer.Option(
        False,
        "--allow-errors",
        help="Exit 0 even when trials ended in `error` or the grid is incomplete (gates still count).",
    ),
) -> int:
    """Measure recall over a length x depth grid, with intervals and the effective context.

    Exit 0: every grid trial has a result, none an `error`. Exit 1: a --gate failed, or trials ended
    in `error` (no answer after the retries) or the grid is incomplete, unless --allow-errors. Exit 2:
    bad input, or the server is unreachable or stopped answering. Exit 130: Ctrl-C. Finished trials
    stay in --out either way; --resume continues.
    """
    from pydantic import ValidationError

    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.evals import EvalConfig, run

    if backend not in ("openai", "transformers"):
        raise UsageError(f"--backend {backend!r}: choose openai or transformers")
    if backend == "openai" and not base_url:
        raise UsageError("give --base-url (or --backend transformers --model PATH)")
    if backend == "transformers" and not model:
        raise UsageError("--backend transformers needs --model PATH")
    if mode not in ("chat", "completion"):
        raise UsageError(f"--mode {mode!r}: choose chat or completion")
    if haystack not in ("noise", "natural"):
        raise UsageError(f"--haystack {haystack!r}: choose noise or natural (or --haystack-file)")
    if gate_test not in ("exact", "sprt", "tuned"):
        raise UsageError(f"--gate-test {gate_test!r}: choose exact, sprt or tuned")
    for url in base_url or []:
        validation.base_url(url)
    gates = parse_gates(gate or [])
    extra: dict[str, object] = {}
    if depths is not None:
        extra["depths"] = parse_depths(depths)
    try:
        config = EvalConfig(
            **extra,
            base_urls=list(base_url or []),
            model=model,
            backend=backend,
            hf_overrides=parse_hf_overrides(hf_overrides),
            lengths=parse_token_counts(lengths, what="--lengths"),
            trials=trials,
            task=task,
            seed=seed,
            haystack="file" if haystack_file else haystack,
            haystack_file=haystack_file,
            mode=mode,
            no_think=no_think,
            thinking_budget=thinking_budget,
            tokenizer=tokenizer,
            concurrency=concurrency,
            out_dir=out,
            resume=resume,
            progress=not as_json and sys.stderr.isatty(),
            adaptive=adaptive or bool(gates),
            gates=gates or None,
            threshold=threshold,
            gate_test=gate_test,
            indifference=indifference,
            native_context=parse_token_counts(native, what="--native")[0] if native else None,
        )
    except (ValidationError, ValueError) as error:
        raise _config_error(error) from None
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.evals.tasks import task_names

    if task not in task_names():
        raise UsageError(f"--task {task!r} is not a task", hint=f"choose one of: {', '.join(task_names())}")
    with interrupt_says_where():
        result = run(config)
    summary = result.summary
    print_warning(result.skipped_warning)
    if as_json:
        print_out(json.dumps(summary.to_json()))
    else:
        from rich.console import Console
        from rich.markup import escape

        # Lazy: `--help` imports every command module; this command's library loads only when it runs.
        from ropeguard.reports.narrative import served_mismatch
        from ropeguard.reports.terminal import render_grid

        console = Console()
        console.print(render_grid(summary, width=min(console.width, 100)))
        headline = served_mismatch(summary, result.info.server.max_model_len)
        if headline is not None:
            console.print(f"[bold yellow]warning:[/] {escape(headline)}", highlight=False)
        console.print(
            f"{summary.trials} trials, {summary.prompt_tokens_sent:,} prompt tokens, "
            f"{summary.wall_seconds:.1f} s; results in {result.directory}"
        )
    gate_failed = bool(summary.gates) and any(
        v.verdict == "fail" or (v.verdict == "undecided" and (v.n == 0 or v.correct / v.n < v.gate))
        for v in summary.gates or []
        if config.gates and v.length in config.gates
    )
    problem = result.incompleteness()
    if problem is not None:
        print_warning(
            f"{problem}; the run in {result.directory} is not complete"
            + (" (--allow-errors: exit 0 anyway)" if allow_errors else " (exit 1; --resume retries them)")
        )
    if gate_failed or (problem is not None and not allow_errors):
        return 1
    return 0
