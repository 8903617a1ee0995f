import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ropeguard.evals.results import TrialRecord
from ropeguard.evals.stats import (
    _binomial_cdf,
    clopper_pearson,
    clopper_pearson_lower,
    clopper_pearson_upper,
    effective_context,
    paired,
    sequential_verdict,
    summarize,
    wilson,
)


def test_wilson_known_values() -> None:
    # Reference values of the Wilson score interval (z = 1.96) computed by hand from the formula.
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4901624, abs=1e-6)
    assert high == pytest.approx(0.9433178, abs=1e-6)
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(10, 10)
    assert high == 1.0 and low == pytest.approx(0.7224672, abs=1e-6)
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775328, abs=1e-6)


@given(st.integers(min_value=1, max_value=400), st.data())
def test_wilson_contains_the_estimate(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=n))
    low, high = wilson(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson(3, 2)


def test_binomial_cdf_matches_direct_sum() -> None:
    n, p = 12, 0.3
    direct = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(5))
    assert _binomial_cdf(4, n, p) == pytest.approx(direct, rel=1e-12)


def test_clopper_pearson_closed_forms() -> None:
    # All successes: the one-sided lower bound is alpha ** (1 / n); no successes mirror it.
    assert clopper_pearson_lower(20, 20, 0.05) == pytest.approx(0.05 ** (1 / 20), abs=1e-8)
    assert clopper_pearson_upper(0, 20, 0.05) == pytest.approx(1 - 0.05 ** (1 / 20), abs=1e-8)
    low, high = clopper_pearson(5, 10)
    # Textbook exact 95% interval for 5/10.
    assert low == pytest.approx(0.187086, abs=1e-5)
    assert high == pytest.approx(0.812914, abs=1e-5)


def test_sequential_verdict_decides_only_when_decisive() -> None:
    assert sequential_verdict(44, 44, 0.9, alpha=0.05, looks=4)[0] == "pass"
    assert sequential_verdict(11, 11, 0.9, alpha=0.05, looks=4)[0] is None
    assert sequential_verdict(0, 3, 0.9, alpha=0.05, looks=4)[0] == "fail"
    assert sequential_verdict(9, 11, 0.5, alpha=0.05, looks=4)[0] is None


def test_effective_context_walks_up_from_the_shortest() -> None:
    assert effective_context([(1024, 1.0), (2048, 0.95), (4096, 0.5), (8192, 0.95)], 0.9) == 2048
    assert effective_context([(1024, 0.5), (2048, 1.0)], 0.9) is None
    assert effective_context([(2048, 1.0), (1024, 1.0)], 0.9) == 2048
    assert effective_context([(1024, 1.0), (2048, None), (4096, 1.0)], 0.9) == 1024


def _trial(length: int, depth: float, index: int, status: str, tokens: int = 100) -> TrialRecord:
    return TrialRecord(
        trial_id=f"t-{length}-{depth}-{index}",
        task="passkey",
        length=length,
        prompt_tokens=tokens,
        usage_prompt_tokens=tokens,
        depth=depth,
        index=index,
        seed=0,
        status=status,  # type: ignore[arg-type]
    )


def test_summarize_counts_invalid_and_errors_apart() -> None:
    trials = [
        _trial(1024, 0.0, 0, "ok"),
        _trial(1024, 0.0, 1, "ok"),
        _trial(1024, 1.0, 0, "fail"),
        _trial(1024, 1.0, 1, "invalid"),
        _trial(2048, 0.0, 0, "error"),
        _trial(2048, 1.0, 0, "fail", tokens=2000),
    ]
    summary = summarize(trials, lengths=[1024, 2048, 4096], depths=[0.0, 0.5, 1.0], threshold=0.6)
    first = summary.lengths[1024]
    assert (first.n, first.correct, first.invalid, first.errors) == (3, 2, 1, 0)
    assert first.accuracy == pytest.approx(2 / 3)
    assert (first.ci_low, first.ci_high) == pytest.approx(wilson(2, 3))
    second = summary.lengths[2048]
    assert (second.n, second.errors, second.accuracy) == (1, 1, 0.0)
    assert summary.lengths[4096].n == 0 and summary.lengths[4096].accuracy is None
    assert len(summary.cells) == 9
    empty = next(c for c in summary.cells if c.length == 1024 and c.depth == 0.5)
    assert empty.n == 0 and empty.accuracy is None
    assert summary.effective_context == 1024
    assert summary.effective_context_low is None  # Wilson lower bound of 2/3 is below 0.6
    assert summary.effective_context_high == 2048
    # Errors never count as tokens sent; invalid trials did reach the server.
    assert summary.prompt_tokens_sent == 100 * 4 + 2000
    assert summary.status_counts == {"ok": 2, "fail": 2, "invalid": 1, "error": 1}
    document = summary.to_json()
    assert set(document["lengths"]["1024"]) >= {"accuracy", "ci_low", "ci_high", "n", "invalid", "errors"}


def test_paired_matches_trial_ids() -> None:
    a = [_trial(1024, 0.0, 0, "ok"), _trial(1024, 0.0, 1, "ok")]
    b = [_trial(1024, 0.0, 1, "fail")]
    pairs = paired(a, b)
    assert len(pairs) == 1 and pairs[0][0].status == "ok" and pairs[0][1].status == "fail"
