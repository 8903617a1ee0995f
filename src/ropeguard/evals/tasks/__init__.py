"""Recall tasks, one module each, found by name through the registry.

from ropeguard.evals.tasks import get_task, TrialKey
task = get_task("passkey")
sample = task.build(TrialKey(task="passkey", length=8192, depth=0.5, index=0), haystack, n_sentences)
task.score(sample, "The pass key is 48213.")
"""

from __future__ import annotations

from ropeguard.evals.tasks import (
    niah_multikey,
    niah_multiquery,
    niah_multivalue,
    niah_single,
    niah_sweep,
    passkey,
)
from ropeguard.evals.tasks.base import Sample, Score, Task, TrialKey, extract_numbers, strip_thinking
from ropeguard.evals.tasks.registry import get_task, register_task, task_names

__all__ = [
    "Sample",
    "Score",
    "Task",
    "TrialKey",
    "extract_numbers",
    "get_task",
    "niah_multikey",
    "niah_multiquery",
    "niah_multivalue",
    "niah_single",
    "niah_sweep",
    "passkey",
    "register_task",
    "strip_thinking",
    "task_names",
]
