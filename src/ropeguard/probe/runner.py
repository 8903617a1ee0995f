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

from ropeguard.errors import EndpointError, UsageError
from ropeguard.evals.haystack import Haystack
from ropeguard.files import write_atomic
from ropeguard.http_client import server_root
from ropeguard.lengths import format_token_count
from ropeguard.probe import detection
from ropeguard.probe.results import (
    PROBE_FILE,
    ProbeBaseline,
    ProbeBucket,
    ProbeCurve,
    ProbeDocument,
    ProbeNative,
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
from ropeguard.redaction import redact_model
from ropeguard.version import __version__

Method = Literal["auto", "prompt_logprobs", "echo"]

# The source sentence of a native window the user gave (the same words `plan --native` records).
NATIVE_GIVEN = "given with --native"

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


def _default_region(result: ProbeResult) -> tuple[tuple[int, int], str]:
    longest = max((c.prompt_tokens for c in result.curves), default=None)
    native = result.native.claimed if result.native is not None else None
    region = detection.default_baseline(result.bucket, native, longest)
    limits = []
    if native is not None:
        limits.append(f"the native window {native}")
    if longest is not None:
        limits.append(f"the longest curve ({longest} tokens)")
    inside = f", ending inside {' and '.join(limits)}" if limits else ""
    rule = (
        f"default for {result.bucket}-token buckets: from the first bucket boundary at or past "
        f"{detection.BASELINE_SKIP}, at least {detection.BASELINE_MIN_BUCKETS} buckets and "
        f"{detection.BASELINE_MIN_SPAN} tokens{inside}"
    )
    return region, rule


def _approximate(tokens: int) -> str:
    """3072 -> '3K', 2816 -> '2.8K' (the message is about where, give or take a bucket)."""
    if tokens < 1024:
        return str(tokens)
    return f"{tokens / 1024:.1f}".removesuffix(".0") + "K"


def _native_check(result: ProbeResult, curves: Sequence[ProbeCurve]) -> ProbeNative | None:
    if result.native is None:
        return None
    starts = [c.degradation_start for c in curves if c.degradation_start is not None]
    check = detection.check_native(result.native.claimed, min(starts) if starts else None)
    message = None
    if check.overstated and check.degradation_start is not None and check.suggested_native is not None:
        given = result.native.source == NATIVE_GIVEN
        who = "--native" if given else "config"
        why = (
            "the model was probably trained on a shorter window"
            if given
            else "the config probably overstates the trained window"
        )
        message = (
            f"{who} says {check.claimed}, perplexity rises from ~{_approximate(check.degradation_start)}: "
            f"{why}; plan with --native {format_token_count(check.suggested_native)} "
            "(or the trained length the model card gives)"
        )
    return result.native.model_copy(
        update={
            "degradation_start": check.degradation_start,
            "overstated": check.overstated,
            "suggested_native": check.suggested_native,
            "message": message,
        }
    )


def analyse(
    result: ProbeResult,
    *,
    baseline_region: tuple[int, int] | None = None,
    min_rise: float = detection.DEFAULT_MIN_RISE,
    noise_k: float = detection.DEFAULT_NOISE_K,
    threshold: float | None = None,
    persistence: int = detection.DEFAULT_PERSISTENCE,
) -> ProbeResult:
    """(Re)compute baselines, the threshold, each curve's degradation start and the native-window
    cross-check from stored buckets.

    The region: `baseline_region` when given, else the stored one, else the default for the bucket
    size and native window (`detection.default_baseline`). The shared baseline comes from the longest
    curve: every curve is a prefix of the same document, so their positions agree, and the longest
    one covers the baseline region whenever any does.
    """
    if baseline_region is not None:
        (start, end), baseline_rule = baseline_region, "given (--baseline)"
    elif result.baseline is not None:
        start, end = result.baseline.start, result.baseline.end
        baseline_rule = result.baseline_rule
    else:
        (start, end), baseline_rule = _default_region(result)
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
    else:
        if shared.buckets < detection.BASELINE_MIN_BUCKETS:
            warnings.append(
                f"baseline: only {shared.buckets} bucket of {result.bucket} tokens in {start}-{end}, so the "
                "threshold has no noise estimate (its floor applies); a smaller --bucket gives one"
            )
        if threshold is not None:
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
            "baseline_rule": baseline_rule,
            "threshold": round(used_threshold, 6),
            "threshold_rule": rule,
            "persistence": persistence,
            "curves": curves,
            "native": _native_check(result, curves),
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
    baseline_region: tuple[int, int] | None = None,
    min_rise: float = detection.DEFAULT_MIN_RISE,
    noise_k: float = detection.DEFAULT_NOISE_K,
    threshold: float | None = None,
    persistence: int = detection.DEFAULT_PERSISTENCE,
    method: Method = "auto",
    native: tuple[int, str] | None = None,
    max_length: int | None = None,
    base_url: str | None = None,
    hf_overrides: dict[str, object] | None = None,
    versions: dict[str, str] | None = None,
) -> ProbeResult:
    """Score `document` (or the filler) cut to each length; see `probe` for the arguments.

    `native`: (tokens, where the number came from) of the window the model claims, or None.
    """
    if not lengths:
        raise UsageError("--lengths: give at least one length")
    if bucket < 2:
        raise UsageError(f"--bucket {bucket}: must be at least 2 tokens")
    if baseline_region is not None and baseline_region[1] <= baseline_region[0]:
        raise UsageError(f"--baseline {baseline_region[0]}:{baseline_region[1]}: end must be after start")
    if native is not None and native[0] < 1:
        raise UsageError(f"--native {native[0]}: must be a positive token count")
    started = time.monotonic()
    wanted = sorted(set(lengths))
    # Before any text is built or tokenized: a filler for a length past the window is work for nothing.
    if max_length is not None and wanted[-1] > max_length:
        raise UsageError(
            f"length {wanted[-1]} exceeds the server's max_model_len {max_length}",
            hint=f"probe lengths up to {max_length}",
        )
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
    if isinstance(source, TransformersLogprobSource):
        warnings.extend(note for note in source.notes if note not in warnings)
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
        baseline=None,
        threshold=0.0,
        threshold_rule="",
        persistence=persistence,
        curves=curves,
        native=None
        if native is None
        else ProbeNative(
            claimed=native[0],
            source=native[1],
            degradation_start=None,
            overstated=False,
            suggested_native=None,
            message=None,
        ),
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
    root = server_root(source.base_url)
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


def _inprocess_versions(source: TransformersLogprobSource) -> dict[str, str]:
    import torch
    import transformers

    return {
        "torch": str(torch.__version__),
        "transformers": transformers.__version__,
        "device": source.device or "cpu",
        "dtype": source.dtype,
    }


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
    baseline_region: tuple[int, int] | None = None,
    min_rise: float = detection.DEFAULT_MIN_RISE,
    noise_k: float = detection.DEFAULT_NOISE_K,
    threshold: float | None = None,
    persistence: int = detection.DEFAULT_PERSISTENCE,
    method: Method = "auto",
    native: int | None = None,
    out: Path | None = None,
    transport: httpx.BaseTransport | None = None,
    device: str | None = None,
) -> ProbeResult:
    """Position-resolved perplexity of an endpoint (or an in-process model) at each length.

    `baseline_region` None: the default for the bucket size and native window
    (`detection.default_baseline`). `native`: the window the model claims; in process it defaults to
    what its config says (as `plan` reads it). The baseline stays inside it, and `result.native` says
    when the perplexity rises well before it (the claim probably overstates the trained window).
    In process (`backend="transformers"`), `device` picks where the model runs (default: the GPU in
    bf16 when there is one, else the CPU in float32, as `eval --backend transformers` does).
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
        local = TransformersLogprobSource(model, hf_overrides, device=device)
        versions = _inprocess_versions(local)
        claim = (native, NATIVE_GIVEN) if native is not None else local.native_window()
        source = local
    else:
        if base_url is None:
            raise UsageError("give --base-url URL (or --backend transformers --model PATH)")
        if hf_overrides is not None:
            raise UsageError("--hf-overrides applies to --backend transformers only (a server has its own)")
        http = open_http_source(
            base_url, model, "echo" if method == "echo" else "prompt_logprobs", transport=transport
        )
        max_length, versions = _server_facts(http)
        claim = (native, NATIVE_GIVEN) if native is not None else None
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
            native=claim,
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
    # Atomic (a reader never sees half a file) and redacted of known secrets (it quotes a server).
    return write_atomic(run_dir / PROBE_FILE, redact_model(result).model_dump_json(indent=2) + "\n")


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
