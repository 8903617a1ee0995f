"""`ropeguard probe`: position-resolved perplexity of an endpoint or an in-process model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

import typer

from ropeguard.cli.app import app
from ropeguard.cli.options import parse_hf_overrides
from ropeguard.errors import UsageError
from ropeguard.lengths import parse_token_count, parse_token_counts


def _parse_region(text: str) -> tuple[int, int]:
    start, sep, end = text.partition(":")
    if not sep:
        raise UsageError(f"--baseline {text!r}: expected START:END, e.g. 512:1536")
    return parse_token_count(start, what="--baseline start"), parse_token_count(end, what="--baseline end")


@app.command("probe")
def probe_command(
    lengths: str = typer.Option(..., "--lengths", help="Lengths to score, e.g. 2048,4k,8k."),
    base_url: str | None = typer.Option(
        None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Served model name (default: the first listed) or, with --backend transformers, a model folder.",
    ),
    backend: str = typer.Option(
        "openai", "--backend", help="openai (a server) or transformers (in process)."
    ),
    hf_overrides: str | None = typer.Option(
        None, "--hf-overrides", help="JSON applied to the config before building the in-process model."
    ),
    document: Path | None = typer.Option(
        None, "--document", help="Text file to score (default: ropeguard's filler)."
    ),
    haystack: str = typer.Option(
        "natural", "--haystack", help="Filler style when no --document: natural or noise."
    ),
    seed: int = typer.Option(0, "--seed", help="Filler seed."),
    bucket: int = typer.Option(256, "--bucket", help="Tokens per position bucket."),
    baseline: str = typer.Option(
        "512:1536", "--baseline", help="In-window baseline region START:END (tokens)."
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Rise (nats) above the baseline that counts as degradation (default: max(0.05, 4 x noise)).",
    ),
    method: str = typer.Option(
        "auto", "--method", help="auto, prompt_logprobs (vLLM) or echo (completions echo + logprobs)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Run directory for probe.json."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON document."),
) -> None:
    """Score a long document at each length; say where the NLL rises above the in-window baseline."""
    from ropeguard.probe import probe

    if backend not in ("openai", "transformers"):
        raise UsageError(f"--backend {backend!r}: choose openai or transformers")
    if method not in ("auto", "prompt_logprobs", "echo"):
        raise UsageError(f"--method {method!r}: choose auto, prompt_logprobs or echo")
    if document is not None and not document.is_file():
        raise UsageError(f"--document {document}: no such file")
    if base_url is not None:
        from ropeguard import validation

        validation.base_url(base_url)
    result = probe(
        parse_token_counts(lengths, what="--lengths"),
        base_url=base_url,
        model=model,
        backend=cast(Literal["openai", "transformers"], backend),
        hf_overrides=parse_hf_overrides(hf_overrides),
        document=document,
        haystack=haystack,
        seed=seed,
        bucket=bucket,
        baseline_region=_parse_region(baseline),
        threshold=threshold,
        method=cast(Literal["auto", "prompt_logprobs", "echo"], method),
        out=out,
    )
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    from ropeguard.reports.terminal_probe import render_probe_text

    typer.echo(render_probe_text(result))
    if out is not None:
        typer.echo(f"wrote {out / 'probe.json'}")
