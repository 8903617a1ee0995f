"""The short-input cost of static YaRN: what a scaled server loses on inputs that fit the native window.

Static YaRN stretches every position, also those a short prompt uses, so a server scaled for 128K can
do slightly worse on 2K prompts than an unscaled one. This compares the two probes' NLL over the
positions below `within` (the native window), bucket by bucket, and, when eval runs of both servers
exist, their recall at the lengths up to `within`. `plan` and `certify` print `describe()` beside a
factor: "the measured cost of factor F on inputs <= N tokens".
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from ropeguard.errors import UsageError
from ropeguard.evals.results import Summary
from ropeguard.probe import detection
from ropeguard.probe.results import ProbeCurve, ProbeResult

COST_SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BucketCost(_Model):
    start: int
    end: int
    scaled_nll: float
    unscaled_nll: float
    delta: float


class RecallCost(_Model):
    length: int
    scaled_accuracy: float | None
    unscaled_accuracy: float | None
    delta: float | None
    scaled_n: int
    unscaled_n: int


class ShortInputCost(_Model):
    schema_version: int = COST_SCHEMA_VERSION
    within: int
    factor: float | None = None
    tokens: int
    scaled_nll: float
    unscaled_nll: float
    delta_nll: float
    perplexity_ratio: float
    buckets: list[BucketCost]
    recall: list[RecallCost]

    def describe(self) -> str:
        name = f"factor {self.factor:g}" if self.factor is not None else "the scaling"
        text = (
            f"measured cost of {name} on inputs <= {self.within} tokens: "
            f"{self.delta_nll:+.3f} nats/token ({(self.perplexity_ratio - 1) * 100:+.1f}% perplexity; "
            f"{self.scaled_nll:.3f} scaled vs {self.unscaled_nll:.3f} unscaled over {self.tokens} tokens)"
        )
        scored = [r for r in self.recall if r.delta is not None]
        if scored:
            text += "; recall " + ", ".join(
                f"{r.length}: {r.scaled_accuracy:.2f} vs {r.unscaled_accuracy:.2f}" for r in scored
            )
        return text


def _covering_curve(result: ProbeResult, within: int, which: str) -> ProbeCurve:
    if not result.curves:
        raise UsageError(f"the {which} probe has no curves")
    curve = max(result.curves, key=lambda c: c.prompt_tokens)
    if curve.prompt_tokens < within:
        raise UsageError(
            f"the {which} probe's longest curve has {curve.prompt_tokens} tokens, "
            f"less than --within {within}",
            hint=f"probe a length of at least {within}",
        )
    return curve


def compare_short_input_cost(
    scaled: ProbeResult,
    unscaled: ProbeResult,
    within: int,
    *,
    factor: float | None = None,
    scaled_summary: Summary | None = None,
    unscaled_summary: Summary | None = None,
) -> ShortInputCost:
    """NLL (and recall, given eval summaries) of a scaled vs an unscaled server on positions < `within`.

    Both probes must have scored the same document with the same bucket size, so that each bucket
    compares the same tokens.
    """
    if scaled.document.sha256 != unscaled.document.sha256:
        raise UsageError(
            "the two probes scored different documents; the short-input cost needs the same text",
            hint="run both probes with the same --document (or the default filler)",
        )
    if scaled.bucket != unscaled.bucket:
        raise UsageError(f"the probes used different bucket sizes ({scaled.bucket} vs {unscaled.bucket})")
    a = _covering_curve(scaled, within, "scaled")
    b = _covering_curve(unscaled, within, "unscaled")
    by_start = {x.start: x for x in b.buckets}
    buckets: list[BucketCost] = []
    for x in a.buckets:
        y = by_start.get(x.start)
        if y is None or x.end > within or y.end != x.end:
            continue
        buckets.append(
            BucketCost(
                start=x.start,
                end=x.end,
                scaled_nll=x.mean_nll,
                unscaled_nll=y.mean_nll,
                delta=round(x.mean_nll - y.mean_nll, 6),
            )
        )
    mine = detection.mean_nll_between(
        [detection.Bucket(c.start, c.end, c.scaled_nll, by_start[c.start].tokens) for c in buckets], 0, within
    )
    theirs = detection.mean_nll_between(
        [detection.Bucket(c.start, c.end, c.unscaled_nll, by_start[c.start].tokens) for c in buckets],
        0,
        within,
    )
    if mine is None or theirs is None:
        raise UsageError(f"no whole bucket of {scaled.bucket} tokens lies below {within}")
    delta = mine[0] - theirs[0]
    recall: list[RecallCost] = []
    if scaled_summary is not None and unscaled_summary is not None:
        for length in sorted(set(scaled_summary.lengths) & set(unscaled_summary.lengths)):
            if length > within:
                continue
            s, u = scaled_summary.lengths[length], unscaled_summary.lengths[length]
            recall.append(
                RecallCost(
                    length=length,
                    scaled_accuracy=s.accuracy,
                    unscaled_accuracy=u.accuracy,
                    delta=None
                    if s.accuracy is None or u.accuracy is None
                    else round(s.accuracy - u.accuracy, 6),
                    scaled_n=s.n,
                    unscaled_n=u.n,
                )
            )
    return ShortInputCost(
        within=within,
        factor=factor,
        tokens=mine[1],
        scaled_nll=round(mine[0], 6),
        unscaled_nll=round(theirs[0], 6),
        delta_nll=round(delta, 6),
        perplexity_ratio=round(math.exp(delta), 6),
        buckets=buckets,
        recall=recall,
    )
