"""ropeguard: serve LLMs past their native context window correctly, and prove that it works.

The library is the product; the CLI is a thin adapter over it. Public entry points are imported
lazily so that `import ropeguard` stays light (no torch, transformers or vLLM):

    ropeguard.inspect_model("Qwen/Qwen3-8B")   -> what the config says
    ropeguard.plan("Qwen/Qwen3-8B", "128k")    -> ContextPlan (the callable package ropeguard.plan)
    ropeguard.lint(["deploy/"])                -> list[Finding] (the callable package ropeguard.lint)
    ropeguard.doctor()                         -> DoctorReport (the callable module ropeguard.doctor)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ropeguard.doctor import doctor
    from ropeguard.lint.linter import lint
    from ropeguard.models.inspection import inspect_model
    from ropeguard.plan import plan_model as plan

# name -> (module that defines it, attribute; None: the module itself); imported on first access
# (PEP 562). `plan` is a package that is also callable, so it stays the same object whichever of
# `ropeguard.plan(...)` or `import ropeguard.plan.memory` comes first.
_LAZY: dict[str, tuple[str, str | None]] = {
    "inspect_model": ("ropeguard.models.inspection", "inspect_model"),
    "plan": ("ropeguard.plan", None),
    "lint": ("ropeguard.lint", None),
    "doctor": ("ropeguard.doctor", None),
}

__all__ = ["__version__", "doctor", "inspect_model", "lint", "plan"]


def __getattr__(name: str) -> Any:
    entry = _LAZY.get(name)
    if entry is None:
        raise AttributeError(f"module 'ropeguard' has no attribute {name!r}")
    import importlib

    module_name, attribute = entry
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value
