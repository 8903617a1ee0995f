"""`ropeguard doctor`: the installed python/torch/CUDA/vLLM/transformers and known-bad combinations."""

from __future__ import annotations

import typer

from ropeguard.cli.app import app
from ropeguard.cli.options import JSON_OPTION


@app.command("doctor")
def doctor_command(
    as_json: bool = JSON_OPTION,
) -> int:
    """Check the installed serving stack for versions that break long context."""
    # Lazy: `--help` imports every command module; this command's library loads only when it runs.
    from ropeguard.api import run_doctor

    report = run_doctor()
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return 1 if report.failed else 0
    from rich.console import Console

    console = Console(soft_wrap=True)
    rows = [
        ("python", report.python),
        ("torch", report.torch or "not installed"),
        ("CUDA", _cuda_text(report.cuda_available, report.cuda_version)),
        ("vLLM", f"{report.vllm} ({report.vllm_distribution})" if report.vllm else "not installed"),
        ("transformers", report.transformers or "not installed"),
        ("tokenizers", report.tokenizers or "not installed"),
    ]
    for name, value in rows:
        console.print(f"{name:>13}  {value}", highlight=False)
    for gpu in report.gpus:
        console.print(f"{'GPU ' + str(gpu.index):>13}  {gpu.name}, {gpu.memory_gib} GiB", highlight=False)
    styles = {"error": "bold red", "warning": "yellow", "info": "cyan"}
    for check in report.checks:
        style = styles[check.severity]
        console.print(f"[{style}]{check.severity}[/{style}] {check.id}: {check.message}", highlight=False)
    if not report.failed:
        console.print("no known-bad combination found", style="green")
    return 1 if report.failed else 0


def _cuda_text(available: bool | None, version: str | None) -> str:
    if available is None:
        return "unknown (torch not installed)"
    if available:
        return f"usable (CUDA {version})"
    return "not usable" + (f" (built for CUDA {version})" if version else " (CPU build of torch)")
