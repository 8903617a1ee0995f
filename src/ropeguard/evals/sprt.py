"""A truncated sequential probability ratio test (Wald) for one recall gate, with exact error rates.

The question a gate asks is "is recall at this length at least `gate`?". An exact one-sided test
cannot say "yes" early: with a gate of 0.9 it needs 29 straight successes (0.9^29 < 0.05), more than
most grids hold, so it never stops early on a passing server. An indifference zone makes the
question decidable early: the test tells

    H1: recall >= gate            (pass)
    H0: recall <= gate - delta    (fail)

apart and promises nothing for a recall inside (gate - delta, gate). After n scored trials with s
correct, the log-likelihood ratio of H1 (p1 = gate) against H0 (p0 = gate - delta) is

    llr = s * ln(p1 / p0) + (n - s) * ln((1 - p1) / (1 - p0))

and the test passes once llr >= ln((1 - beta) / alpha), fails once llr <= ln(beta / (1 - alpha)),
and otherwise samples on. At `max_trials` an undecided test is settled by the sign of llr.

Wald's thresholds give error rates of about alpha and beta; because the test is truncated and the
trials are discrete, `operating_characteristics` computes the exact ones by dynamic programming over
(n, s): the exact chance of passing when recall is p0 and of failing when it is p1. The test is
monotone in the true recall, so these bound the errors for every recall outside the indifference zone.

Tuned thresholds (`tuned_design`, `--gate-test tuned`)
------------------------------------------------------
With a small budget Wald's thresholds are far from what the budget allows: gate 0.9, delta 0.2 and 20
trials in rounds of 5 give exact rates of 0.107 / 0.133 (not the nominal 0.05: no test of 20 trials
does better than the fixed-sample one, "pass with 17 or more of 20", at 0.107 / 0.133), and an
all-correct length passes only after 15 trials. `tuned_design` keeps the test's form (llr against two
thresholds, the sign at the end) and picks the thresholds instead: the earliest look at which an
all-correct length can pass, and the highest fail threshold, such that both exact error rates stay
at or below the larger error rate of the best fixed-sample test with the same budget. So the tuned
test is never worse on its larger error than the full grid judged by a cut, and it stops as early
as that allows (for the design above: an all-correct length passes after 10 trials, 2x, with exact
rates 0.117 / 0.129, against the fixed test's 0.107 / 0.133).
"""

from __future__ import annotations

import functools
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Decision = Literal["pass", "fail"]

# The exact error rates cost O(max_trials^2) arithmetic in the worst case (one look at the end: no
# run is absorbed early): about 1.5 s at 2,000 trials, 27 s at 10,000. Bounded before any work.
MAX_TRIALS = 5_000


class SprtDesign(BaseModel):
    """One gate's sequential test: what it separates, its nominal error rates and its trial budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gate: float = Field(gt=0.0, le=1.0, description="recall at or above which the length passes")
    delta: float = Field(default=0.1, gt=0.0, lt=1.0, description="width of the indifference zone")
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5, description="nominal P(pass | recall <= gate-delta)")
    beta: float = Field(default=0.05, gt=0.0, lt=0.5, description="nominal P(fail | recall >= gate)")
    max_trials: int = Field(ge=1, le=MAX_TRIALS, description="trials after which the test must decide")
    group_size: int = Field(
        default=1, ge=1, description="trials between looks (adaptive runs look once per round of depths)"
    )
    upper_llr: float | None = Field(default=None, description="pass threshold; None: Wald's, from alpha/beta")
    lower_llr: float | None = Field(default=None, description="fail threshold; None: Wald's, from alpha/beta")

    @model_validator(mode="after")
    def _zone_inside_unit_interval(self) -> SprtDesign:
        if self.gate - self.delta <= 0.0:
            raise ValueError(f"gate - delta must be above 0 (gate {self.gate}, delta {self.delta})")
        return self

    @property
    def p0(self) -> float:
        return self.gate - self.delta

    @property
    def p1(self) -> float:
        return self.gate

    @property
    def upper(self) -> float:
        """llr at or above which the test passes."""
        return self.upper_llr if self.upper_llr is not None else math.log((1.0 - self.beta) / self.alpha)

    @property
    def lower(self) -> float:
        """llr at or below which the test fails."""
        return self.lower_llr if self.lower_llr is not None else math.log(self.beta / (1.0 - self.alpha))

    def looks(self) -> list[int]:
        """The trial counts after which the test looks."""
        return [n for n in range(1, self.max_trials + 1) if self.is_look(n)]

    def llr(self, correct: int, n: int) -> float:
        """Log-likelihood ratio of H1 against H0 after `correct` of `n` (-inf: a miss ruled out p1 = 1)."""
        if not 0 <= correct <= n:
            raise ValueError(f"correct must be in 0..n, got {correct} of {n}")
        misses = n - correct
        value = correct * math.log(self.p1 / self.p0)
        if misses:
            if self.p1 >= 1.0:
                return -math.inf
            value += misses * math.log((1.0 - self.p1) / (1.0 - self.p0))
        return value

    def decide(self, correct: int, n: int, *, final: bool = False) -> Decision | None:
        """'pass', 'fail', or None to sample on; at `max_trials` (or when `final`) always a decision."""
        value = self.llr(correct, n)
        if value >= self.upper:
            return "pass"
        if value <= self.lower:
            return "fail"
        if final or n >= self.max_trials:
            return "pass" if value > 0.0 else "fail"
        return None

    def is_look(self, n: int) -> bool:
        """Whether the test looks after the n-th trial (every `group_size` trials, and at the end)."""
        return n % self.group_size == 0 or n >= self.max_trials


class OperatingCharacteristics(BaseModel):
    """Exact properties of a design (what the certificate states)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    false_pass: float = Field(
        description="exact P(pass) when recall = gate - delta (bounds every lower recall)"
    )
    false_fail: float = Field(description="exact P(fail) when recall = gate (bounds every higher recall)")
    expected_trials_at_gate: float
    expected_trials_at_p0: float
    trials_if_all_correct: int


def _run_distribution(design: SprtDesign, p: float) -> tuple[float, float]:
    """(P(pass), E[trials]) when every trial is correct with probability p, exactly."""
    # alive[s] = probability of having s correct after n trials with no decision yet.
    alive = {0: 1.0}
    passed = expected = 0.0
    for n in range(1, design.max_trials + 1):
        step: dict[int, float] = {}
        for s, mass in alive.items():
            if mass == 0.0:
                continue
            step[s + 1] = step.get(s + 1, 0.0) + mass * p
            step[s] = step.get(s, 0.0) + mass * (1.0 - p)
        if not design.is_look(n):
            alive = step
            continue
        alive = {}
        for s, mass in step.items():
            decision = design.decide(s, n)
            if decision is None:
                alive[s] = mass
                continue
            expected += n * mass
            if decision == "pass":
                passed += mass
        if not alive:
            break
    return passed, expected


def operating_characteristics(design: SprtDesign) -> OperatingCharacteristics:
    """The design's exact error rates and expected sample sizes (O(max_trials^2) arithmetic)."""
    pass_at_p0, trials_at_p0 = _run_distribution(design, design.p0)
    pass_at_p1, trials_at_p1 = _run_distribution(design, design.p1)
    all_correct = next(
        n for n in range(1, design.max_trials + 1) if design.is_look(n) and design.decide(n, n) is not None
    )
    return OperatingCharacteristics(
        false_pass=pass_at_p0,
        false_fail=1.0 - pass_at_p1,
        expected_trials_at_gate=trials_at_p1,
        expected_trials_at_p0=trials_at_p0,
        trials_if_all_correct=all_correct,
    )


def fewest_trials_to_pass(p0: float, false_pass: float, *, group_size: int, max_trials: int) -> int | None:
    """The fewest trials after which ANY test looking every `group_size` trials can pass a length
    whose answers are all right, if its chance of passing at recall p0 is at most `false_pass`.

    Why it bounds every design: a test that passes the all-correct run after n trials passes at
    least that run when recall is p0, which happens with probability p0^n, so p0^n <= false_pass.
    On a server that answers everything right no test with that error rate can save more than
    max_trials / this. None: no look within max_trials is late enough (only an error rate above
    p0^max_trials can be had in this budget).
    """
    if not 0.0 < p0 < 1.0 or not 0.0 < false_pass < 1.0:
        raise ValueError(f"p0 and false_pass must be in (0, 1), got {p0} and {false_pass}")
    if group_size < 1 or max_trials < 1:
        raise ValueError("group_size and max_trials must be at least 1")
    need = math.ceil(math.log(false_pass) / math.log(p0) - 1e-12)
    looks = [n for n in range(group_size, max_trials + 1, group_size)]
    if max_trials % group_size:
        looks.append(max_trials)  # the test always looks at the end (SprtDesign.is_look)
    return next((n for n in looks if n >= need), None)


# Tuning runs O(looks * log(candidates)) exact evaluations of O(max_trials^2) each: bounded first.
TUNED_MAX_TRIALS = 200


def fixed_sample_error(p0: float, p1: float, trials: int) -> float:
    """The smallest larger-error any "pass with k or more of `trials`" test reaches:
    min over k of max(P(X >= k | p0), P(X < k | p1)), X binomial."""

    def at_least(k: int, p: float) -> float:
        return sum(math.comb(trials, j) * p**j * (1.0 - p) ** (trials - j) for j in range(k, trials + 1))

    return min(max(at_least(k, p0), 1.0 - at_least(k, p1)) for k in range(trials + 2))


@functools.lru_cache(maxsize=64)  # every gated length of a run with one gate asks for the same design
def tuned_design(gate: float, delta: float, *, max_trials: int, group_size: int) -> SprtDesign:
    """The truncated SPRT whose thresholds stop an all-correct length soonest while both exact error
    rates stay at or below `fixed_sample_error` for the same budget (see the module doc).

    Falls back to Wald's thresholds (alpha = beta = 0.05) when no look before the last can pass.
    """
    if max_trials > TUNED_MAX_TRIALS:
        raise ValueError(f"the tuned gate test takes at most {TUNED_MAX_TRIALS} trials a length")
    base = SprtDesign(gate=gate, delta=delta, max_trials=max_trials, group_size=group_size)
    target = fixed_sample_error(base.p0, base.p1, max_trials) + 1e-12
    looks = base.looks()
    candidates = sorted({base.llr(s, n) for n in looks for s in range(n + 1)} - {-math.inf})
    for first_pass in looks:
        upper = base.llr(first_pass, first_pass) - 1e-9
        lowers = [value for value in candidates if value < upper]
        if not lowers:
            continue

        def design(lower: float, upper: float = upper) -> SprtDesign:
            return base.model_copy(update={"upper_llr": upper, "lower_llr": lower})

        # The false fail rate grows with the fail threshold: the highest threshold that keeps it
        # within the target fails low recall soonest, and leaves the false pass rate its lowest.
        if operating_characteristics(design(lowers[0])).false_fail > target:
            continue
        low, high = 0, len(lowers) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if operating_characteristics(design(lowers[middle])).false_fail <= target:
                low = middle
            else:
                high = middle - 1
        chosen = design(lowers[low])
        if operating_characteristics(chosen).false_pass <= target:
            return chosen
    return base
