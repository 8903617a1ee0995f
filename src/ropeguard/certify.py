"""certify: plan -> serve with the plan -> recall grid -> (baseline without scaling) -> report -> verdict.

    from ropeguard.certify import certify
    certificate = certify("Qwen/Qwen3-8B", "128k", gates={131072: 0.9})
    certificate.passed

Gates (docs/certify.md):
- recall gates `{length: min_recall}`; default: recall >= DEFAULT_MIN_RECALL at every grid length up to
  the target. With gates the eval runs adaptively (as many trials as a sure verdict needs, per length):
  a length passes when the sequential test says `pass`, fails on `fail`, and an `undecided` length is
  judged by its point estimate.
- the short-input cost of static YaRN: unless `baseline=False`, the model is served a second time
  without scaling at its native window, the grid lengths that fit that window are run with the same
  trial ids, and the scaled server must not be significantly worse there (paired exact McNemar,
  alpha 0.05). No scaling planned (factor 1) means no baseline.

Everything lands in OUT: `scaled/` and `baseline/` (each an eval run folder with server.log and
plan.json), `scaled/report.html`, and `certificate.json` (this module's `Certificate`).

With `base_url` no server is started: the deployment at that URL is certified against the plan (the
settings it should have). Before any trial its `/v1/models` must show the plan's max length (else the
gate "served max length" fails and no trial runs); the vLLM version from `/version` is compared with
the plan's and both are recorded. The baseline runs only against `baseline_url`, an unscaled
deployment of the same model.

With `probe=True` the scaled server (own or `base_url`) is also probed: one document at the target
length, NLL per position (`ropeguard.probe`), written to `scaled/probe.json` (the report shows the
curve). The gate "perplexity to the target" passes when no degradation is detected before the target
(and, with `max_nll_rise`, the largest rise over the in-window baseline is at most that many nats).
A degradation that starts before 3/4 of the plan's native window is a warning: the claimed window is
probably overstated.
"""

from __future__ import annotations

import math
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ropeguard import validation
from ropeguard.api import eval_on_server, plan_model
from ropeguard.engines.vllm_versions import version_or_none
from ropeguard.errors import EndpointError, UsageError
from ropeguard.evals import EvalConfig
from ropeguard.evals.endpoint import ServerFacts, preflight, without_userinfo
from ropeguard.evals.results import TRIALS_FILE
from ropeguard.evals.tasks import task_names
from ropeguard.files import RunLock, results_on_interrupt, run_folder, write_atomic
from ropeguard.http_client import auth_headers, public_url
from ropeguard.lengths import format_token_count, parse_token_count
from ropeguard.redaction import redact_model
from ropeguard.reports.compare import compare_runs
from ropeguard.reports.html import PLAN_FILE, write_report
from ropeguard.serve import LaunchSpec, build_launch, free_port, spec_from_plan, start_server

if TYPE_CHECKING:
    from ropeguard.evals.results import Run
    from ropeguard.plan import ContextPlan
    from ropeguard.probe import ProbeResult
    from ropeguard.serve import Server

SCHEMA_VERSION = 1
CERTIFICATE_FILE = "certificate.json"
DEFAULT_MIN_RECALL = 0.9
DEFAULT_DEPTHS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
DEFAULT_TRIALS = 4  # rounds over the depths: up to 20 trials per length
MAX_GRID_LENGTHS = 6
ALPHA = 0.05

Verdict = Literal["pass", "fail"]


class GateResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    length: int | None = None
    minimum: float | None = None
    measured: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    verdict: Verdict
    detail: str = ""


class EndpointFacts(BaseModel):
    """What an endpoint ropeguard did not start showed before any trial (certify --base-url)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str  # public form: no credentials, no query
    model: str  # the served name the trials asked for
    served: list[str]
    max_model_len: int | None  # from /v1/models (None: the server does not show it)
    engine: str | None = None
    engine_version: str | None = None  # from /version (vLLM)
    kv_cache_tokens: int | None = None  # from /metrics (vLLM's cache_config_info)

    @classmethod
    def of(cls, facts: ServerFacts) -> EndpointFacts:
        return cls(
            base_url=public_url(facts.base_url),
            model=facts.model,
            served=facts.served,
            max_model_len=facts.max_model_len,
            engine=facts.engine,
            engine_version=facts.engine_version,
            kv_cache_tokens=facts.kv_cache_tokens,
        )


class ProbeFacts(BaseModel):
    """What the probe at the target length measured (certify --probe; scaled/probe.json has the curve)."""

    model_config = ConfigDict(extra="forbid")

    length: int  # the requested length (the target)
    prompt_tokens: int  # tokens scored (the target minus the one generated token)
    bucket: int
    baseline_nll: float | None  # mean NLL of the in-window baseline region (None: no baseline)
    threshold: float  # rise over the baseline (nats) that counts as degradation
    degradation_start: int | None  # first position of a sustained rise (None: none detected)
    largest_rise: float | None  # largest bucket mean minus the baseline (nats)
    max_nll_rise: float | None = None  # the bound the gate used, if one was given


class Certificate(BaseModel):
    """The outcome of one certification, written to OUT/certificate.json."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    model: str
    target_context: int
    native_context: int
    factor: float
    hf_overrides: dict[str, Any] | None
    command: str  # the launch that was certified, as a shell line (with an endpoint: the planned one)
    passed: bool
    gates: list[GateResult]
    lengths: list[int]
    recall: dict[int, float | None] = Field(default_factory=dict)
    baseline_recall: dict[int, float | None] | None = None
    out_dir: str
    report_html: str | None = None
    warnings: list[str] = Field(default_factory=list)
    # Set when certify measured a deployment it did not start (`base_url`): what the endpoints showed.
    endpoint: EndpointFacts | None = None
    baseline_endpoint: EndpointFacts | None = None
    # Set with certify --probe: the NLL probe of the scaled server at the target length.
    probe: ProbeFacts | None = None
    wall_seconds: float = 0.0
    finished_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


def default_lengths(target: int, native: int) -> list[int]:
    """Powers of two up to the target (and the target itself), at most MAX_GRID_LENGTHS, always
    including one length inside the native window so the baseline has something to compare."""
    lengths = {target}
    length = 1 << (max(target, 2).bit_length() - 1)
    while len(lengths) < MAX_GRID_LENGTHS and length >= 1024:
        if length < target:
            lengths.add(length)
        length //= 2
    if min(lengths) > native:
        lengths.add(min(native, target))
    return sorted(lengths)


def default_gates(lengths: list[int]) -> dict[int, float]:
    return {length: DEFAULT_MIN_RECALL for length in lengths}


def _recall_gates(run: Run, gates: dict[int, float]) -> list[GateResult]:
    verdicts = {v.length: v for v in run.summary.gates or []}
    results: list[GateResult] = []
    for length, minimum in sorted(gates.items()):
        stats = run.summary.lengths.get(length)
        measured = stats.accuracy if stats is not None else None
        sequential = verdicts.get(length)
        if sequential is not None and sequential.verdict != "undecided":
            verdict: Verdict = sequential.verdict
            detail = f"sequential test ({sequential.looks} looks, alpha {ALPHA}): {sequential.verdict}"
        else:
            verdict = "pass" if measured is not None and measured >= minimum else "fail"
            detail = "point estimate" + (" (sequential test undecided)" if sequential is not None else "")
        if stats is None or stats.n == 0:
            verdict, detail = "fail", "no scored trial at this length"
        results.append(
            GateResult(
                name=f"recall at {length}",
                length=length,
                minimum=minimum,
                measured=measured,
                ci_low=stats.ci_low if stats is not None else None,
                ci_high=stats.ci_high if stats is not None else None,
                n=stats.n if stats is not None else 0,
                verdict=verdict,
                detail=detail,
            )
        )
    return results


def _baseline_gate(baseline: Run, scaled: Run) -> GateResult:
    comparison = compare_runs(baseline, scaled, alpha=ALPHA)
    overall = comparison.overall
    verdict: Verdict = "fail" if overall.verdict == "worse" else "pass"
    return GateResult(
        name="short inputs not worse than without scaling (static YaRN cost)",
        minimum=overall.a_accuracy,
        measured=overall.b_accuracy,
        n=overall.pairs,
        verdict=verdict,
        detail=(
            f"paired exact McNemar over {overall.pairs} trials: baseline right only {overall.a_only}, "
            f"scaled right only {overall.b_only}, p = {overall.p_value:.3g} ({overall.verdict})"
        ),
    )


# Probe buckets: about 32 per document, a power of two, never below the probe's default (256).
PROBE_BUCKETS_PER_TARGET = 32
MIN_PROBE_BUCKET = 256


def probe_bucket(target: int) -> int:
    """target/32 rounded down to a power of two, at least MIN_PROBE_BUCKET (128K -> 4096)."""
    per = max(target // PROBE_BUCKETS_PER_TARGET, 1)
    return max(MIN_PROBE_BUCKET, 1 << (per.bit_length() - 1))


def _run_probe(
    plan: ContextPlan, url: str, model: str, api_key: str | None, run_dir: Path, echo: TextIO | None
) -> ProbeResult:
    """One document at the target length against the scaled server, written to run_dir/probe.json."""
    # Lazy: the probe (and its HTTP source) loads only when asked for.
    from ropeguard import http_client
    from ropeguard.probe import probe_source, write_probe
    from ropeguard.probe.sources import HttpLogprobSource

    bucket = probe_bucket(plan.target_context)
    _say(echo, f"certify: probing the NLL per position at {plan.target_context} ({bucket}-token buckets)")
    # The server certify started may hold a key of its own (not the environment's): pass it on.
    client = http_client.client(api_key=api_key, timeout=PROBE_TIMEOUT_S)
    source = HttpLogprobSource(base_url=url, model=model, method="prompt_logprobs", client=client)
    try:
        result = probe_source(
            source,
            [plan.target_context],
            bucket=bucket,
            native=(plan.native_context, plan.native_context_source),
            max_length=plan.target_context,
            base_url=public_url(url),
        )
    finally:
        source.close()
    write_probe(run_dir, result)
    return result


PROBE_GATE = "perplexity to the target"
PROBE_TIMEOUT_S = 1800.0  # one request scores the whole target length


def _probe_gate(
    result: ProbeResult, target: int, max_nll_rise: float | None
) -> tuple[GateResult, ProbeFacts]:
    curve = result.curve(target)
    assert curve is not None  # probe_source scores every requested length
    base = result.baseline
    facts = ProbeFacts(
        length=target,
        prompt_tokens=curve.prompt_tokens,
        bucket=result.bucket,
        baseline_nll=base.mean_nll if base is not None else None,
        threshold=result.threshold,
        degradation_start=curve.degradation_start,
        largest_rise=curve.max_rise,
        max_nll_rise=max_nll_rise,
    )
    verdict: Verdict = "pass"
    if base is None:
        verdict, detail = "fail", "no in-window baseline region: the rise could not be measured"
    else:
        detail = (
            f"baseline {base.start}:{base.end} mean NLL {base.mean_nll:.3f}, "
            f"threshold +{result.threshold:.3f}"
        )
        if curve.degradation_start is not None:
            verdict = "fail"
            detail += f"; degradation from position {curve.degradation_start}"
        else:
            detail += f"; no degradation up to {curve.prompt_tokens} tokens"
        if max_nll_rise is not None and (curve.max_rise is None or curve.max_rise > max_nll_rise):
            verdict = "fail"
            detail += f"; largest rise {curve.max_rise} > {max_nll_rise:g} nats"
    gate = GateResult(
        name=PROBE_GATE,
        length=target,
        minimum=max_nll_rise,
        measured=curve.max_rise,
        n=curve.prompt_tokens,
        verdict=verdict,
        detail=detail,
    )
    return gate, facts


def _probe_warnings(result: ProbeResult) -> list[str]:
    """The probe's cross-check of the plan's native window (it was given the plan's number and where it
    came from): degradation before 3/4 of it means the claimed window is probably overstated."""
    return [result.native.message] if result.native is not None and result.native.message else []


def _say(echo: TextIO | None, text: str) -> None:
    if echo is not None:
        print(text, file=echo, flush=True)


DEFAULT_READY_TIMEOUT_S = 900.0

# Placeholder URL of the eval configs built before any server exists (replaced once one is up).
_NO_SERVER_YET = "http://127.0.0.1:1/v1"

# EvalConfig field -> the certify option a user gave it through (for one-line errors).
_OPTION_OF_FIELD = {"lengths": "--lengths", "depths": "--depths", "trials": "--trials", "gates": "--gate"}


def _eval_config(
    model: str,
    lengths: list[int],
    out_dir: Path,
    *,
    depths: list[float],
    trials: int,
    seed: int,
    task: str,
    gates: dict[int, float] | None,
    progress: bool,
    no_think: bool,
    native_context: int | None = None,
) -> EvalConfig:
    """The eval a server will get, validated now: a bad option found after vLLM started would cost
    its whole start-up (a minute and more) and end in a traceback."""
    if task not in task_names():
        raise UsageError(f"--task {task!r} is not a task", hint=f"choose one of: {', '.join(task_names())}")
    try:
        return EvalConfig(
            base_urls=[_NO_SERVER_YET],
            model=model,
            lengths=lengths,
            depths=depths,
            trials=trials,
            seed=seed,
            task=task,
            out_dir=out_dir,
            adaptive=gates is not None,
            gates=gates,
            alpha=ALPHA,
            progress=progress,
            no_think=no_think,
            native_context=native_context,
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        option = _OPTION_OF_FIELD.get(field, "--" + field.replace("_", "-") if field else "options")
        raise UsageError(f"{option}: {first['msg']}") from None


def _check_fresh(run_dir: Path) -> None:
    """certify writes new runs: refuse a folder that already holds one before anything starts."""
    trials = run_dir / TRIALS_FILE
    if trials.exists() and (trials.is_dir() or trials.stat().st_size > 0):
        raise UsageError(
            f"{run_dir} already holds an eval run",
            hint="certify writes a new run: pass another --out (or remove the old one)",
        )
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"{run_dir} is a file, not a folder", hint="pass another --out")


def _positive(value: float | None, option: str) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UsageError(f"{option} {value!r}: give a positive number")


def _served(config: EvalConfig, server: Server, model: str) -> EvalConfig:
    """The validated config pointed at a running server (with the key it was started with)."""
    update: dict[str, Any] = {"base_urls": [server.base_url], "model": server.served_model or model}
    if server.api_key:
        update["api_key"] = SecretStr(server.api_key)
    return config.model_copy(update=update)


def _recall(run: Run) -> dict[int, float | None]:
    return {length: stats.accuracy for length, stats in run.summary.lengths.items()}


def _write_certificate(
    out: Path,
    plan: ContextPlan,
    *,
    command: str,
    grid: list[int],
    gates: list[GateResult],
    scaled: Run | None,
    baseline_run: Run | None,
    report_html: str | None,
    warnings: list[str],
    probe_facts: ProbeFacts | None,
    started: float,
    endpoint: EndpointFacts | None = None,
    baseline_endpoint: EndpointFacts | None = None,
) -> Certificate:
    """The certificate of either path (own server or `base_url`), written to OUT/certificate.json.

    The record returned (and printed by the CLI) is the one stored: redacted of known secrets."""
    certificate = Certificate(
        model=plan.model,
        target_context=plan.target_context,
        native_context=plan.native_context,
        factor=plan.factor,
        hf_overrides=plan.hf_overrides,
        command=command,
        # No gate at all (the endpoint's max length failed first and nothing ran) is no pass.
        passed=bool(gates) and all(gate.verdict == "pass" for gate in gates),
        gates=gates,
        lengths=grid,
        recall=_recall(scaled) if scaled is not None else {},
        baseline_recall=_recall(baseline_run) if baseline_run is not None else None,
        out_dir=str(out),
        report_html=report_html,
        warnings=warnings,
        endpoint=endpoint,
        baseline_endpoint=baseline_endpoint,
        probe=probe_facts,
        wall_seconds=round(time.monotonic() - started, 1),
    )
    certificate = redact_model(certificate)
    write_atomic(out / CERTIFICATE_FILE, certificate.model_dump_json(indent=2))
    return certificate


def certify(
    model: str,
    target: int | str,
    *,
    gates: dict[int, float] | None = None,
    baseline: bool = True,
    out_dir: Path | str | None = None,
    plan: ContextPlan | None = None,
    lengths: list[int] | None = None,
    depths: list[float] | None = None,
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    task: str = "passkey",
    no_think: bool = False,
    cpu_kv_cache_gib: float | None = None,
    engine_args: list[str] | None = None,
    ready_timeout: float | None = None,
    echo: TextIO | None = sys.stderr,
    progress: bool = False,
    base_url: str | None = None,
    baseline_url: str | None = None,
    probe: bool = False,
    max_nll_rise: float | None = None,
    **plan_options: Any,
) -> Certificate:
    """Certify serving `model` at `target` tokens with ropeguard's plan; see the module docstring.

    `plan_options` go to `ropeguard.plan_model` (native, engine_version, gpu, ...) unless a
    ready `plan` is given. `base_url`: certify the deployment there instead of starting one
    (`baseline_url`: an unscaled deployment of the same model for the baseline); `ready_timeout`
    defaults to 900 s. `probe`: also probe the scaled server's NLL at the target (gate "perplexity
    to the target"; `max_nll_rise` bounds the largest rise over the baseline, in nats).
    """

    started = time.monotonic()
    check_endpoint_options(base_url, baseline_url, engine_args, cpu_kv_cache_gib, ready_timeout)
    check_probe_options(probe, max_nll_rise)
    target_tokens = parse_token_count(target, what="--target") if isinstance(target, str) else target
    if plan is None:
        plan = plan_model(model, target_tokens, **plan_options)
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    grid = sorted(lengths or default_lengths(plan.target_context, plan.native_context))
    if max(grid) > plan.target_context:
        raise UsageError(
            f"--lengths go up to {max(grid)}, beyond the target {plan.target_context}",
            hint="a certified server refuses prompts longer than its max length; raise --target",
        )
    chosen_gates = gates if gates else default_gates(grid)
    grid = sorted(set(grid) | set(chosen_gates))
    # The adaptive eval samples only gated lengths: every grid length gets one for sampling (so the
    # short lengths exist for the baseline to pair with), but only `chosen_gates` decide the verdict.
    sampling_gates = {length: chosen_gates.get(length, DEFAULT_MIN_RECALL) for length in grid}
    if max(grid) > plan.target_context:
        raise UsageError(f"a --gate length ({max(grid)}) is beyond the target {plan.target_context}")
    run_depths = list(depths or DEFAULT_DEPTHS)
    _positive(ready_timeout, "--ready-timeout")
    wait_s = ready_timeout if ready_timeout is not None else DEFAULT_READY_TIMEOUT_S
    _positive(cpu_kv_cache_gib, "--cpu-kv-cache-gib")

    # Everything is checked before the first process starts: both evals, both launches, the folders.
    scaled_dir = out / "scaled"
    baseline_dir = out / "baseline"
    options: dict[str, Any] = {
        "depths": run_depths,
        "trials": trials,
        "seed": seed,
        "task": task,
        "progress": progress,
        "no_think": no_think,
        # With the plan's native window the summary can say "fails even inside its own window".
        "native_context": plan.native_context,
    }
    scaled_config = _eval_config(model, grid, scaled_dir, gates=sampling_gates, **options)
    spec = spec_from_plan(
        plan, port=free_port(), cpu_kv_cache_gib=cpu_kv_cache_gib, extra_args=list(engine_args or [])
    )
    command = build_launch(spec).shell()
    short = [length for length in grid if length <= plan.native_context]
    if base_url is not None:
        endpoint_baseline: EvalConfig | None = None
        if baseline and baseline_url is not None and plan.factor > 1.0 and short:
            endpoint_baseline = _eval_config(model, short, baseline_dir, gates=None, **options)
        for folder in (scaled_dir, baseline_dir):
            _check_fresh(folder)
        return _certify_endpoint(
            model,
            plan,
            out,
            command=command,
            grid=grid,
            short=short,
            chosen_gates=chosen_gates,
            scaled_config=scaled_config,
            baseline_config=endpoint_baseline,
            base_url=base_url,
            baseline_url=baseline_url if baseline else None,
            baseline=baseline,
            started=started,
            echo=echo,
            probe=probe,
            max_nll_rise=max_nll_rise,
        )
    with_baseline = baseline and plan.factor > 1.0 and bool(short)
    base_spec: LaunchSpec | None = None
    baseline_config: EvalConfig | None = None
    if with_baseline:
        base_len = min(plan.native_context, plan.max_position_embeddings)
        base_spec = LaunchSpec(
            model=plan.model,
            max_model_len=base_len,
            port=free_port(),
            cpu_kv_cache_gib=cpu_kv_cache_gib,
            extra_args=list(engine_args or []),
            memory=spec.memory,
        )
        build_launch(base_spec)
        baseline_config = _eval_config(model, short, baseline_dir, gates=None, **options)
    for folder in (scaled_dir, baseline_dir):
        _check_fresh(folder)

    with RunLock(out), results_on_interrupt(out):
        _say(
            echo, f"certify: serving {model} as planned (x{plan.factor:g}, max length {plan.target_context})"
        )
        with start_server(spec, scaled_dir, ready_timeout=wait_s, echo=echo) as server:
            write_atomic(scaled_dir / PLAN_FILE, plan.model_dump_json(indent=2))
            _say(echo, f"certify: recall grid {grid} against {server.base_url}")
            scaled = eval_on_server(server, _served(scaled_config, server, model))
            probed = (
                _run_probe(
                    plan, server.base_url, server.served_model or model, server.api_key, scaled_dir, echo
                )
                if probe
                else None
            )
        results = _recall_gates(scaled, chosen_gates)
        warnings = list(plan.warnings)
        probe_facts: ProbeFacts | None = None
        if probed is not None:
            gate, probe_facts = _probe_gate(probed, plan.target_context, max_nll_rise)
            results.append(gate)
            warnings += _probe_warnings(probed)

        baseline_run: Run | None = None
        if base_spec is not None and baseline_config is not None:
            _say(
                echo,
                f"certify: baseline without scaling at the native window ({base_spec.max_model_len}), "
                f"lengths {short}",
            )
            with start_server(base_spec, baseline_dir, ready_timeout=wait_s, echo=echo) as server:
                baseline_run = eval_on_server(server, _served(baseline_config, server, model))
            results.append(_baseline_gate(baseline_run, scaled))
        elif baseline and plan.factor <= 1.0:
            warnings.append("no scaling planned (target within the native window): no baseline to compare")
        elif baseline:
            warnings.append("no grid length fits the native window: the short-input cost was not measured")

        report_html = _write_scaled_report(
            plan, scaled_dir, baseline_dir if baseline_run is not None else None, warnings
        )
        certificate = _write_certificate(
            out,
            plan,
            command=command,
            grid=grid,
            gates=results,
            scaled=scaled,
            baseline_run=baseline_run,
            report_html=report_html,
            warnings=warnings,
            probe_facts=probe_facts,
            started=started,
        )
    return certificate


# ----------------------------------------------------------------- a deployment certify did not start

# Options that shape the server certify starts: meaningless (and silently ignored would be a lie in
# the certificate) when the server is someone else's.
_SERVER_ONLY_OPTIONS = ("engine args after --", "--cpu-kv-cache-gib", "--ready-timeout")


def check_endpoint_options(
    base_url: str | None,
    baseline_url: str | None,
    engine_args: list[str] | None,
    cpu_kv_cache_gib: float | None,
    ready_timeout: float | None,
) -> None:
    """Refuse the option combinations that need a server certify starts (before anything is planned)."""
    if base_url is None:
        if baseline_url is not None:
            raise UsageError("--baseline-url needs --base-url (without it certify starts its own baseline)")
        return
    given = (bool(engine_args), cpu_kv_cache_gib is not None, ready_timeout is not None)
    for option, used in zip(_SERVER_ONLY_OPTIONS, given, strict=True):
        if used:
            raise UsageError(f"{option} cannot be used with --base-url: certify starts no server there")
    validation.base_url(base_url)
    if baseline_url is not None:
        validation.base_url(baseline_url, "--baseline-url")


def check_probe_options(probe: bool, max_nll_rise: float | None) -> None:
    if max_nll_rise is None:
        return
    if not probe:
        raise UsageError("--max-nll-rise needs --probe (it bounds the probe's NLL rise)")
    if not (math.isfinite(max_nll_rise) and max_nll_rise >= 0):
        raise UsageError(f"--max-nll-rise {max_nll_rise!r}: give a rise in nats, 0 or more")


def _endpoint(url: str, names: list[str]) -> ServerFacts:
    """Pre-flight of an endpoint (the API key from the environment, as for `eval`), for the model
    served under the first of `names` it serves, else the only model it serves."""
    headers = auth_headers()
    # httpx turns user:password@ in a URL into Basic auth, which would replace the key's header.
    reach = without_userinfo(url) if headers else url
    facts = preflight(reach, None, headers=headers)
    chosen = next((name for name in names if name in facts.served), None)
    if chosen is None and len(facts.served) == 1:
        chosen = facts.served[0]
    if chosen is None:
        raise EndpointError(
            f"{public_url(url)} serves {', '.join(facts.served)}, none of them {names[0]!r}",
            hint="serve the model under its name (vLLM --served-model-name) or certify an endpoint "
            "that serves only it",
        )
    if chosen != facts.model:
        facts = preflight(reach, chosen, headers=headers)
    facts.base_url = url  # the eval reaches it the same way, credentials dropped from what is kept
    return facts


def _max_length_gate(facts: ServerFacts, target: int) -> GateResult:
    served = facts.max_model_len
    verdict: Verdict = "pass" if served == target else "fail"
    detail = f"/v1/models shows max_model_len {served}, the plan's target is {target}"
    if served is not None and served != target:
        detail += (
            ": not the planned deployment, no trial was run"
            if served < target
            else ": it accepts lengths nobody certified, no trial was run"
        )
    return GateResult(
        name="served max length",
        minimum=float(target),
        measured=float(served) if served is not None else None,
        verdict=verdict,
        detail=detail,
    )


def _version_warning(facts: ServerFacts, planned: str | None, what: str) -> str | None:
    """The served vLLM version against the plan's: the plan's flags are the ones that version takes."""
    if planned is None or facts.engine_version is None:
        return None
    served_v, planned_v = version_or_none(facts.engine_version), version_or_none(planned)
    if served_v is not None and planned_v is not None:
        same = Version(served_v.base_version) == Version(planned_v.base_version)
    else:
        same = facts.engine_version == planned
    if same:
        return None
    return (
        f"{what} runs vLLM {facts.engine_version} (/version), the plan is for vLLM {planned}: "
        f"re-plan with --engine-version {facts.engine_version} if its flags differ"
    )


def _at_endpoint(config: EvalConfig, url: str, facts: ServerFacts) -> EvalConfig:
    """The validated config pointed at an endpoint (its key, if any, comes from the environment)."""
    return config.model_copy(update={"base_urls": [url], "model": facts.model})


def _certify_endpoint(
    model: str,
    plan: ContextPlan,
    out: Path,
    *,
    command: str,
    grid: list[int],
    short: list[int],
    chosen_gates: dict[int, float],
    scaled_config: EvalConfig,
    baseline_config: EvalConfig | None,
    base_url: str,
    baseline_url: str | None,
    baseline: bool,
    started: float,
    echo: TextIO | None,
    probe: bool = False,
    max_nll_rise: float | None = None,
) -> Certificate:
    """certify against a deployment it did not start: its facts against the plan, then the grid."""
    # Lazy, like eval_on_server: the eval core loads when a run starts.
    from ropeguard.evals import run as run_eval

    scaled_dir, baseline_dir = scaled_config.out_dir, out / "baseline"
    assert scaled_dir is not None
    names = [model, plan.model]
    facts = _endpoint(base_url, names)
    base_facts = _endpoint(baseline_url, names) if baseline_url is not None and baseline_config else None
    warnings = list(plan.warnings)
    for found, what in ((facts, "the endpoint"), (base_facts, "the baseline endpoint")):
        warning = _version_warning(found, plan.engine_version, what) if found is not None else None
        if warning is not None:
            warnings.append(warning)
    if facts.max_model_len is None:
        warnings.append(
            f"{public_url(base_url)} does not show max_model_len in /v1/models: the served max length "
            "was not compared with the plan"
        )
    results: list[GateResult] = []
    scaled: Run | None = None
    baseline_run: Run | None = None
    report_html: str | None = None
    probe_facts: ProbeFacts | None = None

    with RunLock(out), results_on_interrupt(out):
        if facts.max_model_len is not None:
            results.append(_max_length_gate(facts, plan.target_context))
        if results and results[0].verdict == "fail":
            _say(echo, f"certify: {public_url(base_url)}: {results[0].detail}")
        else:
            write_atomic(scaled_dir / PLAN_FILE, plan.model_dump_json(indent=2))
            _say(echo, f"certify: recall grid {grid} against {public_url(base_url)} ({facts.model})")
            scaled = run_eval(_at_endpoint(scaled_config, base_url, facts))
            results += _recall_gates(scaled, chosen_gates)
            if probe:
                probed = _run_probe(plan, base_url, facts.model, None, scaled_dir, echo)
                gate, probe_facts = _probe_gate(probed, plan.target_context, max_nll_rise)
                results.append(gate)
                warnings += _probe_warnings(probed)
            if base_facts is not None and baseline_config is not None and baseline_url is not None:
                _say(echo, f"certify: baseline lengths {short} against {public_url(baseline_url)}")
                baseline_run = run_eval(_at_endpoint(baseline_config, baseline_url, base_facts))
                results.append(_baseline_gate(baseline_run, scaled))
            elif baseline and plan.factor > 1.0:
                warnings.append(
                    "no baseline was measured (the short-input cost of static YaRN): pass --baseline-url "
                    "with an unscaled deployment of the same model"
                    if baseline_url is None
                    else "no grid length fits the native window: the short-input cost was not measured"
                )
            elif baseline and baseline_url is not None:
                warnings.append("no scaling planned (target within the native window): --baseline-url unused")
            report_html = _write_scaled_report(
                plan,
                scaled_dir,
                baseline_dir if baseline_run is not None else None,
                warnings,
                endpoint=public_url(base_url),
            )
        certificate = _write_certificate(
            out,
            plan,
            command=command,
            grid=grid,
            gates=results,
            scaled=scaled,
            baseline_run=baseline_run,
            report_html=report_html,
            warnings=warnings,
            probe_facts=probe_facts,
            started=started,
            endpoint=EndpointFacts.of(facts),
            baseline_endpoint=EndpointFacts.of(base_facts) if base_facts is not None else None,
        )
    return certificate


def default_out_dir() -> Path:
    return run_folder("certify")


def _write_scaled_report(
    plan: ContextPlan,
    scaled_dir: Path,
    baseline_dir: Path | None,
    warnings: list[str],
    endpoint: str | None = None,
) -> str:
    """The scaled run's report (paired with the baseline when one ran: McNemar, both curves, the
    short-input cost); its headline, when recall fails inside the served length, leads `warnings`."""
    report = write_report(
        scaled_dir,
        baseline=baseline_dir,
        within=plan.native_context,
        title=_report_title(plan, endpoint=endpoint),
    )
    if report.headline is not None:
        warnings.insert(0, report.headline)
    return str(report.html)


def _report_title(plan: ContextPlan, endpoint: str | None = None) -> str:
    """The scaled run's report title: which configuration was certified (and where)."""
    scaling = f"YaRN x{plan.factor:g}" if plan.factor > 1.0 else "no rope scaling"
    where = f" at {endpoint}" if endpoint else ""
    return (
        f"ropeguard certify: {plan.model}{where} as planned ({scaling}, native {plan.native_context}, "
        f"max length {plan.target_context})"
    )


def render_certificate(certificate: Certificate) -> str:
    """A short text verdict for the terminal."""
    # The verdict first: a long model name wraps the line after it, never the verdict itself.
    lines = [
        ("PASSED" if certificate.passed else "FAILED")
        + f": certify {certificate.model} at {certificate.target_context} tokens "
        f"(native {certificate.native_context}, factor x{certificate.factor:g})",
        "",
    ]
    for gate in certificate.gates:
        measured = "-" if gate.measured is None else f"{gate.measured:.2f}"
        bound = ""
        if gate.length is not None and gate.minimum is not None:
            # The probe's bound is a ceiling on the NLL rise; recall's a floor.
            bound = f" <= {gate.minimum:g} nats" if gate.name == PROBE_GATE else f" >= {gate.minimum:.2f}"
        if gate.length is None and gate.n == 0:  # a fact compared, not a measured rate
            lines.append(f"  [{gate.verdict}] {gate.name}: {gate.detail}")
            continue
        lines.append(f"  [{gate.verdict}] {gate.name}{bound}: {measured} (n={gate.n}; {gate.detail})")
    if certificate.baseline_recall is not None:
        lines.append("")
        lines.append("  recall per prompt length, with and without the planned scaling:")
        lines.append("  prompt length (tokens)  as planned  unscaled baseline")
        for length in sorted(certificate.baseline_recall):
            scaled = certificate.recall.get(length)
            base = certificate.baseline_recall[length]
            lines.append(f"  {length:>22}  {_fmt(scaled):>10}  {_fmt(base):>17}")
    if certificate.probe is not None:
        facts = certificate.probe
        start = "none" if facts.degradation_start is None else f"from position {facts.degradation_start}"
        rise = "-" if facts.largest_rise is None else f"{facts.largest_rise:.3f}"
        lines += ["", f"  probe at {facts.length}: degradation {start}, largest NLL rise {rise} nats"]
    for warning in certificate.warnings:
        lines.append(f"  warning: {warning}")
    if certificate.endpoint is not None:
        lines += _endpoint_lines("endpoint", certificate.endpoint)
        if certificate.baseline_endpoint is not None:
            lines += _endpoint_lines("baseline endpoint", certificate.baseline_endpoint)
        lines += ["", f"  planned launch (not started by certify): {certificate.command}"]
    else:
        lines += ["", f"  served with: {certificate.command}"]
    lines.append(f"  report: {certificate.report_html or '- (no trial was run)'}")
    if certificate.passed and certificate.endpoint is None:
        target = format_token_count(certificate.target_context)
        native = format_token_count(certificate.native_context)
        model = shlex.quote(certificate.model)
        lines.append(f"  next: ropeguard serve {model} --target {target} --native {native}  # as certified")
    elif not certificate.passed:
        lines.append(
            "  next: the report shows where recall fails; `ropeguard plan` and `ropeguard lint` say why"
        )
    return "\n".join(lines) + "\n"


def _endpoint_lines(what: str, facts: EndpointFacts) -> list[str]:
    engine = f"{facts.engine} {facts.engine_version}" if facts.engine_version else "engine not shown"
    return [
        "",
        f"  {what}: {facts.base_url} serves {facts.model} (max_model_len {facts.max_model_len or '-'}, "
        f"{engine})",
    ]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
