"""Build probe results from synthetic NLL curves (the detection runs for real on them)."""

from __future__ import annotations

from ropeguard.probe.detection import bucket_nll
from ropeguard.probe.results import (
    ProbeBaseline,
    ProbeBucket,
    ProbeCurve,
    ProbeDocument,
    ProbeResult,
    ProbeSource,
)
from ropeguard.probe.runner import analyse


def synthetic_nll(length: int, rise_from: int | None, slope: float = 0.001, floor: float = 0.1) -> list[float | None]:
    """High NLL for the first tokens (little context), flat `floor`, then a linear rise after `rise_from`."""
    values: list[float | None] = [None]
    for position in range(1, length):
        value = floor + (1.5 if position < 64 else 0.0) + 0.002 * ((position * 7919) % 5 - 2)
        if rise_from is not None and position >= rise_from:
            value += slope * (position - rise_from)
        values.append(value)
    return values


def synthetic_probe(
    lengths: tuple[int, ...] = (2048, 4096, 8192),
    rise_from: int | None = 2600,
    model: str = "tiny",
    sha: str = "0" * 64,
    floor: float = 0.1,
) -> ProbeResult:
    curves = [
        ProbeCurve(
            length=length,
            prompt_tokens=length,
            buckets=[
                ProbeBucket(start=b.start, end=b.end, mean_nll=b.mean_nll, tokens=b.tokens)
                for b in bucket_nll(synthetic_nll(length, rise_from, floor=floor), 256)
            ],
            baseline=None,
            degradation_start=None,
            max_rise=None,
            latency_s=0.5,
        )
        for length in lengths
    ]
    result = ProbeResult(
        source=ProbeSource(backend="http", method="prompt_logprobs", base_url="http://127.0.0.1:1/v1", model=model),
        document=ProbeDocument(name="filler (noise, seed 0)", tokens=9000, sha256=sha),
        bucket=256,
        baseline=ProbeBaseline(start=512, end=1536, mean_nll=0.0, bucket_std=0.0, buckets=0),
        threshold=0.0,
        threshold_rule="",
        persistence=2,
        curves=curves,
        created_at="2026-11-27T00:00:00+00:00",
        wall_seconds=1.0,
    )
    return analyse(result)
