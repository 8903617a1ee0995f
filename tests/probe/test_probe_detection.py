from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ropeguard.probe.detection import (
    Bucket,
    bucket_nll,
    compute_baseline,
    detect_degradation,
    threshold_for,
)


def flat_then_rise(
    n_buckets: int, rise_at: int | None, floor: float = 0.1, step: float = 0.2
) -> list[Bucket]:
    """Bucket means: 1.5 in bucket 0 (little context), then `floor`, rising by `step` from `rise_at`."""
    out = []
    for k in range(n_buckets):
        mean = 1.5 if k == 0 else floor
        if rise_at is not None and k >= rise_at:
            mean += step * (k - rise_at + 1)
        out.append(Bucket(start=256 * k, end=256 * (k + 1), mean_nll=mean, tokens=256))
    return out


def test_bucket_means_skip_the_unpredicted_first_token() -> None:
    buckets = bucket_nll([None, 1.0, 3.0, 2.0, 4.0], 2)
    assert [(b.start, b.end, b.mean_nll, b.tokens) for b in buckets] == [
        (0, 2, 1.0, 1),
        (2, 4, 2.5, 2),
        (4, 5, 4.0, 1),
    ]


def test_baseline_ignores_early_buckets_and_partial_ones() -> None:
    buckets = flat_then_rise(8, None)
    baseline = compute_baseline(buckets, 512, 1536)
    assert baseline is not None
    assert baseline.buckets == 4 and baseline.mean_nll == pytest.approx(0.1) and baseline.bucket_std == 0.0
    assert compute_baseline(buckets[:2], 512, 1536) is None


def test_rise_is_found_at_the_first_sustained_bucket() -> None:
    buckets = flat_then_rise(32, rise_at=11)  # first bucket above: start 11 * 256 = 2816
    baseline = compute_baseline(buckets, 512, 1536)
    assert baseline is not None
    assert detect_degradation(buckets, baseline, 0.05) == 2816


def test_flat_curve_and_high_first_bucket_give_no_degradation() -> None:
    buckets = flat_then_rise(32, rise_at=None)
    baseline = compute_baseline(buckets, 512, 1536)
    assert baseline is not None
    assert detect_degradation(buckets, baseline, 0.05) is None


def test_a_single_noisy_bucket_is_not_a_degradation_but_a_rise_at_the_end_is() -> None:
    buckets = flat_then_rise(16, rise_at=None)
    spiked = [*buckets[:9], Bucket(2304, 2560, 0.4, 256), *buckets[10:]]
    baseline = compute_baseline(spiked, 512, 1536)
    assert baseline is not None
    assert detect_degradation(spiked, baseline, 0.05) is None
    last = [*buckets[:15], Bucket(3840, 4096, 0.4, 256)]
    assert detect_degradation(last, baseline, 0.05) == 3840


def test_threshold_grows_with_the_baseline_noise() -> None:
    quiet = compute_baseline(flat_then_rise(8, None), 512, 1536)
    assert quiet is not None and threshold_for(quiet) == 0.05
    noisy = [Bucket(256 * k, 256 * (k + 1), 0.1 + (0.05 if k % 2 else -0.05), 256) for k in range(8)]
    baseline = compute_baseline(noisy, 512, 1536)
    assert baseline is not None
    # std of [0.05, 0.15, 0.05, 0.15] (sample) = 0.0577; 4 x that = 0.231
    assert threshold_for(baseline) == pytest.approx(4 * math.sqrt(4 * 0.05**2 / 3))
    # A rise of 0.2 nats is inside that noise: not reported.
    risen = [*noisy, *(Bucket(256 * k, 256 * (k + 1), 0.3, 256) for k in range(8, 12))]
    assert detect_degradation(risen, baseline, threshold_for(baseline)) is None


@given(
    floor=st.floats(0.01, 5.0),
    rise_at=st.integers(6, 30),
    step=st.floats(0.06, 2.0),
)
def test_detection_finds_any_clear_rise_exactly(floor: float, rise_at: int, step: float) -> None:
    buckets = flat_then_rise(32, rise_at=rise_at, floor=floor, step=step)
    baseline = compute_baseline(buckets, 512, 1536)
    assert baseline is not None
    position = detect_degradation(buckets, baseline, threshold_for(baseline))
    # The first risen bucket is already above the 0.05 floor (step > 0.05) and the rise holds.
    assert position == 256 * rise_at
