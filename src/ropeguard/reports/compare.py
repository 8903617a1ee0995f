"""Paired comparison of two eval runs: exact McNemar on trials that share an id.

Two runs of the same grid (same task, lengths, depths, trials and seed) ask the same prompts, so each
trial id pairs an answer from run A with one from run B. Only the discordant pairs carry evidence:
`a_only` (A right, B wrong) and `b_only` (A wrong, B right). Under "no difference" each discordant
pair is a fair coin, so the exact two-sided McNemar p-value is the binomial tail

    p = min(1, 2 * sum_{k <= min(a_only, b_only)} C(n, k) / 2^n),  n = a_only + b_only

computed with integers (no normal approximation, which is wrong for the handful of discordant pairs a
small grid gives). Verdict at `alpha` (default 0.05): B "better" / "worse" than A, or "no significant
difference". The overall verdict pools all lengths; per-length verdicts are shown for reading, not
corrected for multiple comparisons.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ropeguard.errors import UsageError
from ropeguard.evals.results import Run, TrialRecord
from ropeguard.evals.stats import paired

COMPARE_SCHEMA_VERSION = 1
DEFAULT_ALPHA = 0.05

Verdict = Literal["better", "worse", "no significant difference"]


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value for discordant counts (A-only right, B-only right)."""
    if a_only < 0 or b_only < 0:
        raise ValueError("discordant counts must be non-negative")
    n = a_only + b_only
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(a_only, b_only) + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PairedStats(_Model):
    pairs: int = Field(description="trial ids scored (ok or fail) in both runs")
    a_correct: int
    b_correct: int
    a_accuracy: float | None
    b_accuracy: float | None
    delta: float | None = Field(description="b_accuracy - a_accuracy")
    a_only: int = Field(description="discordant: A right, B wrong")
    b_only: int = Field(description="discordant: A wrong, B right")
    p_value: float
    verdict: Verdict


class RunLabel(_Model):
    path: str | None
    model: str
    hf_overrides: dict[str, object] | None = None


class Comparison(_Model):
    schema_version: int = COMPARE_SCHEMA_VERSION
    run_a: RunLabel
    run_b: RunLabel
    alpha: float
    overall: PairedStats
    lengths: dict[int, PairedStats]
    unpaired_a: int = Field(description="trials of A with no trial of the same id in B")
    unpaired_b: int
    unscored_pairs: int = Field(description="pairs where either side is invalid or an error")
    warnings: list[str] = Field(default_factory=list)


def _stats(pairs: list[tuple[TrialRecord, TrialRecord]], alpha: float) -> PairedStats:
    n = len(pairs)
    a_correct = sum(1 for a, _ in pairs if a.status == "ok")
    b_correct = sum(1 for _, b in pairs if b.status == "ok")
    a_only = sum(1 for a, b in pairs if a.status == "ok" and b.status == "fail")
    b_only = sum(1 for a, b in pairs if a.status == "fail" and b.status == "ok")
    p = mcnemar_exact(a_only, b_only)
    verdict: Verdict = "no significant difference"
    if p < alpha:
        verdict = "better" if b_only > a_only else "worse"
    a_acc = a_correct / n if n else None
    b_acc = b_correct / n if n else None
    return PairedStats(
        pairs=n,
        a_correct=a_correct,
        b_correct=b_correct,
        a_accuracy=a_acc,
        b_accuracy=b_acc,
        delta=None if a_acc is None or b_acc is None else b_acc - a_acc,
        a_only=a_only,
        b_only=b_only,
        p_value=p,
        verdict=verdict,
    )


def compare_runs(run_a: Run, run_b: Run, alpha: float = DEFAULT_ALPHA) -> Comparison:
    """Pair the trials of two runs by trial id and test whether B differs from A (exact McNemar)."""
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha {alpha}: must be between 0 and 1")
    matched = paired(run_a.trials, run_b.trials)
    if not matched:
        raise UsageError(
            "the two runs share no trial id: they are not the same grid",
            hint="re-run B with the same --task, --lengths, --depths, --trials and --seed as A",
        )
    b_ids = {t.trial_id for t in run_b.trials}
    a_ids = {t.trial_id for t in run_a.trials}
    scored = [(a, b) for a, b in matched if a.scored and b.scored]
    by_length: dict[int, list[tuple[TrialRecord, TrialRecord]]] = {}
    for a, b in scored:
        by_length.setdefault(a.length, []).append((a, b))
    warnings: list[str] = []
    if run_a.info.config.task != run_b.info.config.task:
        warnings.append(f"different tasks: {run_a.info.config.task} vs {run_b.info.config.task}")
    return Comparison(
        run_a=_label(run_a),
        run_b=_label(run_b),
        alpha=alpha,
        overall=_stats(scored, alpha),
        lengths={length: _stats(pairs, alpha) for length, pairs in sorted(by_length.items())},
        unpaired_a=sum(1 for t in run_a.trials if t.trial_id not in b_ids),
        unpaired_b=sum(1 for t in run_b.trials if t.trial_id not in a_ids),
        unscored_pairs=len(matched) - len(scored),
        warnings=warnings,
    )


def _label(run: Run) -> RunLabel:
    return RunLabel(
        path=str(run.directory) if run.directory is not None else None,
        model=run.info.server.model,
        hf_overrides=run.info.server.hf_overrides,
    )


def render_comparison_text(result: Comparison) -> str:
    """The table `compare` prints: one row per length, then the overall verdict."""

    def fmt(value: float | None) -> str:
        return "  -  " if value is None else f"{value:5.2f}"

    lines = [
        f"A: {result.run_a.path or result.run_a.model}",
        f"B: {result.run_b.path or result.run_b.model}",
        f"{'length':>8} {'pairs':>6} {'A':>6} {'B':>6} {'delta':>7} "
        f"{'A only':>7} {'B only':>7} {'p':>8}  verdict",
    ]
    rows = [(str(length), stats) for length, stats in result.lengths.items()]
    rows.append(("all", result.overall))
    for name, s in rows:
        delta = "   -   " if s.delta is None else f"{s.delta:+7.2f}"
        lines.append(
            f"{name:>8} {s.pairs:>6} {fmt(s.a_accuracy):>6} {fmt(s.b_accuracy):>6} {delta:>7} "
            f"{s.a_only:>7} {s.b_only:>7} {s.p_value:>8.4f}  {s.verdict}"
        )
    lines.append(
        f"B vs A: {result.overall.verdict} (exact McNemar, alpha {result.alpha}); "
        f"unpaired A {result.unpaired_a}, unpaired B {result.unpaired_b}, "
        f"unscored pairs {result.unscored_pairs}"
    )
    lines.extend(f"warning: {w}" for w in result.warnings)
    return "\n".join(lines)
