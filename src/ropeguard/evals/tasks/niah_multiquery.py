"""niah-multiquery: several keys asked at once; every value is required, in the asked order."""

from __future__ import annotations

import random
from typing import ClassVar

from pydantic import Field

from ropeguard.evals.tasks.base import Task, random_number
from ropeguard.evals.tasks.keys import needle_sentence, random_keys
from ropeguard.evals.tasks.registry import register_task


@register_task
class NiahMultiqueryTask(Task):
    name: ClassVar[str] = "niah-multiquery"

    digits: int = Field(default=6, ge=1, le=32, description="digits of each value")
    queries: int = Field(default=4, ge=2, le=64, description="keys asked for")

    def make_needles(self, rng: random.Random) -> tuple[list[str], str, list[str]]:
        keys = random_keys(rng, self.queries)
        values: list[str] = []
        for _ in keys:
            values.append(random_number(rng, self.digits, avoid=set(values)))
        needles = [needle_sentence(key, value) for key, value in zip(keys, values, strict=True)]
        # The question asks in an order of its own, so the answer's order is not the document's.
        asked = list(range(len(keys)))
        rng.shuffle(asked)
        listed = ", ".join(keys[i] for i in asked[:-1]) + f" and {keys[asked[-1]]}"
        question = f"What are the special magic numbers for {listed}?"
        return needles, question, [values[i] for i in asked]
