"""Verdicts that hold on real chat models: what an answer that is not a clean answer means.

A real model past its window rarely answers "wrong number": it degenerates. It emits whitespace
until `max_tokens`, loops on a word ("is is is is ..."), or writes no word at all. Those are failures
of the model (status `fail`, `degenerate` set, counted in the per-length degenerate rate), never
`invalid`: `invalid` is kept for trials that measured nothing about the model's recall (the prompt
was cut, or the answer budget ran out while the model was still thinking).

The rules, in the order `judge` applies them to an answered trial:

1. the answer holds the expected values -> `ok`, whatever came around them;
2. no answer text and the budget ran out while thinking -> `invalid` (thinking budget exhausted);
3. an answer cut by `max_tokens` after thinking -> `invalid` (budget exhausted before the answer
   was finished: the model was not given room to answer);
4. a degenerate answer (below) -> `fail` + `degenerate`;
5. otherwise the task's own score -> `fail` with its reason.

A thinking model run without thinking settings spends every trial's budget on thinking: the first
few answers say so (`thinking_hint`), and the run stops with the flags to pass instead of recording
a grid of `invalid` trials.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from ropeguard.evals.results import LengthStats, TrialRecord

# Answers of the first trials that decide whether a model thinks by default.
THINKING_PROBE_TRIALS = 3
# A unit of 1..MAX_UNIT words that repeats at least MIN_REPEATS times in a row at the end of a cut
# answer is a loop; one word that makes up REPEAT_SHARE of a cut answer's words is one as well.
MAX_UNIT = 8
MIN_REPEATS = 3
REPEAT_SHARE = 0.5
MIN_WORDS_FOR_SHARE = 6

_WORD = re.compile(r"\w+", re.UNICODE)
_LETTER_OR_DIGIT = re.compile(r"[^\W_]", re.UNICODE)

REASON_THINKING_EXHAUSTED = "no answer: max_tokens ran out while thinking"
REASON_CUT_AFTER_THINKING = "answer cut by max_tokens after thinking (budget exhausted)"


def _tail_loop(words: Sequence[str]) -> tuple[int, int] | None:
    """(unit length, repeats) of the longest run of one unit repeated at the end of `words`."""
    best: tuple[int, int] | None = None
    for unit in range(1, MAX_UNIT + 1):
        if unit * MIN_REPEATS > len(words):
            break
        pattern = words[-unit:]
        repeats = 1
        while (repeats + 1) * unit <= len(words) and words[
            -(repeats + 1) * unit : -repeats * unit
        ] == pattern:
            repeats += 1
        if repeats >= MIN_REPEATS and (best is None or repeats * unit > best[0] * best[1]):
            best = (unit, repeats)
    return best


def degenerate_reason(answer: str, finish_reason: str | None) -> str | None:
    """Why an answer is degenerate, or None when it is an answer (right or wrong).

    Degenerate: no letter or digit at all (empty, whitespace, punctuation), or - for an answer cut
    by `max_tokens` - a loop (a short unit repeated at the end, or one word that makes up most of
    the text). A looping answer that stopped by itself is rare and is left to the task's score.
    """
    cut = finish_reason == "length"
    if not _LETTER_OR_DIGIT.search(answer):
        if not answer:
            return "degenerate: empty answer" + (" until max_tokens" if cut else "")
        if not answer.strip():
            return "degenerate: only whitespace" + (" until max_tokens" if cut else "")
        return "degenerate: no words" + (" until max_tokens" if cut else "")
    if not cut:
        return None
    words = [word.lower() for word in _WORD.findall(answer)]
    loop = _tail_loop(words)
    if loop is not None:
        unit, repeats = loop
        text = " ".join(words[-unit:])
        return f"degenerate: {text!r} repeated {repeats} times until max_tokens"
    if len(words) >= MIN_WORDS_FOR_SHARE:
        word, count = Counter(words).most_common(1)[0]
        if count / len(words) >= REPEAT_SHARE:
            return f"degenerate: {word!r} is {count} of {len(words)} words until max_tokens"
    return None


def thinking_hint(
    records: Sequence[TrialRecord], *, no_think: bool, thinking_budget: int | None
) -> str | None:
    """The message for a thinking model run without thinking settings, or None.

    Fires when the first THINKING_PROBE_TRIALS answered trials all ran out of budget while
    thinking, and the run passed neither `--no-think` nor `--thinking-budget`.
    """
    if no_think or thinking_budget is not None:
        return None
    answered = [r for r in records if r.status != "error"]
    if len(answered) < THINKING_PROBE_TRIALS:
        return None
    first = answered[:THINKING_PROBE_TRIALS]
    if all(r.reason in (REASON_THINKING_EXHAUSTED, REASON_CUT_AFTER_THINKING) for r in first):
        return (
            f"the model thinks before it answers: its first {len(first)} answers ran out of "
            "max_tokens while thinking"
        )
    return None


THINKING_FLAGS_HINT = (
    "pass --no-think (switches thinking off in the chat template) or --thinking-budget N "
    "(adds N tokens of room for the thinking to every answer)"
)


def within_window_verdict(
    lengths: dict[int, LengthStats], *, threshold: float, native_context: int | None
) -> str | None:
    """The run-level verdict when recall cannot speak: the model fails the task where it should not.

    Recall past the native window measures the context extension only if the model can do the task
    inside it. When every scored length inside the window (or, with no native window known, the
    shortest scored length) is below `threshold`, recall past it proves nothing either way.
    """
    scored = {length: stats for length, stats in sorted(lengths.items()) if stats.n > 0}
    if not scored:
        return None
    if native_context is not None:
        inside = {length: stats for length, stats in scored.items() if length <= native_context}
        where = f"inside its native window ({native_context} tokens)"
    else:
        first = min(scored)
        inside = {first: scored[first]}
        where = f"at the shortest length measured ({first} tokens)"
    if not inside or any((stats.accuracy or 0.0) >= threshold for stats in inside.values()):
        return None
    best = max((stats.accuracy or 0.0) for stats in inside.values())
    degenerate = sum(stats.degenerate for stats in inside.values())
    note = f"; {degenerate} of its answers there were degenerate" if degenerate else ""
    return (
        f"the model cannot do this task even {where}: recall {best:.2f} < {threshold:.2f}{note}. "
        "Recall past it proves nothing; use the probe (`ropeguard probe`) to measure the extension"
    )
