"""From a trial key to the exact prompt that is sent: build, count, fit.

All trials at one length share one haystack (one seeded `Haystack` stream, prefix-stable), so the
number of haystack sentences is fitted once per length with a typical trial (the needle at depth 0.5,
index 0), and each trial's own count is then checked: one whose needle or question tokenizes longer
or shorter than the typical one by more than the 0.5% tolerance is refitted on its own.

Prompt target = length - answer budget (the budget is max_tokens), so that prompt plus answer fit in
the window the length names (RULER's convention).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ropeguard.errors import UsageError
from ropeguard.evals.config import EvalConfig
from ropeguard.evals.tokenization import Messages, Tokenizer

FIT_TOLERANCE = 0.005
ANSWER_MARGIN_TOKENS = 8


@dataclass
class Prepared:
    """One trial ready to send."""

    key: Any  # ropeguard.evals.tasks.TrialKey
    sample: Any  # ropeguard.evals.tasks.Sample
    prompt_target: int
    prompt_tokens: int
    max_tokens: int
    messages: Messages | None = None
    text: str | None = None


class PromptBuilder:
    """Thread-safe: trials are prepared in worker threads while earlier ones are being answered."""

    def __init__(self, config: EvalConfig, tokenizer: Tokenizer) -> None:
        from ropeguard.evals.haystack import Haystack
        from ropeguard.evals.tasks import get_task

        self.config = config
        self.tokenizer = tokenizer
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
        self._fitted: dict[int, tuple[int, int]] = {}  # length -> (n_sentences, max_tokens)

    # -------------------------------------------------------------------------------------- pieces

    def key(self, length: int, depth: float, index: int) -> Any:
        from ropeguard.evals.tasks import TrialKey

        return TrialKey(task=self.config.task, length=length, depth=depth, index=index, seed=self.config.seed)

    def _build(self, key: Any, n_sentences: int) -> Any:
        # The natural haystack draws its stream lazily from one generator: two threads drawing at
        # once would interleave its random calls and change the text, so building is serialised
        # (it is string work; the slow part, counting, runs in parallel).
        with self._build_lock:
            return self.task.build(key, self.haystack, n_sentences)

    def _count(self, sample: Any) -> int:
        if self.config.mode == "chat":
            return self.tokenizer.count_chat(self.messages(sample), self.chat_template_kwargs)
        return self.tokenizer.count_text(self.text(sample))

    @staticmethod
    def messages(sample: Any) -> Messages:
        return [{"role": "user", "content": sample.user_message()}]

    @staticmethod
    def text(sample: Any) -> str:
        return str(sample.user_message())

    def _fit(self, key: Any, target: int) -> int:
        from ropeguard.evals.haystack import fit_sentences

        def count(n_sentences: int) -> int:
            return self._count(self._build(key, n_sentences))

        return int(fit_sentences(count, target, tolerance=FIT_TOLERANCE))

    def answer_budget(self, sample: Any) -> int:
        if self.config.max_answer_tokens is not None:
            answer = self.config.max_answer_tokens
        else:
            answer = 2 * self.tokenizer.count_text(str(sample.reference_answer())) + ANSWER_MARGIN_TOKENS
        return answer + (self.config.thinking_budget or 0)

    def needle_count(self) -> int:
        import random

        return len(self.task.make_needles(random.Random(0))[0])

    def fitted(self, length: int) -> tuple[int, int]:
        """(n_sentences, max_tokens) for a length, fitted once with the typical trial."""
        with self._fit_lock:
            if length not in self._fitted:
                typical = self.key(length, 0.5, 0)
                max_tokens = self.answer_budget(self._build(typical, 1))
                target = length - max_tokens
                if target <= 0:
                    raise UsageError(
                        f"length {length} leaves no room for a prompt after {max_tokens} answer tokens"
                    )
                self._fitted[length] = (self._fit(typical, target), max_tokens)
            return self._fitted[length]

    def n_sentences(self) -> dict[int, int]:
        with self._fit_lock:
            return {length: n for length, (n, _) in self._fitted.items()}

    def prepare(self, length: int, depth: float, index: int) -> Prepared:
        n_sentences, max_tokens = self.fitted(length)
        key = self.key(length, depth, index)
        target = length - max_tokens
        sample = self._build(key, n_sentences)
        tokens = self._count(sample)
        if abs(tokens - target) > FIT_TOLERANCE * target:
            sample = self._build(key, self._fit(key, target))
            tokens = self._count(sample)
        prepared = Prepared(
            key=key, sample=sample, prompt_target=target, prompt_tokens=tokens, max_tokens=max_tokens
        )
        if self.config.mode == "chat":
            prepared.messages = self.messages(sample)
        else:
            prepared.text = self.text(sample)
        return prepared
