"""The sentences every report tells, built from the measured numbers (never written in advance).

The terminal table, the HTML report, the PNG title and the demo all say the same things in the
same words, so a newcomer who has never heard of RoPE reads one story:

- `effective_context_lines`: the effective context as a point estimate, then what the 95% intervals
  allow. With few trials a perfect score cannot prove recall >= the threshold (10 of 10 right proves
  only >= 0.72 at 95%), so a missing lower bound is said as "not proven with N prompts per length
  (M would)" instead of "none", which read as if the run had failed.
- `recall_falls`: where recall leaves the threshold and what it falls to, length by length.
- `served_mismatch`: the headline when the server accepts prompts (its max length) far longer than
  the ones it can recall from: the silent failure this tool exists to find.
"""

from __future__ import annotations

import math

from ropeguard.evals.results import Summary
from ropeguard.evals.stats import Z95, wilson
from ropeguard.lengths import format_token_count

# What the passkey task hides and asks for, in words for someone who has not read the task's code.
TASK_WORDS = {
    "passkey": "a passkey (a number hidden once in long filler text; the model is asked to repeat it)",
}


def task_words(task: str | None) -> str:
    """What the task asks the model to recall, in plain words."""
    if task is None:
        return "the needle hidden in the prompt"
    return TASK_WORDS.get(task, f"the needle(s) of the {task!r} task hidden in the prompt")


def tokens(count: int) -> str:
    """2048 -> '2048 tokens' (k-counts as the tables print them in parentheses: '2k = 2048 tokens')."""
    short = format_token_count(count)
    return f"{count} tokens" if short == str(count) else f"{short} ({count} tokens)"


def trials_to_prove(threshold: float) -> int | None:
    """The fewest trials per length for which all-right clears `threshold` at its Wilson 95% lower
    bound (0.9 -> 35): fewer cannot prove the threshold, however good the model. None for 1.0."""
    if threshold >= 1.0:
        return None
    if threshold <= 0.0:
        return 1
    # All right: the Wilson lower bound is n / (n + z^2), so n >= t z^2 / (1 - t); checked against
    # `wilson` itself because rounding at the boundary must agree with what the tables print.
    n = max(1, math.floor(threshold * Z95 * Z95 / (1.0 - threshold)))
    while wilson(n, n)[0] < threshold:
        n += 1
    return n


def _fewest_scored(summary: Summary) -> int:
    counts = [stats.n for stats in summary.lengths.values() if stats.n > 0]
    return min(counts) if counts else 0


def effective_context_lines(summary: Summary) -> list[str]:
    """Two lines: the effective context (point estimate), then its 95% range in words."""
    threshold = summary.effective_context_threshold
    effective = summary.effective_context
    n = _fewest_scored(summary)
    per_length = f"{n} prompt{'s' if n != 1 else ''} per length" if n else "no scored prompt"
    if effective is None:
        first = (
            f"effective context: none (recall is below {threshold:.2f} already at the shortest length; "
            f"{per_length})"
        )
    else:
        first = (
            f"effective context: {format_token_count(effective)} (the longest length with recall >= "
            f"{threshold:.2f} there and at every shorter one; {per_length})"
        )
    low, high = summary.effective_context_low, summary.effective_context_high
    if low is None and high is None:
        if effective is None and n:
            return [first, "95% range: none: even the upper bounds are below the threshold"]
        return [first]
    needed = trials_to_prove(threshold)
    high_text = format_token_count(high) if high is not None else "none"
    if low is not None:
        second = f"95% range: {format_token_count(low)} .. {high_text}"
    elif n and needed is not None and n < needed:
        # Rounded down: "33 of 33 proves only >= 0.90" would read as a pass of 0.90.
        all_right = math.floor(wilson(n, n)[0] * 100) / 100
        depths = len({cell.depth for cell in summary.cells}) or 1
        second = (
            f"95% range: at most {high_text}; at least: not proven with {n} prompts per length "
            f"({n}/{n} right proves only >= {all_right:.2f}; --trials {math.ceil(needed / depths)} "
            f"gives the {needed}+ per length that can)"
        )
    else:
        second = f"95% range: not proven at any length .. {high_text}"
    return [first, second]


def _scored(summary: Summary) -> list[tuple[int, float]]:
    return [
        (length, stats.accuracy)
        for length, stats in sorted(summary.lengths.items())
        if stats.accuracy is not None and stats.n > 0
    ]


def recall_falls(summary: Summary) -> str | None:
    """'recall stays >= 0.90 up to 2k, then falls: 0.80 at 4k, 0.20 at 8k'; None when it never falls."""
    threshold = summary.effective_context_threshold
    scored = _scored(summary)
    below = [(length, value) for length, value in scored if value < threshold]
    if not below:
        return None
    first_below = below[0][0]
    after = ", ".join(
        f"{value:.2f} at {format_token_count(length)}" for length, value in scored if length >= first_below
    )
    held = [length for length, value in scored if length < first_below]
    if not held:
        return f"recall is below {threshold:.2f} from the shortest length on: {after}"
    return f"recall stays >= {threshold:.2f} up to {format_token_count(held[-1])}, then falls: {after}"


def served_mismatch(summary: Summary, served_max: int | None) -> str | None:
    """The headline when recall gives out well inside the max length the server accepts.

    Only a measured failure counts: a grid that stopped short of the served length with every length
    passing is `unmeasured_range`, a note, not this."""
    if served_max is None:
        return None
    threshold = summary.effective_context_threshold
    scored = _scored(summary)
    failing = [length for length, value in scored if length <= served_max and value < threshold]
    if not failing:
        return None
    effective = summary.effective_context
    holds = (
        f"recall holds (>= {threshold:.2f}) only to {tokens(effective)}"
        if effective is not None
        else f"recall is below {threshold:.2f} at every length measured"
    )
    return (
        f"Served max length {tokens(served_max)}, but {holds}: the server accepts prompts it cannot "
        "recall from, and answers them with 200 OK"
    )


def unmeasured_range(summary: Summary, served_max: int | None) -> str | None:
    """A note when the grid stopped short of the served max length (nothing is known beyond it)."""
    scored = _scored(summary)
    if served_max is None or not scored or max(length for length, _ in scored) >= served_max:
        return None
    longest = max(length for length, _ in scored)
    return (
        f"measured up to {tokens(longest)} of the served max length {tokens(served_max)}: "
        "recall beyond it is unknown"
    )
