"""niah-sweep: one document per (length, trial) that holds a needle at every depth of the grid.

The single-needle tasks build a different document for every depth, so each trial's prefill is paid
in full. Here every depth of one (length, trial index) gets the SAME document, with one labelled
needle ("One of the special magic numbers for amber-falcon is: 483920.") at each grid depth; the
trials differ only in the question at the end, which names the needle at the trial's depth. A server
with prefix caching then prefills the document once and each further depth costs only the question.

What it measures differently: the model must pick the asked key among as many distractor needles as
the grid has depths (answering another needle's value is wrong), like niah-multikey, rather than find
one needle in plain filler. Its per-depth recall is therefore at most the single-needle task's; agree-
ment with it has to be measured per model before it stands in for it (docs/certify.md).
"""

from __future__ import annotations

import hashlib
import random
from typing import ClassVar

from pydantic import Field

from ropeguard.evals.haystack import insert_at_boundaries
from ropeguard.evals.tasks.base import Task, TrialKey, random_number
from ropeguard.evals.tasks.keys import needle_sentence, random_keys
from ropeguard.evals.tasks.registry import register_task

# The depths a sweep holds when it is not told the grid's: RULER-style evenly spaced depths.
DEFAULT_DEPTHS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


@register_task
class NiahSweepTask(Task):
    name: ClassVar[str] = "niah-sweep"
    # The prompt builder passes the grid's depths as `depths` (the document depends on all of them).
    takes_grid_depths: ClassVar[bool] = True

    digits: int = Field(default=6, ge=1, le=32, description="digits of each value")
    depths: tuple[float, ...] = Field(
        default=DEFAULT_DEPTHS, min_length=1, max_length=64, description="one needle at each of these depths"
    )

    def make_needles(self, rng: random.Random) -> tuple[list[str], str, list[str]]:
        needles, keys, values = self._needles(rng)
        return needles, f"What is the special magic number for {keys[0]}?", [values[0]]

    def _needles(self, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
        keys = random_keys(rng, len(self.depths))
        values: list[str] = []
        for _ in keys:
            values.append(random_number(rng, self.digits, avoid=set(values)))
        needles = [needle_sentence(key, value) for key, value in zip(keys, values, strict=True)]
        return needles, keys, values

    @staticmethod
    def document_rng(key: TrialKey) -> random.Random:
        """The random choices of a (length, trial index, seed): the trial's depth is left out, so all
        depths of one trial share the document."""
        canonical = f"{key.task}|{key.length}|{key.index}|{key.seed}"
        return random.Random(int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:8], "big"))

    def _asked(self, key: TrialKey) -> int:
        """The grid depth nearest the trial's (the trial's depth is one of the grid's when the
        builder passed them): the needle the question names."""
        return min(range(len(self.depths)), key=lambda i: abs(self.depths[i] - key.depth))

    def needles_for(self, key: TrialKey) -> tuple[list[str], str, list[str]]:
        needles, keys, values = self._needles(self.document_rng(key))
        asked = self._asked(key)
        # The asked needle first (the convention of every task), then the distractors.
        ordered = [needles[asked], *(n for i, n in enumerate(needles) if i != asked)]
        return ordered, f"What is the special magic number for {keys[asked]}?", [values[asked]]

    def place(self, sentences: list[str], needles: list[str], key: TrialKey) -> str:
        """Every needle at its own grid depth, so all depths of a trial share the document."""
        asked = self._asked(key)
        depths = [self.depths[asked], *(d for i, d in enumerate(self.depths) if i != asked)]
        placed = sorted(zip(depths, needles, strict=True))  # needles in document order
        boundaries = [round(depth * len(sentences)) for depth, _ in placed]
        return insert_at_boundaries(sentences, [needle for _, needle in placed], boundaries)
