"""target -> settings: the rope override, the engine command, the memory plan and the warnings.

`make_plan(spec, target, ...)` is the pure core (a ModelSpec in, a ContextPlan out; what is installed
comes in as an argument). `ropeguard.plan_model("Qwen/Qwen3-8B", "128k")` (ropeguard/api.py) reads the
model and the installed stack, then calls it.
"""

from __future__ import annotations

from ropeguard.deprecation import keep_callable
from ropeguard.plan.layout import NodeCommand, ParallelLayout, plan_layout
from ropeguard.plan.memory import MemoryPlan, plan_memory
from ropeguard.plan.planner import SCHEMA_VERSION, ContextPlan, make_plan

__all__ = [
    "SCHEMA_VERSION",
    "ContextPlan",
    "MemoryPlan",
    "NodeCommand",
    "ParallelLayout",
    "make_plan",
    "plan_layout",
    "plan_memory",
]

# `ropeguard.plan(...)` (ropeguard 0.1) still works for one release, with a DeprecationWarning.
keep_callable(__name__, "plan_model")
