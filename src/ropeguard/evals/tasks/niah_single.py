"""niah-single: one key word and its number."""

from __future__ import annotations

import random
from typing import ClassVar

from pydantic import Field

from ropeguard.evals.tasks.base import Task, random_number
from ropeguard.evals.tasks.keys import needle_sentence, random_keys
from ropeguard.evals.tasks.registry import register_task


@register_task
class NiahSingleTask(Task):
    name: ClassVar[str] = "niah-single"

    digits: int = Field(default=6, ge=1, le=32, description="digits of the value")

    def make_needles(self, rng: random.Random) -> tuple[list[str], str, list[str]]:
        (key,) = random_keys(rng, 1)
        value = random_number(rng, self.digits)
        return [needle_sentence(key, value)], f"What is the special magic number for {key}?", [value]
