"""Pure math of the probe: per-token NLL -> position buckets -> baseline -> where degradation starts.

No I/O here: the functions take numbers and return numbers, so the detection rule can be tested on
synthetic curves and re-applied to a saved `probe.json` with other settings.

Why a mid-window baseline: the first buckets of any document have a high NLL because the model has
little context there (FACTS.md section 7), so bucket 0 would hide a later rise. The baseline is the
mean over the buckets that lie wholly inside `[baseline_start, baseline_end)`. Its default follows the
bucket size and the native window (`default_baseline`): it starts at the first bucket boundary at or
past 512 tokens, spans at least 1024 tokens and 2 buckets (512-1536 for 256-token buckets; 1024-3072
for 1024), and ends inside the native window and the longest curve when those are known.

Why the threshold rule: a rise must be larger than both an absolute floor (0.05 nats, about 5% more
perplexity, well above the bucket-to-bucket wobble of a trained model on filler, ~0.005-0.01 nats) and
`noise_k` times the bucket-to-bucket standard deviation inside the baseline, so that a noisy model (or
a document that is hard to predict) needs a proportionally larger rise. docs/probe.md has the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_BUCKET = 256
DEFAULT_BASELINE = (512, 1536)  # what default_baseline gives for DEFAULT_BUCKET with no limit
# Context a position needs before its NLL is typical of the document (bucket 0 is far above the rest).
BASELINE_SKIP = 512
# The default baseline spans at least this many tokens and BASELINE_MIN_BUCKETS buckets: two buckets are
# the fewest with a bucket-to-bucket std, 1024 tokens enough to average out a document's local wobble.
BASELINE_MIN_SPAN = 1024
BASELINE_MIN_BUCKETS = 2
# Degradation that starts before this fraction of the claimed native window is "well before" it: the
# claim probably overstates the trained window. The last quarter is left out because a model can lose a
# little near the end of a window it was trained on, and detection is only as fine as one bucket.
OVERSTATED_FRACTION = 0.75
DEFAULT_MIN_RISE = 0.05
DEFAULT_NOISE_K = 4.0
# A rise must hold for this many consecutive buckets (or to the end of the curve): one noisy bucket
# is not the start of a degradation.
DEFAULT_PERSISTENCE = 2


@dataclass(frozen=True)
class Bucket:
    """Mean NLL of the tokens at positions [start, end) (position 0 has no prediction and is skipped)."""

    start: int
    end: int
    mean_nll: float
    tokens: int


@dataclass(frozen=True)
class Baseline:
    start: int
    end: int
    mean_nll: float
    bucket_std: float
    buckets: int


def bucket_nll(nll: Sequence[float | None], bucket: int) -> list[Bucket]:
    """Average per-token NLL over consecutive position buckets of `bucket` tokens.

    `nll[i]` is the NLL of the token at position i given positions < i; `None` (position 0, which
    nothing predicts) is left out of the mean. The last bucket may be shorter than `bucket`.
    """
    if bucket < 1:
        raise ValueError(f"bucket size must be positive, got {bucket}")
    out: list[Bucket] = []
    for start in range(0, len(nll), bucket):
        end = min(start + bucket, len(nll))
        values = [v for v in nll[start:end] if v is not None]
        if not values:
            continue
        out.append(Bucket(start=start, end=end, mean_nll=math.fsum(values) / len(values), tokens=len(values)))
    return out


def compute_baseline(buckets: Sequence[Bucket], start: int, end: int) -> Baseline | None:
    """Mean and bucket-to-bucket std of the full-size buckets lying wholly inside [start, end).

    None when no bucket lies inside (the curve is too short to have an in-window baseline).
    """
    if end <= start:
        raise ValueError(f"baseline region must be non-empty, got {start}:{end}")
    full = max((b.end - b.start for b in buckets), default=0)
    inside = [b for b in buckets if b.start >= start and b.end <= end and b.end - b.start == full]
    if not inside:
        return None
    means = [b.mean_nll for b in inside]
    mean = math.fsum(means) / len(means)
    std = math.sqrt(math.fsum((m - mean) ** 2 for m in means) / (len(means) - 1)) if len(means) > 1 else 0.0
    return Baseline(start=start, end=end, mean_nll=mean, bucket_std=std, buckets=len(inside))


def threshold_for(
    baseline: Baseline, min_rise: float = DEFAULT_MIN_RISE, noise_k: float = DEFAULT_NOISE_K
) -> float:
    """The rise (nats) above the baseline that counts as degradation: max(min_rise, noise_k x std)."""
    return max(min_rise, noise_k * baseline.bucket_std)


def detect_degradation(
    buckets: Sequence[Bucket],
    baseline: Baseline,
    threshold: float,
    persistence: int = DEFAULT_PERSISTENCE,
) -> int | None:
    """Start position of the first bucket at or after the baseline's start whose mean NLL exceeds
    `baseline.mean_nll + threshold` for `persistence` consecutive buckets (or until the curve ends).

    Buckets before the baseline region are not searched: they have little context and a high NLL
    for reasons that have nothing to do with position encoding. None means no degradation seen.
    """
    limit = baseline.mean_nll + threshold
    candidates = [b for b in buckets if b.start >= baseline.start]
    for index, b in enumerate(candidates):
        if b.mean_nll <= limit:
            continue
        run = candidates[index : index + persistence]
        if all(c.mean_nll > limit for c in run):
            return b.start
    return None


def mean_nll_between(buckets: Sequence[Bucket], start: int, end: int) -> tuple[float, int] | None:
    """Token-weighted mean NLL of the buckets lying wholly inside [start, end), with their token count."""
    inside = [b for b in buckets if b.start >= start and b.end <= end]
    tokens = sum(b.tokens for b in inside)
    if tokens == 0:
        return None
    return math.fsum(b.mean_nll * b.tokens for b in inside) / tokens, tokens


def default_baseline(bucket: int, native: int | None = None, longest: int | None = None) -> tuple[int, int]:
    """The default baseline region for `bucket`-token buckets (see the module docstring).

    `native`: the model's native window, `longest`: the longest curve's scored length, when known; the
    region ends at the last bucket boundary inside both. Where they leave fewer than 2 buckets past
    BASELINE_SKIP, the region keeps what fits (one bucket, or none past the limit: the caller warns).
    """
    if bucket < 1:
        raise ValueError(f"bucket size must be positive, got {bucket}")
    start = -(-BASELINE_SKIP // bucket) * bucket
    end = start + max(BASELINE_MIN_BUCKETS, -(-BASELINE_MIN_SPAN // bucket)) * bucket
    limits = [limit for limit in (native, longest) if limit is not None]
    if limits:
        cap = min(limits) // bucket * bucket
        end = max(min(end, cap), start + bucket)
    return start, end


@dataclass(frozen=True)
class NativeCheck:
    """Where degradation starts against the native window the model claims."""

    claimed: int
    degradation_start: int | None
    overstated: bool
    suggested_native: int | None


def check_native(claimed: int, degradation_start: int | None) -> NativeCheck:
    """Overstated when degradation starts before OVERSTATED_FRACTION of `claimed`.

    The suggestion is the largest power of two at or below the start: trained windows are powers of
    two almost always (2K, 4K, 8K, 32K), and a rise is seen a little after the window ends.
    """
    overstated = degradation_start is not None and degradation_start < OVERSTATED_FRACTION * claimed
    suggested = None
    if overstated and degradation_start is not None and degradation_start >= 1:
        suggested = 1 << (degradation_start.bit_length() - 1)
    return NativeCheck(
        claimed=claimed,
        degradation_start=degradation_start,
        overstated=overstated,
        suggested_native=suggested,
    )
