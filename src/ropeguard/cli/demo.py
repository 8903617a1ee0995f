"""`ropeguard demo`: the bundled end-to-end story (for now: `--where`, the bundled model's folder)."""

from __future__ import annotations

import typer

from ropeguard.cli.app import app
from ropeguard.errors import UsageError


@app.command("demo")
def demo(
    where: bool = typer.Option(False, "--where", help="Print the folder of the bundled tiny model and exit."),
) -> None:
    """Run the bundled demo on the tiny model (`--where` prints the model's folder)."""
    from ropeguard.demo import model_dir

    if where:
        typer.echo(str(model_dir()))
        return
    raise UsageError(
        "only `ropeguard demo --where` is available in this build", hint="ropeguard demo --where"
    )
