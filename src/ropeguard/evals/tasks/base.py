"""What every recall task shares: trial keys, samples, scores, answer parsing and the Task base.

A trial is a pure function of its `TrialKey` (task, target length, depth, trial index, run seed) and
the haystack: the same key builds the same prompt byte for byte on every run and every Python
version, so two runs of one grid are paired trial by trial.

The prompt format (`Sample.user_message`) and the trained answer format (`Sample.reference_answer`)
are what the bundled tiny model was trained on: keep them stable. The one later addition, a task's
`preamble` (passkey's instruction, which real chat models need), was checked to leave the tiny
model's recall at 1.00 (tasks/passkey.py); a change of the prompt must be checked the same way.
"""

from __future__ import annotations

import hashlib
import random
import re
from abc import ABC, abstractmethod
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ropeguard.evals.haystack import SentenceSource, place_needles

_DIGITS = re.compile(r"\d+")
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)


class TrialKey(BaseModel):
    """The identity of one trial; every random choice of the trial derives from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    length: int = Field(ge=1, description="target prompt length in tokens")
    depth: float = Field(ge=0.0, le=1.0, description="needle depth: 0 = start, 1 = end")
    index: int = Field(ge=0, description="trial index within its (task, length, depth) cell")
    seed: int = 0

    def canonical(self) -> str:
        """The key as one string; depth is written with 6 decimals so the text never depends on repr."""
        return f"{self.task}|{self.length}|{self.depth:.6f}|{self.index}|{self.seed}"

    @property
    def trial_id(self) -> str:
        """Readable and stable: ``passkey-8192-d50-i0-<16 hex of sha1(canonical)>``."""
        digest = hashlib.sha1(self.canonical().encode()).hexdigest()[:16]
        return f"{self.task}-{self.length}-d{round(self.depth * 100)}-i{self.index}-{digest}"

    def rng(self) -> random.Random:
        """The trial's own random generator (seeded from the sha256 of the canonical key)."""
        return random.Random(int.from_bytes(hashlib.sha256(self.canonical().encode()).digest()[:8], "big"))


class Sample(BaseModel):
    """One built trial: the prompt's parts, what must be answered, and what was hidden."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trial_id: str
    task: str
    length: int
    depth: float
    index: int
    seed: int
    context: str
    question: str
    expected: list[str] = Field(description="the values a correct answer holds, in the trained order")
    needles: list[str] = Field(description="every needle sentence hidden in the context")
    n_sentences: int = Field(description="filler sentences in the context (needles not counted)")
    preamble: str = Field(default="", description="an instruction before the context ('' for none)")

    def user_message(self) -> str:
        """The prompt text (the user turn in chat mode): the preamble and a blank line if there is
        one, the context, a blank line, the question."""
        head = f"{self.preamble}\n\n" if self.preamble else ""
        return f"{head}{self.context}\n\n{self.question}"

    def reference_answer(self) -> str:
        """What the tiny model is trained to answer: the expected values joined by ', '."""
        return ", ".join(self.expected)


class Score(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    correct: bool
    predicted: list[str] = Field(description="digit groups found in the answer, in order, repeats dropped")
    reason: str = Field(description="'ok' or why the answer is wrong")


def strip_thinking(answer: str) -> str:
    """The answer without reasoning: ``<think>...</think>`` blocks go; so does everything up to a lone
    ``</think>`` (templates that open the block in the prompt) and everything after an unclosed
    ``<think>`` (the budget ran out while thinking: no answer at all)."""
    text = _THINK_BLOCK.sub(" ", answer)
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    if "<think>" in text:
        text = text.split("<think>", 1)[0]
    return text


def extract_numbers(answer: str) -> list[str]:
    """Digit groups of the answer (thinking removed), in order of appearance, repeats dropped."""
    seen: dict[str, None] = {}
    for match in _DIGITS.findall(strip_thinking(answer)):
        seen.setdefault(match, None)
    return list(seen)


def random_number(rng: random.Random, digits: int, avoid: set[str] | None = None) -> str:
    """A number of exactly ``digits`` digits (no leading zero), not in ``avoid``."""
    while True:
        value = str(rng.randrange(10 ** (digits - 1), 10**digits))
        if not avoid or value not in avoid:
            return value


class Task(BaseModel, ABC):
    """A recall task: builds samples from trial keys and scores answers.

    Subclasses are pydantic models whose fields are the task's options (e.g. passkey ``digits``), so
    ``get_task("passkey", digits=7)`` validates them. ``strict_values`` tasks count any number in the
    answer that is not expected as wrong; the others tolerate stray numbers but never another needle's
    value (a distractor).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]
    strict_values: ClassVar[bool] = False
    # An instruction before the context (prompt variants for chat models; see tasks/passkey.py).
    preamble: ClassVar[str] = ""

    @abstractmethod
    def make_needles(self, rng: random.Random) -> tuple[list[str], str, list[str]]:
        """(needle sentences, question, expected values); the first needle is the one at the depth."""

    def build(self, key: TrialKey, haystack: SentenceSource, n_sentences: int) -> Sample:
        """The trial's sample: its needles in the first ``n_sentences`` of the haystack."""
        if key.task != self.name:
            raise ValueError(f"trial key for task {key.task!r} given to task {self.name!r}")
        needles, question, expected = self.needles_for(key)
        context = self.place(haystack.sentences(n_sentences), needles, key)
        return Sample(
            trial_id=key.trial_id,
            task=self.name,
            length=key.length,
            depth=key.depth,
            index=key.index,
            seed=key.seed,
            context=context,
            question=question,
            expected=self.order_expected(expected, needles, context),
            needles=needles,
            n_sentences=n_sentences,
            preamble=self.preamble,
        )

    def needles_for(self, key: TrialKey) -> tuple[list[str], str, list[str]]:
        """The trial's needles, question and expected values (drawn from the trial's own rng)."""
        return self.make_needles(key.rng())

    def place(self, sentences: list[str], needles: list[str], key: TrialKey) -> str:
        """The context: the needles among the filler sentences (the first at the trial's depth)."""
        return place_needles(sentences, needles, key.depth)

    def order_expected(self, expected: list[str], needles: list[str], context: str) -> list[str]:
        """The order of the trained answer; by default the order the task asked for."""
        return expected

    def score(self, sample: Sample, answer: str) -> Score:
        predicted = extract_numbers(answer)
        if not predicted:
            return Score(correct=False, predicted=[], reason="no number in the answer")
        missing = [value for value in sample.expected if value not in predicted]
        expected = set(sample.expected)
        if self.strict_values:
            extra = [value for value in predicted if value not in expected]
            if missing or extra:
                return Score(correct=False, predicted=predicted, reason=_describe(missing, extra, "extra"))
            return Score(correct=True, predicted=predicted, reason="ok")
        needle_values = {value for needle in sample.needles for value in _DIGITS.findall(needle)}
        distractors = [value for value in predicted if value in needle_values and value not in expected]
        if missing or distractors:
            return Score(
                correct=False, predicted=predicted, reason=_describe(missing, distractors, "distractor")
            )
        return Score(correct=True, predicted=predicted, reason="ok")


def _describe(missing: list[str], extra: list[str], extra_word: str) -> str:
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if extra:
        parts.append(f"{extra_word} " + ", ".join(extra))
    return "; ".join(parts)
