"""niah-multivalue: one key with several values; all are required, and any other number is wrong.

The trained answer lists the values in the order they appear in the document.
"""

from __future__ import annotations

import random
from typing import ClassVar

from pydantic import Field

from ropeguard.evals.tasks.base import Task, random_number
from ropeguard.evals.tasks.keys import needle_sentence, random_keys
from ropeguard.evals.tasks.registry import register_task


@register_task
class NiahMultivalueTask(Task):
    name: ClassVar[str] = "niah-multivalue"
    strict_values: ClassVar[bool] = True

    digits: int = Field(default=6, ge=1, le=32, description="digits of each value")
    values: int = Field(default=4, ge=2, le=64, description="values of the one key")

    def make_needles(self, rng: random.Random) -> tuple[list[str], str, list[str]]:
        (key,) = random_keys(rng, 1)
        values: list[str] = []
        for _ in range(self.values):
            values.append(random_number(rng, self.digits, avoid=set(values)))
        needles = [needle_sentence(key, value) for value in values]
        return needles, f"What are all the special magic numbers for {key}?", values

    def order_expected(self, expected: list[str], needles: list[str], context: str) -> list[str]:
        # Each value occurs once in the context (values are distinct and the filler has no digits
        # unless it is a user's file, where the needle sentence still pins the match).
        position = {value: context.find(needle) for value, needle in zip(expected, needles, strict=True)}
        return sorted(expected, key=lambda value: position[value])
