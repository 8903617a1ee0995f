"""target -> settings: the rope override, the engine command, the memory plan and warnings.

Pure functions of a ModelSpec (no I/O, no heavy imports): `make_plan(spec, target, ...)`.
"""

from __future__ import annotations

from ropeguard.plan.memory import MemoryPlan, plan_memory
from ropeguard.plan.planner import SCHEMA_VERSION, ContextPlan, make_plan

__all__ = ["SCHEMA_VERSION", "ContextPlan", "MemoryPlan", "make_plan", "plan_memory"]
