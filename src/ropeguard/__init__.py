"""ropeguard: serve LLMs past their native context window correctly, and prove that it works.

The library is the product; the CLI is a thin adapter over it. Public entry points are imported
lazily so that `import ropeguard` stays light (no torch, transformers or vLLM).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ropeguard.models.inspection import inspect_model

# name -> module that defines it; imported on first access (PEP 562).
_LAZY: dict[str, str] = {
    "inspect_model": "ropeguard.models.inspection",
}

__all__ = ["__version__", "inspect_model"]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ropeguard' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
