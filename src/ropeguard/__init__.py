"""ropeguard: serve LLMs past their native context window correctly, and prove that it works.

The library is the product; the CLI is a thin adapter over it. Public entry points are imported
lazily so that `import ropeguard` stays light (no torch, transformers or vLLM):

    ropeguard.plan("Qwen/Qwen3-8B", "128k")   -> ContextPlan (ropeguard.plan.plan_model)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> module that provides it (a callable package counts as the function itself).
_LAZY: dict[str, str] = {
    "plan": "ropeguard.plan",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(_LAZY[name])
    raise AttributeError(f"module 'ropeguard' has no attribute {name!r}")
