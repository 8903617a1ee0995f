"""passkey: one number hidden in the filler (the seed guide's task).

The prompt opens with the instruction of the passkey test as Landmark Attention (Mohtashami & Jaggi,
2023) and the YaRN paper ran it. Without it a real chat model reads "What is the pass key?" as a
question of general knowledge and answers it fluently from nothing ("The pass key is a special
key that is used to unlock ..."): SmolLM2-135M-Instruct scored 0 of 6 at 1K-2K inside its 8K window
with the bare question, 3 of 3 at 1K with the instruction (docs/real-model.md has the table). The
bundled tiny model, trained on the bare prompt, still scores 1.00 with it at 1K and 2K: the
instruction is a fixed prefix, and what it learnt is to find the needle.

`passkey-bare` keeps the prompt without the instruction (what runs before this change used).
"""

from __future__ import annotations

import random
from typing import ClassVar

from pydantic import Field

from ropeguard.evals.tasks.base import Task, random_number
from ropeguard.evals.tasks.registry import register_task

INSTRUCTION = (
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. "
    "I will quiz you about the important information there."
)


@register_task
class PasskeyTask(Task):
    name: ClassVar[str] = "passkey"
    preamble: ClassVar[str] = INSTRUCTION

    digits: int = Field(default=5, ge=1, le=32, description="digits of the pass key")

    def make_needles(self, rng: random.Random) -> tuple[list[str], str, list[str]]:
        value = random_number(rng, self.digits)
        needle = f"The pass key is {value}. Remember it. {value} is the pass key."
        return [needle], "What is the pass key?", [value]


@register_task
class BarePasskeyTask(PasskeyTask):
    """The passkey prompt without the instruction: the context, then the question."""

    name: ClassVar[str] = "passkey-bare"
    preamble: ClassVar[str] = ""
