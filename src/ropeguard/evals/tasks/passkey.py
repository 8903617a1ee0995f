"""passkey: one number hidden in the filler (the seed guide's task)."""

from __future__ import annotations

import random
from typing import ClassVar

from pydantic import Field

from ropeguard.evals.tasks.base import Task, random_number
from ropeguard.evals.tasks.registry import register_task


@register_task
class PasskeyTask(Task):
    name: ClassVar[str] = "passkey"

    digits: int = Field(default=5, ge=1, le=32, description="digits of the pass key")

    def make_needles(self, rng: random.Random) -> tuple[list[str], str, list[str]]:
        value = random_number(rng, self.digits)
        needle = f"The pass key is {value}. Remember it. {value} is the pass key."
        return [needle], "What is the pass key?", [value]
