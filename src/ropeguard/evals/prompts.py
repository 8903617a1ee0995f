"""From a trial key to the exact prompt that is sent: build, count, fit.

All trials at one length share one haystack (one seeded `Haystack` stream, prefix-stable), so the
number of haystack sentences is fitted once per length with a typical trial (the needle at depth 0.5,
index 0), and each trial's own count is then checked: one whose needle or question tokenizes longer
or shorter than the typical one by more than the 0.5% tolerance is refitted on its own.

Prompt target = length - answer budget (the budget is max_tokens), so that prompt plus answer fit in
the window the length names (RULER's convention). The fit may land below the target by the tolerance,
never above it: a prompt over its target would make prompt + max_tokens exceed a length served at
exactly the server's max length, and vLLM would then shorten the answer budget without saying so.

Every prepared trial carries its recipe (the fit: sentences, words of the last one) and the sha256
of what is sent, so `trials.jsonl` is enough to rebuild each prompt byte for byte
(`PromptBuilder.rebuild`).
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from dataclasses import dataclass
from typing import Any

from ropeguard.errors import UsageError
from ropeguard.evals.config import EvalConfig
from ropeguard.evals.haystack import Haystack, SentenceSource, fit_sentences
from ropeguard.evals.tasks import Sample, Task, TrialKey, get_task
from ropeguard.evals.tokenization import Messages, Tokenizer

FIT_TOLERANCE = 0.005
ANSWER_MARGIN_TOKENS = 8


# (filler sentences, characters kept of the last one or None for all): the unit a prompt is fitted in.
Fit = tuple[int, "int | None"]


class TrimmedHaystack:
    """A haystack whose n-th (last requested) sentence is cut to its first `chars` characters.

    Whole sentences are 20-60 tokens with a character-level tokenizer: too coarse for 0.5% of a
    1k prompt, and words are too (a prompt may land below its target by the tolerance, never above
    it, so the window is only 0.5% wide). Cutting the last filler sentence at a character gives
    steps of one token or less while every trial at a length still shares the same filler, and the
    text before the cut still extends shorter lengths'.
    """

    def __init__(self, base: SentenceSource, chars: int) -> None:
        self.base = base
        self.chars = chars

    def sentences(self, n: int) -> list[str]:
        full = list(self.base.sentences(n))
        if not full:
            return full
        last = full[-1][: self.chars].rstrip()
        return [*full[:-1], last] if last else full[:-1]


@dataclass
class Prepared:
    """One trial ready to send."""

    key: TrialKey
    sample: Sample
    prompt_target: int
    prompt_tokens: int
    max_tokens: int
    messages: Messages | None = None
    text: str | None = None
    fit: Fit | None = None

    def sha256(self) -> str:
        """The digest of exactly what is sent: the chat messages as canonical JSON, or the text."""
        payload = self.text if self.messages is None else prompt_json(self.messages)
        return hashlib.sha256((payload or "").encode()).hexdigest()


def prompt_json(messages: Messages) -> str:
    return json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class PromptBuilder:
    """Thread-safe: trials are prepared in worker threads while earlier ones are being answered."""

    def __init__(self, config: EvalConfig, tokenizer: Tokenizer) -> None:
        self.config = config
        self.tokenizer = tokenizer
        task_class = type(get_task(config.task))
        # A task whose document holds a needle at every grid depth (niah-sweep) is told the grid's.
        if getattr(task_class, "takes_grid_depths", False):
            self.task: Task = get_task(config.task, depths=tuple(config.depths))
        else:
            self.task = get_task(config.task)
        text = None
        if config.haystack_file is not None:
            try:
                text = config.haystack_file.read_text()
            except OSError as error:
                raise UsageError(f"cannot read --haystack-file {config.haystack_file}: {error}") from None
        self.haystack = Haystack(config.haystack, config.seed, text=text)
        self.chat_template_kwargs: dict[str, Any] | None = (
            {"enable_thinking": False} if config.no_think else None
        )
        self._fit_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._fitted: dict[int, tuple[Fit, int]] = {}  # length -> (fit, max_tokens)

    # -------------------------------------------------------------------------------------- pieces

    def key(self, length: int, depth: float, index: int) -> TrialKey:
        return TrialKey(task=self.config.task, length=length, depth=depth, index=index, seed=self.config.seed)

    def _build(self, key: TrialKey, fit: Fit) -> Sample:
        n_sentences, chars = fit
        haystack: SentenceSource = self.haystack if chars is None else TrimmedHaystack(self.haystack, chars)
        # The natural haystack draws its stream lazily from one generator: two threads drawing at
        # once would interleave its random calls and change the text, so building is serialised
        # (it is string work; the slow part, counting, runs in parallel).
        with self._build_lock:
            return self.task.build(key, haystack, n_sentences)

    def _count(self, sample: Sample) -> int:
        if self.config.mode == "chat":
            return self.tokenizer.count_chat(self.messages(sample), self.chat_template_kwargs)
        return self.tokenizer.count_text(self.text(sample))

    @staticmethod
    def messages(sample: Sample) -> Messages:
        return [{"role": "user", "content": sample.user_message()}]

    @staticmethod
    def text(sample: Sample) -> str:
        return sample.user_message()

    def _fit(self, key: TrialKey, target: int) -> Fit:
        """Whole sentences first; if a sentence is too coarse for the tolerance (short lengths,
        char-level tokenizers), the next sentence is added character by character."""

        def count(fit: Fit) -> int:
            return self._count(self._build(key, fit))

        n = int(
            fit_sentences(lambda n_sentences: count((n_sentences, None)), target, tolerance=FIT_TOLERANCE)
        )
        tokens = count((n, None))
        if tokens > target and n > 0:  # never above the target (module doc): one sentence less
            n -= 1
            tokens = count((n, None))
        if tokens > target:
            # Only with no filler at all: the needles and question alone are longer than the target,
            # and a prompt over it would make prompt + max_tokens exceed the length.
            raise UsageError(
                f"length {key.length} is too short for task {key.task}: its prompt without filler is "
                f"{tokens} tokens, over the {target} left after {key.length - target} answer tokens",
                hint="measure longer lengths",
            )
        if target - tokens <= FIT_TOLERANCE * target:
            return n, None
        with self._build_lock:
            chars = len(self.haystack.sentences(n + 1)[-1])
        low, high = 0, chars  # count((n + 1, low)) <= target is known for low = 0 (= n sentences)
        while high - low > 1:
            middle = (low + high) // 2
            if count((n + 1, middle)) <= target:
                low = middle
            else:
                high = middle
        if low == 0:
            return n, None
        return n + 1, low

    def answer_budget(self, sample: Sample) -> int:
        if self.config.max_answer_tokens is not None:
            answer = self.config.max_answer_tokens
        else:
            answer = 2 * self.tokenizer.count_text(sample.reference_answer()) + ANSWER_MARGIN_TOKENS
        return answer + (self.config.thinking_budget or 0)

    def needle_count(self) -> int:
        return len(self.task.make_needles(random.Random(0))[0])

    def fitted(self, length: int) -> tuple[Fit, int]:
        """(fit, max_tokens) for a length, fitted once with the typical trial."""
        with self._fit_lock:
            if length not in self._fitted:
                typical = self.key(length, 0.5, 0)
                max_tokens = self.answer_budget(self._build(typical, (1, None)))
                target = length - max_tokens
                if target <= 0:
                    raise UsageError(
                        f"length {length} leaves no room for a prompt after {max_tokens} answer tokens"
                    )
                self._fitted[length] = (self._fit(typical, target), max_tokens)
            return self._fitted[length]

    def n_sentences(self) -> dict[int, int]:
        with self._fit_lock:
            return {length: fit[0] for length, (fit, _) in self._fitted.items()}

    def prepare(self, length: int, depth: float, index: int) -> Prepared:
        fit, max_tokens = self.fitted(length)
        key = self.key(length, depth, index)
        target = length - max_tokens
        sample = self._build(key, fit)
        tokens = self._count(sample)
        if tokens > target or target - tokens > FIT_TOLERANCE * target:
            fit = self._fit(key, target)
            sample = self._build(key, fit)
            tokens = self._count(sample)
        prepared = Prepared(
            key=key, sample=sample, prompt_target=target, prompt_tokens=tokens, max_tokens=max_tokens, fit=fit
        )
        if self.config.mode == "chat":
            prepared.messages = self.messages(sample)
        else:
            prepared.text = self.text(sample)
        return prepared

    def rebuild(self, length: int, depth: float, index: int, fit: Fit) -> Messages | str:
        """The prompt a trial sent, from its record's key and recipe (`fit_sentences`, `fit_chars`):
        chat messages in chat mode, else the text. Its `prompt_json` / text hashes to the record's
        `prompt_sha256` when the run's config (task, seed, haystack) is the one given here."""
        sample = self._build(self.key(length, depth, index), fit)
        return self.messages(sample) if self.config.mode == "chat" else self.text(sample)
