"""niah-multikey: the target key among distractor needles with other keys.

The target needle sits at the trial's depth; the distractors spread over the rest of the document.
Answering a distractor's value is wrong even when the target's value is there too.
"""

from __future__ import annotations

import random
from typing import ClassVar

from pydantic import Field

from ropeguard.evals.tasks.base import Task, random_number
from ropeguard.evals.tasks.keys import needle_sentence, random_keys
from ropeguard.evals.tasks.registry import register_task


@register_task
class NiahMultikeyTask(Task):
    name: ClassVar[str] = "niah-multikey"

    digits: int = Field(default=6, ge=1, le=32, description="digits of each value")
    keys: int = Field(default=4, ge=2, le=64, description="needles in all: the target and its distractors")

    def make_needles(self, rng: random.Random) -> tuple[list[str], str, list[str]]:
        keys = random_keys(rng, self.keys)
        values: list[str] = []
        for _ in keys:
            values.append(random_number(rng, self.digits, avoid=set(values)))
        needles = [needle_sentence(key, value) for key, value in zip(keys, values, strict=True)]
        return needles, f"What is the special magic number for {keys[0]}?", [values[0]]
