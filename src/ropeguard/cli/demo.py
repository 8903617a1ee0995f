"""`ropeguard demo [--out DIR] [--backend auto|vllm|transformers]` / `ropeguard demo --where`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ropeguard.cli import interrupt_says_where, print_out
from ropeguard.cli.app import app
from ropeguard.errors import UsageError


@app.command("demo")
def demo_command(
    out: Path | None = typer.Option(None, "--out", help="Folder for the runs and reports (default: new)."),
    backend: str = typer.Option(
        "auto", "--backend", help="auto (vLLM when installed), vllm, or transformers (in process)."
    ),
    where: bool = typer.Option(False, "--where", help="Print the folder of the bundled tiny model and exit."),
    json_output: bool = typer.Option(False, "--json", help="Print what the demo did as one JSON document."),
) -> None:
    """The silent long-context failure and its fix, end to end on the bundled tiny model."""
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.demo.story import bundled_model, render_demo, run_demo

    if where:
        folder = str(bundled_model())
        print_out(json.dumps({"model_dir": folder}) if json_output else folder)
        return
    if backend not in ("auto", "vllm", "transformers"):
        raise UsageError(f"--backend {backend!r}: choose auto, vllm or transformers")
    with interrupt_says_where():
        result = run_demo(out, backend=backend)  # type: ignore[arg-type]
    if json_output:
        print_out(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    render_demo(result)
