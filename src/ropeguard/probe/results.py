"""What a probe writes to RUN_DIR/probe.json: one curve per requested length, reloadable and re-renderable."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PROBE_SCHEMA_VERSION = 1
PROBE_FILE = "probe.json"

ProbeMethod = Literal["prompt_logprobs", "echo", "transformers"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeBucket(_Model):
    start: int = Field(description="first token position of the bucket")
    end: int = Field(description="one past the last position")
    mean_nll: float = Field(description="mean negative log-likelihood (nats) of the bucket's tokens")
    tokens: int = Field(description="tokens averaged (position 0 has no prediction)")


class ProbeBaseline(_Model):
    start: int
    end: int
    mean_nll: float
    bucket_std: float = Field(description="standard deviation of the bucket means inside the region")
    buckets: int


class ProbeCurve(_Model):
    length: int = Field(description="requested length in tokens")
    prompt_tokens: int = Field(description="tokens actually scored (the document cut to `length`)")
    buckets: list[ProbeBucket]
    baseline: ProbeBaseline | None = Field(description="this curve's own baseline, None if too short")
    degradation_start: int | None = Field(
        description="first position where the bucket mean NLL exceeds baseline + threshold (None: none)"
    )
    max_rise: float | None = Field(description="largest bucket mean minus the baseline (nats)")
    latency_s: float


class ProbeSource(_Model):
    backend: Literal["openai", "transformers"]
    method: ProbeMethod
    base_url: str | None = None
    model: str
    hf_overrides: dict[str, object] | None = None


class ProbeDocument(_Model):
    name: str = Field(description="'filler' (ropeguard's haystack) or the --document path")
    tokens: int = Field(description="tokens in the whole document")
    sha256: str


class ProbeNative(_Model):
    """The native window the model claims, checked against where its perplexity starts to rise."""

    claimed: int = Field(description="the native window the model claims (tokens)")
    source: str = Field(description="where the claim came from (--native, or the config field)")
    degradation_start: int | None = Field(description="earliest degradation start over the curves")
    overstated: bool = Field(description="degradation starts before 3/4 of the claimed window")
    suggested_native: int | None = Field(
        description="largest power of two at or below the degradation start, when overstated"
    )
    message: str | None = Field(description="the sentence the terminal prints, when overstated")


class ProbeResult(_Model):
    schema_version: int = PROBE_SCHEMA_VERSION
    source: ProbeSource
    document: ProbeDocument
    bucket: int
    baseline: ProbeBaseline | None = Field(
        description="the baseline used for detection: from the longest curve (curves share a prefix)"
    )
    baseline_rule: str = Field(default="", description="how the baseline region was chosen")
    threshold: float = Field(description="rise above the baseline (nats) that counts as degradation")
    threshold_rule: str = Field(description="how the threshold was chosen")
    persistence: int
    curves: list[ProbeCurve]
    native: ProbeNative | None = Field(
        default=None, description="the claimed native window and its cross-check (None: not known)"
    )
    warnings: list[str] = Field(default_factory=list)
    versions: dict[str, str] = Field(default_factory=dict)
    created_at: str
    wall_seconds: float

    def curve(self, length: int) -> ProbeCurve | None:
        return next((c for c in self.curves if c.length == length), None)
