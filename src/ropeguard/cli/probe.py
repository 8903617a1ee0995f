"""`ropeguard probe`: position-resolved perplexity of an endpoint or an in-process model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

import typer

from ropeguard import validation
from ropeguard.cli import interrupt_says_where, print_out
from ropeguard.cli.app import app
from ropeguard.cli.options import native_tokens, parse_hf_overrides
from ropeguard.errors import Interrupted, UsageError
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
    device: str | None = typer.Option(
        None, "--device", help="With --backend transformers: cpu, cuda, cuda:1 ... (default: cuda if there)."
    ),
    document: Path | None = typer.Option(
        None, "--document", help="Text file to score (default: ropeguard's filler)."
    ),
    haystack: str = typer.Option(
        "natural", "--haystack", help="Filler style when no --document: natural or noise."
    ),
    seed: int = typer.Option(0, "--seed", help="Filler seed."),
    bucket: int = typer.Option(256, "--bucket", help="Tokens per position bucket."),
    baseline: str | None = typer.Option(
        None,
        "--baseline",
        help="In-window baseline region START:END (tokens); default: from the first bucket boundary at "
        "or past 512, 2+ buckets and 1024+ tokens, ending inside the native window (512:1536 for 256).",
    ),
    native: str | None = typer.Option(
        None,
        "--native",
        metavar="N",
        help="The native window the model claims (default in process: its config's). The baseline "
        "stays inside it; the probe says when the perplexity rises well before it.",
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
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.probe import probe

    if backend not in ("openai", "transformers"):
        raise UsageError(f"--backend {backend!r}: choose openai or transformers")
    if method not in ("auto", "prompt_logprobs", "echo"):
        raise UsageError(f"--method {method!r}: choose auto, prompt_logprobs or echo")
    if device is not None and backend != "transformers":
        raise UsageError("--device applies to --backend transformers only (a server has its own)")
    if document is not None and not document.is_file():
        raise UsageError(f"--document {document}: no such file")
    if base_url is not None:
        validation.base_url(base_url)
    # probe.json is written once, at the end: a Ctrl-C before that keeps nothing, and says so.
    unfinished = f"probe writes {out / 'probe.json'} only when it finishes" if out else "no --out"
    # No run-folder lock: probe.json is one atomic write, and sharing a folder with an eval of the
    # same server (one report for both) is a normal use.
    with interrupt_says_where():
        try:
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
                baseline_region=_parse_region(baseline) if baseline is not None else None,
                native=native_tokens(native),
                threshold=threshold,
                method=cast(Literal["auto", "prompt_logprobs", "echo"], method),
                out=out,
                device=device,
            )
        except KeyboardInterrupt:
            raise Interrupted(None, f"nothing was written ({unfinished})") from None
    if as_json:
        print_out(result.model_dump_json(indent=2))
        return
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.reports.terminal_probe import render_probe_text

    print_out(render_probe_text(result))
    if out is not None:
        typer.echo(f"wrote {out / 'probe.json'}")
