"""ropeguard: serve LLMs past their native context window correctly, and prove that it works.

The library is the product; the CLI is a thin adapter over it. The public functions live in
ropeguard/api.py and are imported lazily (PEP 562), so that `import ropeguard` stays light (no torch,
transformers or vLLM):

    ropeguard.inspect_model("Qwen/Qwen3-8B")        -> ModelSpec: what the config says
    ropeguard.plan_model("Qwen/Qwen3-8B", "128k")   -> ContextPlan
    ropeguard.lint_paths(["deploy/"])               -> list[Finding]
    ropeguard.run_doctor()                          -> DoctorReport

`ropeguard.plan(...)`, `ropeguard.lint(...)` and `ropeguard.doctor()` (0.1) still work for one release,
with a DeprecationWarning (ropeguard/deprecation.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ropeguard.version import __version__

if TYPE_CHECKING:
    from ropeguard.api import inspect_model, lint_paths, plan_model, run_doctor

_API = ("inspect_model", "lint_paths", "plan_model", "run_doctor")
# The 0.1 names: the subpackage or module, which stays callable for one release.
_DEPRECATED_MODULES = ("plan", "lint", "doctor")

__all__ = ["__version__", "inspect_model", "lint_paths", "plan_model", "run_doctor"]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module("ropeguard.api"), name)
        globals()[name] = value
        return value
    if name in _DEPRECATED_MODULES:
        # Importing the submodule sets the attribute on this package, as any import would.
        return importlib.import_module(f"ropeguard.{name}")
    raise AttributeError(f"module 'ropeguard' has no attribute {name!r}")
