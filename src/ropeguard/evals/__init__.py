"""Recall evaluation: tasks, haystack, tokenization, runner, scoring and statistics.

    from ropeguard.evals import EvalConfig, run, load_run
    result = run(EvalConfig(base_urls=["http://127.0.0.1:8000/v1"], lengths=[1024, 4096]))
    result.summary.effective_context

Names are imported lazily so that importing a submodule (tasks, haystack) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ropeguard.evals.config import EvalConfig
    from ropeguard.evals.results import Run, Summary, TrialRecord, load_run

__all__ = ["EvalConfig", "Run", "Summary", "TrialRecord", "load_run", "run"]


def run(config: EvalConfig) -> Run:
    """Run (or resume) a recall grid and return it as written to its folder (see runner.run_eval)."""
    from ropeguard.evals.runner import run_eval

    return run_eval(config)


def __getattr__(name: str) -> Any:
    if name == "EvalConfig":
        from ropeguard.evals.config import EvalConfig

        return EvalConfig
    if name in ("Run", "Summary", "TrialRecord", "load_run"):
        from ropeguard.evals import results

        return getattr(results, name)
    raise AttributeError(f"module 'ropeguard.evals' has no attribute {name!r}")
