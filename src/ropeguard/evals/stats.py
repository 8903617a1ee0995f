"""Intervals, aggregation and the effective context: pure functions of finished trials.

- `wilson(k, n)`: the Wilson score interval (default 95%). Used for every reported cell and length:
  unlike the normal approximation it stays inside [0, 1] and is sensible at 0/n and n/n, which is
  where recall grids live.
- `clopper_pearson(k, n, alpha)`: the exact binomial interval, used by the adaptive sequential test
  because its coverage is guaranteed (never below 1 - alpha) for every n, which is what lets the
  test state its error rate.
- `effective_context(...)`: the largest length whose accuracy stays >= threshold at it and at every
  shorter length; the same walk over the Wilson lower / upper bounds gives a pessimistic / optimistic
  range for it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from ropeguard.evals.results import CellStats, GateVerdict, LengthStats, Summary, TrialRecord
from ropeguard.evals.verdicts import within_window_verdict

Z95 = 1.959963984540054


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for `correct` successes out of `n`; (0, 1) when n == 0."""
    if n < 0 or correct < 0 or correct > n:
        raise ValueError(f"need 0 <= correct <= n, got {correct}/{n}")
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # The closed form can land a hair outside [0, 1] or miss p itself at the ends by rounding.
    low = 0.0 if correct == 0 else max(0.0, min(p, centre - half))
    high = 1.0 if correct == n else min(1.0, max(p, centre + half))
    return low, high


def _binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (n is at most a few thousand)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        for i in range(k + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _solve_decreasing(function_of_p: object, target: float) -> float:
    """p in [0, 1] with f(p) == target for f decreasing in p (bisection to 1e-10)."""
    f = function_of_p
    assert callable(f)
    low, high = 0.0, 1.0
    for _ in range(80):
        middle = (low + high) / 2
        if f(middle) > target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def clopper_pearson_lower(correct: int, n: int, alpha: float) -> float:
    """One-sided exact lower bound: P(true p < bound) <= alpha."""
    if correct == 0:
        return 0.0
    # Lower bound p_L solves P(X >= k | p_L) = alpha, i.e. cdf(k-1 | p_L) = 1 - alpha (decreasing in p).
    return _solve_decreasing(lambda p: _binomial_cdf(correct - 1, n, p), 1 - alpha)


def clopper_pearson_upper(correct: int, n: int, alpha: float) -> float:
    """One-sided exact upper bound: P(true p > bound) <= alpha."""
    if correct == n:
        return 1.0
    # Upper bound p_U solves P(X <= k | p_U) = alpha.
    return _solve_decreasing(lambda p: _binomial_cdf(correct, n, p), alpha)


def clopper_pearson(correct: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided exact interval at level 1 - alpha."""
    if n == 0:
        return 0.0, 1.0
    return clopper_pearson_lower(correct, n, alpha / 2), clopper_pearson_upper(correct, n, alpha / 2)


def effective_context(values: Sequence[tuple[int, float | None]], threshold: float) -> int | None:
    """Largest length whose value is >= threshold at it and at all shorter lengths.

    `values` are (length, accuracy-or-bound) pairs; a length with no scored trials (None) ends the
    walk, because nothing can be claimed for it or beyond.
    """
    best: int | None = None
    for length, value in sorted(values):
        if value is None or value < threshold:
            break
        best = length
    return best


def _prompt_tokens(trial: TrialRecord) -> int:
    if trial.status == "error":
        return 0
    return trial.usage_prompt_tokens or trial.prompt_tokens or 0


def summarize(
    trials: Iterable[TrialRecord],
    *,
    lengths: Sequence[int] | None = None,
    depths: Sequence[float] | None = None,
    threshold: float = 0.9,
    task: str | None = None,
    native_context: int | None = None,
) -> Summary:
    """Per-cell and per-length accuracy with Wilson intervals, and the effective context.

    `lengths` / `depths` name the grid so that empty cells still appear (n = 0); trials outside the
    grid are kept too (their own cells).
    """
    trials = list(trials)
    cell_trials: dict[tuple[int, float], list[TrialRecord]] = defaultdict(list)
    for trial in trials:
        cell_trials[(trial.length, round(trial.depth, 6))].append(trial)
    all_lengths = sorted(set(lengths or ()) | {length for length, _ in cell_trials})
    all_depths = sorted({round(d, 6) for d in depths or ()} | {depth for _, depth in cell_trials})

    cells: list[CellStats] = []
    per_length: dict[int, LengthStats] = {}
    for length in all_lengths:
        totals = {"n": 0, "correct": 0, "invalid": 0, "errors": 0, "degenerate": 0}
        sent: list[int] = []
        for depth in all_depths:
            group = cell_trials.get((length, depth), [])
            if not group and (lengths is None or depths is None):
                continue
            n = sum(1 for t in group if t.scored)
            correct = sum(1 for t in group if t.status == "ok")
            invalid = sum(1 for t in group if t.status == "invalid")
            errors = sum(1 for t in group if t.status == "error")
            low, high = wilson(correct, n)
            cells.append(
                CellStats(
                    length=length,
                    depth=depth,
                    n=n,
                    correct=correct,
                    accuracy=correct / n if n else None,
                    ci_low=low,
                    ci_high=high,
                    invalid=invalid,
                    errors=errors,
                )
            )
            totals["n"] += n
            totals["correct"] += correct
            totals["invalid"] += invalid
            totals["errors"] += errors
            totals["degenerate"] += sum(1 for t in group if t.scored and t.degenerate)
            sent.extend(t.prompt_tokens for t in group if t.prompt_tokens is not None)
        low, high = wilson(totals["correct"], totals["n"])
        per_length[length] = LengthStats(
            accuracy=totals["correct"] / totals["n"] if totals["n"] else None,
            ci_low=low,
            ci_high=high,
            n=totals["n"],
            correct=totals["correct"],
            invalid=totals["invalid"],
            errors=totals["errors"],
            degenerate=totals["degenerate"],
            degenerate_rate=totals["degenerate"] / totals["n"] if totals["n"] else None,
            mean_prompt_tokens=sum(sent) / len(sent) if sent else None,
        )

    def walk(pick: str) -> int | None:
        values: list[tuple[int, float | None]] = []
        for length, stats in per_length.items():
            values.append((length, None if stats.n == 0 else getattr(stats, pick)))
        return effective_context(values, threshold)

    status_counts = {status: 0 for status in ("ok", "fail", "invalid", "error")}
    for trial in trials:
        status_counts[trial.status] += 1
    return Summary(
        task=task,
        lengths=per_length,
        cells=cells,
        effective_context=walk("accuracy"),
        effective_context_threshold=threshold,
        effective_context_low=walk("ci_low"),
        effective_context_high=walk("ci_high"),
        trials=len(trials),
        status_counts=status_counts,
        prompt_tokens_sent=sum(_prompt_tokens(t) for t in trials),
        verdict=within_window_verdict(per_length, threshold=threshold, native_context=native_context),
    )


def sequential_verdict(
    correct: int, n: int, gate: float, *, alpha: float, looks: int
) -> tuple[str | None, float, float]:
    """One look of the adaptive test: 'pass', 'fail' or None (keep sampling), with the bounds used.

    Each look spends alpha / looks (Bonferroni over the planned looks), so over all looks the
    chance of a wrong decisive verdict for this length is at most alpha, whatever the true accuracy:
    'pass' when the exact one-sided lower bound is >= gate, 'fail' when the upper bound is < gate.
    """
    spend = alpha / max(1, looks)
    low = clopper_pearson_lower(correct, n, spend) if n else 0.0
    high = clopper_pearson_upper(correct, n, spend) if n else 1.0
    if n and low >= gate:
        return "pass", low, high
    if n and high < gate:
        return "fail", low, high
    return None, low, high


def gate_passed(verdict: GateVerdict) -> bool:
    """The one rule: a decided verdict is what it says; an undecided one counts by its point
    estimate against its gate (no scored trial: not passed)."""
    if verdict.verdict == "undecided":
        return verdict.n > 0 and verdict.correct / verdict.n >= verdict.gate
    return verdict.verdict == "pass"


def effective_context_from_verdicts(verdicts: Sequence[GateVerdict]) -> int | None:
    """Adaptive runs: the largest tested length that passed with no tested shorter length failing.

    Untested lengths (skipped by the bisection) are not evidence either way; the bisection's
    assumption - accuracy does not rise again with length - is what lets it skip them. An
    undecided length counts by its point estimate against its gate.
    """
    best: int | None = None
    for verdict in sorted(verdicts, key=lambda v: v.length):
        if not gate_passed(verdict):
            break
        best = verdict.length
    return best


def paired(
    first: Iterable[TrialRecord], second: Iterable[TrialRecord]
) -> list[tuple[TrialRecord, TrialRecord]]:
    """Trials of two runs that share a trial id (same task, length, depth, index and seed)."""
    by_id = {t.trial_id: t for t in second}
    return [(t, by_id[t.trial_id]) for t in first if t.trial_id in by_id]
