"""The truncated SPRT for gates: thresholds, truncation, and exact error rates checked by simulation."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ropeguard.evals.sprt import (
    TUNED_MAX_TRIALS,
    SprtDesign,
    _run_distribution,
    fewest_trials_to_pass,
    fixed_sample_error,
    operating_characteristics,
    tuned_design,
)


def test_all_correct_passes_after_wald_bound() -> None:
    design = SprtDesign(gate=0.9, delta=0.1, max_trials=40)
    # Each success adds ln(0.9/0.8); the pass threshold is ln(0.95/0.05).
    need = math.ceil(math.log(0.95 / 0.05) / math.log(0.9 / 0.8))
    assert need == 25
    assert design.decide(need - 1, need - 1) is None
    assert design.decide(need, need) == "pass"
    assert operating_characteristics(design).trials_if_all_correct == need


def test_misses_fail_quickly_and_gate_one_fails_on_first_miss() -> None:
    design = SprtDesign(gate=0.9, delta=0.2, max_trials=20)
    # One miss costs ln(0.1/0.3) ~ -1.10; the fail threshold is ln(0.05/0.95) ~ -2.94.
    assert design.decide(0, 2) is None
    assert design.decide(0, 3) == "fail"
    perfect = SprtDesign(gate=1.0, delta=0.1, max_trials=50)
    assert perfect.decide(10, 11) == "fail"


def test_truncation_always_decides() -> None:
    design = SprtDesign(gate=0.9, delta=0.1, max_trials=8)
    for correct in range(9):
        assert design.decide(correct, 8) in ("pass", "fail")


def test_indifference_zone_must_stay_above_zero() -> None:
    with pytest.raises(ValidationError):
        SprtDesign(gate=0.1, delta=0.1, max_trials=10)


def _simulate(design: SprtDesign, p: float, runs: int, seed: int) -> tuple[float, float]:
    rng = random.Random(seed)
    passes = total = 0
    for _ in range(runs):
        correct = n = 0
        while True:
            n += 1
            correct += rng.random() < p
            if not design.is_look(n):
                continue
            decision = design.decide(correct, n)
            if decision is not None:
                passes += decision == "pass"
                total += n
                break
    return passes / runs, total / runs


@pytest.mark.parametrize(("p", "group"), [(0.7, 1), (0.8, 1), (0.9, 5), (0.97, 5), (0.8, 3)])
def test_exact_distribution_matches_simulation(p: float, group: int) -> None:
    design = SprtDesign(gate=0.9, delta=0.2, max_trials=20, group_size=group)
    exact_pass, exact_trials = _run_distribution(design, p)
    sim_pass, sim_trials = _simulate(design, p, runs=20_000, seed=7)
    # 20,000 runs: the standard error of a proportion is at most 0.0036.
    assert abs(exact_pass - sim_pass) < 0.015
    assert abs(exact_trials - sim_trials) < 0.1


def test_exact_error_rates_near_nominal_with_room_and_worse_when_truncated() -> None:
    roomy = operating_characteristics(SprtDesign(gate=0.9, delta=0.2, max_trials=100))
    # Wald: with room to decide, each error rate is at most about alpha / (1 - beta).
    assert roomy.false_pass <= 0.05 / 0.95
    assert roomy.false_fail <= 0.05 / 0.95
    assert roomy.trials_if_all_correct == math.ceil(math.log(0.95 / 0.05) / math.log(0.9 / 0.7))
    # Cut at 20 trials, many runs are settled by the sign of the llr: the exact rates (which a
    # certificate must state) are well above the nominal ones.
    tight = operating_characteristics(SprtDesign(gate=0.9, delta=0.2, max_trials=20))
    assert tight.false_pass > roomy.false_pass
    assert tight.false_pass > 0.05


@settings(max_examples=40, deadline=None)
@given(
    gate=st.floats(0.5, 1.0),
    delta=st.floats(0.05, 0.4),
    max_trials=st.integers(1, 40),
    low=st.floats(0.0, 1.0),
    high=st.floats(0.0, 1.0),
)
def test_pass_probability_grows_with_recall(
    gate: float, delta: float, max_trials: int, low: float, high: float
) -> None:
    if gate - delta <= 0.0:
        return
    design = SprtDesign(gate=gate, delta=delta, max_trials=max_trials)
    low, high = sorted((low, high))
    assert _run_distribution(design, low)[0] <= _run_distribution(design, high)[0] + 1e-9


def test_looking_once_per_round_decides_at_round_ends() -> None:
    design = SprtDesign(gate=0.9, delta=0.2, max_trials=20, group_size=5)
    # 12 straight successes would pass trial by trial; with looks every 5 the pass comes at 15.
    assert operating_characteristics(design).trials_if_all_correct == 15


def test_designs_past_the_trial_bound_are_refused_before_any_work() -> None:
    from ropeguard.evals.config import EvalConfig
    from ropeguard.evals.sprt import MAX_TRIALS

    with pytest.raises(ValidationError):
        SprtDesign(gate=0.9, delta=0.1, max_trials=MAX_TRIALS + 1)
    with pytest.raises(ValueError, match="at most"):
        EvalConfig(
            base_urls=["http://unused/v1"],
            lengths=[1024],
            depths=[0.5],
            trials=MAX_TRIALS + 1,
            gates={1024: 0.9},
            adaptive=True,
            gate_test="sprt",
        )


@settings(max_examples=60, deadline=None)
@given(
    gate=st.floats(0.5, 1.0),
    delta=st.floats(0.05, 0.4),
    max_trials=st.integers(1, 40),
    group=st.integers(1, 6),
    alpha=st.floats(0.01, 0.3),
)
def test_no_design_passes_all_correct_before_the_bound(
    gate: float, delta: float, max_trials: int, group: int, alpha: float
) -> None:
    if gate - delta <= 0.0 or gate >= 1.0:
        return
    design = SprtDesign(gate=gate, delta=delta, alpha=alpha, max_trials=max_trials, group_size=group)
    oc = operating_characteristics(design)
    pass_all_correct = design.decide(oc.trials_if_all_correct, oc.trials_if_all_correct) == "pass"
    if not pass_all_correct or oc.false_pass <= 0.0:
        return
    bound = fewest_trials_to_pass(design.p0, oc.false_pass, group_size=group, max_trials=max_trials)
    # The exact false-pass rate from the dynamic program is a rate this very design achieves, so
    # the bound must exist and the design cannot beat it.
    assert bound is not None
    assert oc.trials_if_all_correct >= bound


def test_the_bound_is_reached_by_a_fixed_all_or_nothing_test() -> None:
    # The bound is tight: "pass only if the first n answers are all right" has false-pass p0^n.
    p0, group = 0.7, 5
    for false_pass in (0.05, 0.107, 0.2):
        bound = fewest_trials_to_pass(p0, false_pass, group_size=group, max_trials=20)
        assert bound is not None
        assert p0**bound <= false_pass
        if bound - group >= group:
            assert p0 ** (bound - group) > false_pass
    assert fewest_trials_to_pass(0.7, 1e-6, group_size=5, max_trials=20) is None


def test_certify_shape_cannot_reach_three_times_fewer_trials_per_length() -> None:
    # certify's usual gate: 0.9, indifference 0.2, 4 rounds of 5 depths. Whatever the boundaries,
    # a test with this design's exact false-pass rate needs `bound` straight successes.
    design = SprtDesign(gate=0.9, delta=0.2, max_trials=20, group_size=5)
    oc = operating_characteristics(design)
    bound = fewest_trials_to_pass(design.p0, oc.false_pass, group_size=5, max_trials=20)
    assert bound is not None
    assert 20 / bound < 3.0
    assert oc.trials_if_all_correct >= bound


def _binomial_tail(n: int, k: int, p: float) -> float:
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))


def test_fixed_sample_error_is_the_best_cut() -> None:
    # gate 0.9, indifference 0.2, 20 trials: "pass with 17 or more" is the best cut,
    # P(X >= 17 | 0.7) = 0.107 and P(X < 17 | 0.9) = 0.133 (binomial tails, by hand below).
    assert fixed_sample_error(0.7, 0.9, 20) == pytest.approx(1 - _binomial_tail(20, 17, 0.9))
    assert _binomial_tail(20, 17, 0.7) == pytest.approx(0.107, abs=5e-4)
    for k in range(22):
        worst = max(_binomial_tail(20, k, 0.7), 1 - _binomial_tail(20, k, 0.9))
        assert worst >= fixed_sample_error(0.7, 0.9, 20) - 1e-12


def test_tuned_design_for_certify_shape_halves_an_all_correct_length() -> None:
    design = tuned_design(0.9, 0.2, max_trials=20, group_size=5)
    oc = operating_characteristics(design)
    wald = operating_characteristics(SprtDesign(gate=0.9, delta=0.2, max_trials=20, group_size=5))
    target = fixed_sample_error(0.7, 0.9, 20)
    assert oc.trials_if_all_correct == 10 and wald.trials_if_all_correct == 15
    # The lower bound over every design with this false pass rate (fewest_trials_to_pass) is met.
    assert fewest_trials_to_pass(0.7, oc.false_pass, group_size=5, max_trials=20) == 10
    assert max(oc.false_pass, oc.false_fail) <= target
    assert oc.false_pass == pytest.approx(0.1164, abs=1e-3) and oc.false_fail == pytest.approx(
        0.1302, abs=1e-3
    )


@settings(max_examples=25, deadline=None)
@given(
    gate=st.floats(0.6, 0.95),
    delta=st.floats(0.1, 0.3),
    rounds=st.integers(1, 8),
    group=st.integers(1, 6),
)
def test_tuned_design_is_never_worse_than_the_fixed_test(
    gate: float, delta: float, rounds: int, group: int
) -> None:
    budget = rounds * group
    design = tuned_design(gate, delta, max_trials=budget, group_size=group)
    oc = operating_characteristics(design)
    target = fixed_sample_error(gate - delta, gate, budget)
    if design.upper_llr is None:  # fell back to Wald's thresholds: nothing promised beyond those
        return
    assert max(oc.false_pass, oc.false_fail) <= target + 1e-9


@pytest.mark.parametrize("p", [0.7, 0.9, 1.0])
def test_tuned_rates_match_simulation(p: float) -> None:
    design = tuned_design(0.9, 0.2, max_trials=20, group_size=5)
    exact_pass, exact_trials = _run_distribution(design, p)
    sim_pass, sim_trials = _simulate(design, p, runs=20_000, seed=11)
    assert abs(exact_pass - sim_pass) < 0.015 and abs(exact_trials - sim_trials) < 0.1


def test_tuned_budget_is_bounded_before_any_work() -> None:
    with pytest.raises(ValueError, match="at most"):
        tuned_design(0.9, 0.2, max_trials=TUNED_MAX_TRIALS + 1, group_size=5)
