"""Recall evaluation: tasks, haystack, tokenization, runner, scoring and statistics.

    from ropeguard.evals import EvalConfig, run, load_run
    result = run(EvalConfig(base_urls=["http://127.0.0.1:8000/v1"], lengths=[1024, 4096]))
    result.summary.effective_context

Names are imported lazily (PEP 562) so that importing a submodule (tasks, haystack) stays light:
`import ropeguard.evals.tasks` runs this file first, and must not pull in httpx and the runner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ropeguard.evals.config import EvalConfig
    from ropeguard.evals.loader import load_run
    from ropeguard.evals.results import Run, Summary, TrialRecord

__all__ = ["EvalConfig", "Run", "Summary", "TrialRecord", "load_run", "run"]

# name -> the module that defines it
_LAZY: dict[str, str] = {
    "EvalConfig": "ropeguard.evals.config",
    "Run": "ropeguard.evals.results",
    "Summary": "ropeguard.evals.results",
    "TrialRecord": "ropeguard.evals.results",
    "load_run": "ropeguard.evals.loader",
}


def run(config: EvalConfig) -> Run:
    """Run (or resume) a recall grid and return it as written to its folder (see runner.run_eval)."""
    # Lazy so that `import ropeguard.evals.tasks` stays light (see the module docstring).
    from ropeguard.evals.runner import run_eval

    return run_eval(config)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ropeguard.evals' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
