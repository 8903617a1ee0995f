"""`python -m ropeguard`, and the `ropeguard` console script (`start`).

The cyclic collector is off from here on while the CLI starts: see ropeguard.cli.run, which turns it
back on. Only from here does that cover the CLI's own imports (typer, pydantic), which the
collector would otherwise walk ~40 more times before a light command prints.
"""

from __future__ import annotations

import gc


def start() -> None:
    gc.disable()
    # Lazy: the collector must be off before the CLI's imports run.
    from ropeguard.cli import run

    run()


if __name__ == "__main__":
    start()
