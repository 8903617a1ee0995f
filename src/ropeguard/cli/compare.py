"""`ropeguard compare RUN_A RUN_B`: paired per-trial comparison of two eval runs (exact McNemar)."""

from __future__ import annotations

from pathlib import Path

import typer

from ropeguard.cli import print_out, print_warning
from ropeguard.cli.app import app


@app.command("compare")
def compare_command(
    run_a: Path = typer.Argument(..., help="Run directory A (the reference, e.g. the unscaled baseline)."),
    run_b: Path = typer.Argument(..., help="Run directory B (e.g. the scaled server)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the verdict."),
    fail_on_worse: bool = typer.Option(
        False, "--fail-on-worse", help="Exit 1 when B is significantly worse than A."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as one JSON document."),
) -> int:
    """Pair the trials of two runs by id; per-length deltas, discordant counts and a verdict."""
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.evals.loader import load_run
    from ropeguard.reports.compare import compare_runs, render_comparison_text

    runs = load_run(run_a), load_run(run_b)
    for loaded in runs:
        print_warning(loaded.skipped_warning)
    result = compare_runs(*runs, alpha=alpha)
    print_out(result.model_dump_json(indent=2) if as_json else render_comparison_text(result))
    return 1 if fail_on_worse and result.overall.verdict == "worse" else 0
