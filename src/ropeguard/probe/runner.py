"""Run a probe: cut one document to each length exactly, score every token, bucket, detect."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import httpx

from ropeguard import __version__
from ropeguard.errors import EndpointError, UsageError
from ropeguard.probe import detection
from ropeguard.probe.results import (
    PROBE_FILE,
    ProbeBaseline,
    ProbeBucket,
    ProbeCurve,
    ProbeDocument,
    ProbeResult,
    ProbeSource,
)
from ropeguard.probe.sources import (
    HttpLogprobSource,
    LogprobSource,
    PromptLogprobsUnsupported,
    TransformersLogprobSource,
    open_http_source,
)

Method = Literal["auto", "prompt_logprobs", "echo"]

# Varied sentences give a perplexity in the usual sense; the "noise" style (five sentences cycled) is a
# copy task whose NLL is near 0 for any trained model, so an absolute threshold sees its rise late
# (measured on the bundled model: natural flags 3072, noise 3328; docs/probe.md).
DEFAULT_HAYSTACK = "natural"

FALLBACK_HINT = (
    "this server gives no per-token prompt log-probabilities; run the probe in process instead: "
    "ropeguard probe --backend transformers --model PATH [--hf-overrides JSON]"
)


def filler_text(
    tokenize: Callable[[str], list[int]], min_tokens: int, style: str = DEFAULT_HAYSTACK, seed: int = 0
) -> str:
    """ropeguard's haystack, grown sentence by sentence (doubling) until it has >= min_tokens tokens."""
    from ropeguard.evals.haystack import Haystack

    haystack = Haystack(style, seed)
    n = 64
    while True:
        text = " ".join(haystack.sentences(n))
        count = len(tokenize(text))
        if count >= min_tokens:
            return text
        # Each sentence is at least one token: past min_tokens sentences the tokenizer is not
        # counting (a /tokenize that returns no tokens); stop rather than double forever.
        if n > 2 * min_tokens + 64:
            raise EndpointError(
                f"the tokenizer returned {count} tokens for {n} sentences of filler text",
                hint="check the server's /tokenize (it must return the prompt's token ids)",
            )
        n *= 2


def _to_bucket_models(buckets: Sequence[detection.Bucket]) -> list[ProbeBucket]:
    return [
        ProbeBucket(start=b.start, end=b.end, mean_nll=round(b.mean_nll, 6), tokens=b.tokens) for b in buckets
    ]


def _baseline_model(baseline: detection.Baseline | None) -> ProbeBaseline | None:
    if baseline is None:
        return None
    return ProbeBaseline(
        start=baseline.start,
        end=baseline.end,
        mean_nll=round(baseline.mean_nll, 6),
        bucket_std=round(baseline.bucket_std, 6),
        buckets=baseline.buckets,
    )


def _as_detection(buckets: Sequence[ProbeBucket]) -> list[detection.Bucket]:
    return [detection.Bucket(start=b.start, end=b.end, mean_nll=b.mean_nll, tokens=b.tokens) for b in buckets]


def analyse(
    result: ProbeResult,
    *,
    baseline_region: tuple[int, int] | None = None,
    min_rise: float = detection.DEFAULT_MIN_RISE,
    noise_k: float = detection.DEFAULT_NOISE_K,
    threshold: float | None = None,
    persistence: int = detection.DEFAULT_PERSISTENCE,
) -> ProbeResult:
    """(Re)compute baselines, the threshold and each curve's degradation start from stored buckets.

    The shared baseline comes from the longest curve: every curve is a prefix of the same document,
    so their positions agree, and the longest one covers the baseline region whenever any does.
    """
    if baseline_region is not None:
        start, end = baseline_region
    elif result.baseline is not None:
        start, end = result.baseline.start, result.baseline.end
    else:
        start, end = detection.DEFAULT_BASELINE
    warnings = [w for w in result.warnings if not w.startswith("baseline:")]
    curves: list[ProbeCurve] = []
    per_curve = {
        c.length: detection.compute_baseline(_as_detection(c.buckets), start, end) for c in result.curves
    }
    longest = max(result.curves, key=lambda c: c.prompt_tokens, default=None)
    shared = per_curve.get(longest.length) if longest is not None else None
    if shared is None:
        warnings.append(
            f"baseline: no curve covers the baseline region {start}-{end}; no degradation can be detected "
            "(probe a longer length or pass --baseline)"
        )
        used_threshold = threshold if threshold is not None else min_rise
        rule = "no baseline"
    elif threshold is not None:
        used_threshold = threshold
        rule = "given (--threshold)"
    else:
        used_threshold = detection.threshold_for(shared, min_rise, noise_k)
        rule = (
            f"max({min_rise} nats, {noise_k} x baseline bucket std {shared.bucket_std:.4f}) "
            f"over {shared.buckets} buckets of {result.bucket} tokens in {start}-{end}"
        )
    for curve in result.curves:
        buckets = _as_detection(curve.buckets)
        position = None
        max_rise = None
        if shared is not None:
            position = detection.detect_degradation(buckets, shared, used_threshold, persistence)
            after = [b.mean_nll - shared.mean_nll for b in buckets if b.start >= shared.start]
            max_rise = round(max(after), 6) if after else None
        curves.append(
            curve.model_copy(
                update={
                    "baseline": _baseline_model(per_curve[curve.length]),
                    "degradation_start": position,
                    "max_rise": max_rise,
                }
            )
        )
    return result.model_copy(
        update={
            "baseline": _baseline_model(shared),
            "threshold": round(used_threshold, 6),
            "threshold_rule": rule,
            "persistence": persistence,
            "curves": curves,
            "warnings": warnings,
        }
    )


def _score(
    source: LogprobSource, ids: Sequence[int], method: Method, warnings: list[str]
) -> list[float | None]:
    """Score once; in `auto`, fall back from prompt_logprobs to echo + logprobs, saying so."""
    try:
        return source.prompt_nll(ids)
    except PromptLogprobsUnsupported as first:
        if (
            method != "auto"
            or not isinstance(source, HttpLogprobSource)
            or source.method != "prompt_logprobs"
        ):
            raise EndpointError(
                first.message,
                hint=FALLBACK_HINT
                if source.method == "echo"
                else ("retry with --method echo (completions with echo + logprobs), or " + FALLBACK_HINT),
            ) from None
        note = (
            f"{source.base_url} does not return prompt_logprobs (a vLLM extension); "
            "fell back to completions with echo + logprobs"
        )
        print(f"note: {note}", file=sys.stderr)
        warnings.append(note)
        source.method = "echo"
        try:
            return source.prompt_nll(ids)
        except PromptLogprobsUnsupported as second:
            raise EndpointError(
                f"{source.base_url} returns neither prompt_logprobs nor echoed logprobs ({second.message})",
                hint=FALLBACK_HINT,
            ) from None


def probe_source(
    source: LogprobSource,
    lengths: Sequence[int],
    *,
    document: str | None = None,
    document_name: str | None = None,
    haystack: str = DEFAULT_HAYSTACK,
    seed: int = 0,
    bucket: int = detection.DEFAULT_BUCKET,
    baseline_region: tuple[int, int] = detection.DEFAULT_BASELINE,
    min_rise: float = detection.DEFAULT_MIN_RISE,
    noise_k: float = detection.DEFAULT_NOISE_K,
    threshold: float | None = None,
    persistence: int = detection.DEFAULT_PERSISTENCE,
    method: Method = "auto",
    max_length: int | None = None,
    base_url: str | None = None,
    hf_overrides: dict[str, object] | None = None,
    versions: dict[str, str] | None = None,
) -> ProbeResult:
    """Score `document` (or the filler) cut to each length; see `probe` for the arguments."""
    if not lengths:
        raise UsageError("--lengths: give at least one length")
    if bucket < 2:
        raise UsageError(f"--bucket {bucket}: must be at least 2 tokens")
    if baseline_region[1] <= baseline_region[0]:
        raise UsageError(f"--baseline {baseline_region[0]}:{baseline_region[1]}: end must be after start")
    started = time.monotonic()
    wanted = sorted(set(lengths))
    warnings: list[str] = []
    if document is None:
        text = filler_text(source.tokenize, wanted[-1], haystack, seed)
        name = f"filler ({haystack}, seed {seed})"
    else:
        text, name = document, document_name or "document"
    ids = source.tokenize(text)
    for length in wanted:
        if length > len(ids):
            raise UsageError(
                f"the document {name} has {len(ids)} tokens, shorter than the requested length {length}",
                hint="pass a longer --document or smaller --lengths",
            )
        if max_length is not None and length > max_length:
            raise UsageError(
                f"length {length} exceeds the server's max_model_len {max_length}",
                hint=f"probe lengths up to {max_length}",
            )
    curves: list[ProbeCurve] = []
    for length in wanted:
        cut = length
        if max_length is not None and length >= max_length:
            # The request also generates one token, which must fit in the window.
            cut = max_length - 1
            warnings.append(
                f"length {length}: scored {cut} tokens (the server's max_model_len {max_length} "
                "leaves room for the one generated token)"
            )
        t0 = time.monotonic()
        nll = _score(source, ids[:cut], method, warnings)
        curves.append(
            ProbeCurve(
                length=length,
                prompt_tokens=cut,
                buckets=_to_bucket_models(detection.bucket_nll(nll, bucket)),
                baseline=None,
                degradation_start=None,
                max_rise=None,
                latency_s=round(time.monotonic() - t0, 3),
            )
        )
    http = isinstance(source, HttpLogprobSource)
    result = ProbeResult(
        source=ProbeSource(
            backend="openai" if http else "transformers",
            method=source.method,
            base_url=base_url,
            model=source.model,
            hf_overrides=hf_overrides,
        ),
        document=ProbeDocument(name=name, tokens=len(ids), sha256=hashlib.sha256(text.encode()).hexdigest()),
        bucket=bucket,
        baseline=ProbeBaseline(
            start=baseline_region[0], end=baseline_region[1], mean_nll=0.0, bucket_std=0.0, buckets=0
        ),
        threshold=0.0,
        threshold_rule="",
        persistence=persistence,
        curves=curves,
        warnings=warnings,
        versions={"ropeguard": __version__, **(versions or {})},
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        wall_seconds=0.0,
    )
    result = analyse(
        result,
        baseline_region=baseline_region,
        min_rise=min_rise,
        noise_k=noise_k,
        threshold=threshold,
        persistence=persistence,
    )
    return result.model_copy(update={"wall_seconds": round(time.monotonic() - started, 3)})


def _server_facts(source: HttpLogprobSource) -> tuple[int | None, dict[str, str]]:
    """max_model_len from /v1/models and the engine version from /version (both optional)."""
    root = source.base_url.rstrip("/").removesuffix("/v1")
    max_length: int | None = None
    versions: dict[str, str] = {}
    try:
        models = source.client.get(root + "/v1/models").json()
        for entry in models.get("data", []):
            if entry.get("id") == source.model and isinstance(entry.get("max_model_len"), int):
                max_length = entry["max_model_len"]
        version = source.client.get(root + "/version")
        if version.status_code == 200 and isinstance(version.json().get("version"), str):
            versions["server"] = version.json()["version"]
    except (httpx.HTTPError, ValueError, AttributeError):
        pass
    return max_length, versions


def probe(
    lengths: Sequence[int],
    *,
    base_url: str | None = None,
    model: str | None = None,
    backend: Literal["openai", "transformers"] = "openai",
    hf_overrides: dict[str, object] | None = None,
    document: Path | None = None,
    haystack: str = DEFAULT_HAYSTACK,
    seed: int = 0,
    bucket: int = detection.DEFAULT_BUCKET,
    baseline_region: tuple[int, int] = detection.DEFAULT_BASELINE,
    min_rise: float = detection.DEFAULT_MIN_RISE,
    noise_k: float = detection.DEFAULT_NOISE_K,
    threshold: float | None = None,
    persistence: int = detection.DEFAULT_PERSISTENCE,
    method: Method = "auto",
    out: Path | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ProbeResult:
    """Position-resolved perplexity of an endpoint (or an in-process model) at each length.

    Writes `out/probe.json` when `out` is given. Raises UsageError (exit 2) for a document shorter
    than a length, EndpointError when the server gives no usable log-probabilities.
    """
    text: str | None = None
    if document is not None:
        try:
            text = document.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"--document {document}: cannot read it ({error})") from None
    source: LogprobSource
    max_length: int | None = None
    versions: dict[str, str] = {}
    if backend == "transformers":
        if model is None:
            raise UsageError("--backend transformers needs --model PATH")
        source = TransformersLogprobSource(model, hf_overrides)
    else:
        if base_url is None:
            raise UsageError("give --base-url URL (or --backend transformers --model PATH)")
        if hf_overrides is not None:
            raise UsageError("--hf-overrides applies to --backend transformers only (a server has its own)")
        http = open_http_source(
            base_url, model, "echo" if method == "echo" else "prompt_logprobs", transport=transport
        )
        max_length, versions = _server_facts(http)
        source = http
    try:
        result = probe_source(
            source,
            lengths,
            document=text,
            document_name=str(document) if document is not None else None,
            haystack=haystack,
            seed=seed,
            bucket=bucket,
            baseline_region=baseline_region,
            min_rise=min_rise,
            noise_k=noise_k,
            threshold=threshold,
            persistence=persistence,
            method=method,
            max_length=max_length,
            base_url=base_url,
            hf_overrides=hf_overrides,
            versions=versions,
        )
    finally:
        source.close()
    if out is not None:
        write_probe(out, result)
    return result


def write_probe(run_dir: Path, result: ProbeResult) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / PROBE_FILE
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(result.model_dump_json(indent=2) + "\n")
    temporary.replace(path)
    return path


def read_probe(path: Path) -> ProbeResult:
    """probe.json, or the probe.json inside a run directory."""
    from pydantic import ValidationError

    file = path / PROBE_FILE if path.is_dir() else path
    if not file.exists():
        raise UsageError(f"{path}: no {PROBE_FILE} there")
    try:
        return ProbeResult.model_validate_json(file.read_text())
    except ValidationError as error:
        raise UsageError(f"{file} is not a valid probe result: {error.errors()[0]['msg']}") from None
