"""Engines that serve a model, registered by name: one module each (vllm, sglang, llama.cpp, transformers).

An engine turns the planner's engine-independent decision (target length, YaRN dict) into that engine's
override object, argv and environment. Adding an engine is adding one module and one line below.
"""

from __future__ import annotations

import importlib

from ropeguard.engines.engine import Engine, EngineRequest, EngineSettings
from ropeguard.errors import UsageError

__all__ = ["Engine", "EngineRequest", "EngineSettings", "engine_names", "get_engine"]

# Registry: engine name -> module defining ENGINE. Modules are imported on first use.
_MODULES: dict[str, str] = {
    "vllm": "ropeguard.engines.vllm",
    "sglang": "ropeguard.engines.sglang",
    "llama.cpp": "ropeguard.engines.llamacpp",
    "transformers": "ropeguard.engines.transformers",
}


def engine_names() -> list[str]:
    """The canonical engine names, in the order they are documented."""
    return list(_MODULES)


def get_engine(name: str) -> Engine:
    """The engine registered as `name` (or one of its aliases); an unknown name is a UsageError."""
    wanted = name.strip().lower()
    for canonical, module_name in _MODULES.items():
        engine: Engine = importlib.import_module(module_name).ENGINE
        if wanted == canonical or wanted in engine.aliases:
            return engine
    raise UsageError(
        f"unknown engine {name!r}",
        hint=f"choose one of: {', '.join(_MODULES)}",
    )
