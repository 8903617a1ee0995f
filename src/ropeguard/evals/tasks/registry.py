"""The task registry: each task module registers its class by name."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from ropeguard.errors import UsageError
from ropeguard.evals.tasks.base import Task

_TASKS: dict[str, type[Task]] = {}

T = TypeVar("T", bound=type[Task])


def register_task(cls: T) -> T:
    """Class decorator: make ``cls`` available as ``get_task(cls.name)``."""
    if cls.name in _TASKS and _TASKS[cls.name] is not cls:
        raise ValueError(f"task {cls.name!r} is already registered by {_TASKS[cls.name].__qualname__}")
    _TASKS[cls.name] = cls
    return cls


def task_names() -> list[str]:
    return sorted(_TASKS)


def get_task(name: str, **options: Any) -> Task:
    """The task registered as ``name``, built with ``options`` (e.g. ``digits=7`` for passkey)."""
    try:
        cls = _TASKS[name]
    except KeyError:
        raise UsageError(f"unknown task {name!r}", hint=f"choose one of: {', '.join(task_names())}") from None
    try:
        return cls(**options)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise UsageError(f"bad options for task {name!r}: {problems}") from None
