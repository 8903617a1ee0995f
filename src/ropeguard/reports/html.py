"""One self-contained HTML report of a run directory: no scripts, no external requests.

    RUN_DIR/run.json + trials.jsonl (+ summary.json)   an eval run   -> heatmap, accuracy per length
    RUN_DIR/probe.json                                  a probe       -> perplexity by position
    RUN_DIR/plan.json                                   `plan --json` -> the settings used

Any of the three may be missing, but not all. Charts are inline SVG; CSS is inline. Every string that
came from a model, a server or a config goes through `html.escape`, so an answer such as
`<script>...` shows as text and never runs.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from ropeguard.errors import UsageError
from ropeguard.evals.loader import load_run
from ropeguard.evals.results import RUN_FILE, Run
from ropeguard.files import write_atomic
from ropeguard.probe.cost import ShortInputCost, compare_short_input_cost
from ropeguard.probe.results import PROBE_FILE, ProbeResult
from ropeguard.probe.runner import read_probe
from ropeguard.redaction import redact_text
from ropeguard.reports import svg
from ropeguard.reports.compare import Comparison, compare_runs
from ropeguard.reports.narrative import effective_context_lines, served_mismatch, unmeasured_range
from ropeguard.reports.png import write_heatmap_png
from ropeguard.version import __version__

PLAN_FILE = "plan.json"
HTML_FILE = "report.html"
PNG_FILE = "heatmap.png"

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1040px;
color:#222;background:#fff;line-height:1.4;padding:0 16px}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.15em;margin-top:28px;border-bottom:1px solid #ddd}
.sub{color:#555;margin-top:0}.verdict{display:block;font-size:1.1em;padding:8px 12px;background:#e8eef5;
border-radius:6px;overflow-wrap:anywhere}.headline{display:block;font-size:1.2em;padding:10px 14px;
background:#fff3e0;border-left:6px solid #c05800;color:#7a3800;margin:8px 0 12px}
table{border-collapse:collapse;margin:8px 0;font-size:.92em}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:right}th{background:#f4f6f8}td.l,th.l{text-align:left}td:not(.l){white-space:nowrap}code,pre{font-family:ui-monospace,Menlo,
Consolas,monospace;font-size:.88em}pre{background:#f6f8fa;padding:8px;overflow-x:auto;white-space:pre-wrap;
word-break:break-all}.warn li{color:#8a4b00}.tick{font-size:11px;fill:#333}.axis{font-size:12px;fill:#222}
.cell{font-size:11px}.grid{stroke:#e5e5e5}.threshold{stroke:#c00;stroke-dasharray:5 4}
.baseline{stroke:#777;stroke-dasharray:2 3}.interval{stroke:#333;stroke-width:1.5}
.marker{stroke-dasharray:4 3}
.charts{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
"""


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    png: Path | None
    warnings: tuple[str, ...] = ()  # e.g. trials.jsonl lines skipped; also shown in the report
    headline: str | None = None  # the report's first line when recall fails inside the served length
    title: str = "ropeguard report"
    launched: str | None = None  # the command that started the run's server, when one was logged
    effective_context: int | None = None
    effective_context_text: tuple[str, ...] = ()  # effective_context_lines: the same words as the page
    served_max: int | None = None


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _table(header: Iterable[str], rows: Iterable[Iterable[object]], left: int = 1) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(header))
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"l" if i < left else ""}">{_e(c)}</td>' for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _run_sections(run: Run) -> tuple[str, list[str]]:
    info, summary = run.info, run.summary
    lengths = sorted(set(info.config.lengths) | set(summary.lengths))
    depths = sorted(set(info.config.depths) | {c.depth for c in summary.cells})
    cells = {(c.length, c.depth): (c.accuracy, c.n) for c in summary.cells}
    points = [
        svg.IntervalPoint(label=str(length), value=s.accuracy, low=s.ci_low, high=s.ci_high)
        for length in lengths
        if (s := summary.lengths.get(length)) is not None
    ]
    rows = []
    warnings: list[str] = []
    for length in lengths:
        s = summary.lengths.get(length)
        if s is None:
            rows.append([length, 0, "-", "-", "-", "-", "-", "-"])
            continue
        rows.append(
            [
                length,
                s.n,
                _fmt(s.accuracy),
                f"[{s.ci_low:.2f}, {s.ci_high:.2f}]",
                "-" if s.degenerate_rate is None else f"{s.degenerate_rate:.2f} ({s.degenerate})",
                s.invalid,
                s.errors,
                _fmt(s.mean_prompt_tokens, 0),
            ]
        )
        if s.invalid:
            warnings.append(f"length {length}: {s.invalid} invalid trial(s) (not counted in the accuracy)")
        if s.errors:
            warnings.append(f"length {length}: {s.errors} trial(s) failed with an error (no answer)")
    verdict = f'<p class="verdict">{_effective_context_line(summary)}</p>'
    if summary.verdict:
        verdict += f'<p class="verdict"><b>{_e(summary.verdict)}</b></p>'
        warnings.append(summary.verdict)
    html = (
        verdict + "<h2>Recall by prompt length and needle depth</h2>"
        f'<div class="charts"><div>{svg.heatmap_svg(lengths, depths, cells)}</div>'
        f"<div>{svg.interval_chart_svg(points, summary.effective_context_threshold)}</div></div>"
        "<h2>Accuracy per length (Wilson 95% interval)</h2>"
        + _table(
            [
                "length",
                "scored",
                "accuracy",
                "95% interval",
                "degenerate rate",
                "invalid",
                "errors",
                "mean prompt tokens",
            ],
            rows,
        )
        + "<p>Status counts: "
        + _e(", ".join(f"{k} {v}" for k, v in sorted(summary.status_counts.items())) or "none")
        + "</p>"
        + _reasons_section(run)
        + _sample_answers(run)
    )
    return html, warnings


def _effective_context_line(summary: Any) -> str:
    """The effective context and its 95% range, in the words the terminal table uses."""
    first, *rest = effective_context_lines(summary)
    return _e(first) + "".join(f"<br>{_e(line)}" for line in rest)


def _reasons_section(run: Run) -> str:
    """Why trials were not scored (invalid, error) or failed by degenerating: reason -> count."""
    counts: dict[tuple[str, str], int] = {}
    for trial in run.trials:
        if trial.status in ("invalid", "error") or trial.degenerate:
            kind = "degenerate" if trial.degenerate else trial.status
            reason = trial.reason.split(": ", 1)[0] if trial.degenerate else trial.reason
            counts[(kind, reason[:160])] = counts.get((kind, reason[:160]), 0) + 1
    if not counts:
        return ""
    rows = [[kind, reason, count] for (kind, reason), count in sorted(counts.items(), key=lambda i: -i[1])]
    return "<h3>Reasons for invalid, error and degenerate trials</h3>" + _table(
        ["kind", "reason", "trials"], rows, left=2
    )


def _sample_answers(run: Run, per_status: int = 3) -> str:
    """A few answers of each status, per length: what the model actually wrote."""
    picked: list[Any] = []
    seen: dict[tuple[int, str], int] = {}
    for trial in sorted(run.trials, key=lambda t: (t.length, t.depth, t.index)):
        kind = (trial.length, "degenerate" if trial.degenerate else trial.status)
        if seen.get(kind, 0) < per_status:
            seen[kind] = seen.get(kind, 0) + 1
            picked.append(trial)
    if not picked:
        return ""
    rows = [
        [
            t.length,
            f"{t.depth:g}",
            t.status + (" (degenerate)" if t.degenerate else ""),
            ", ".join(t.expected),
            repr((t.answer or "")[:160]),
            t.completion_tokens if t.completion_tokens is not None else "-",
            t.reason[:120],
        ]
        for t in picked[:40]
    ]
    return "<h3>Sample answers</h3>" + _table(
        ["length", "depth", "status", "expected", "answer", "tokens generated", "reason"], rows, left=5
    )


def _comparison_section(result: Comparison) -> str:
    rows = [
        [
            name,
            s.pairs,
            _fmt(s.a_accuracy),
            _fmt(s.b_accuracy),
            "-" if s.delta is None else f"{s.delta:+.2f}",
            s.a_only,
            s.b_only,
            f"{s.p_value:.4g}",
            s.verdict,
        ]
        for name, s in [*((str(k), v) for k, v in result.lengths.items()), ("all", result.overall)]
    ]
    return (
        "<h2>Paired comparison with the baseline (exact McNemar)</h2>"
        f"<p>A = {_e(result.run_a.path or result.run_a.model)}, "
        f"B = {_e(result.run_b.path or result.run_b.model)}.</p>"
        f'<p class="verdict">B vs A: <b>{_e(result.overall.verdict)}</b> at alpha {result.alpha:g}</p>'
        + _table(["length", "pairs", "A", "B", "delta", "A only", "B only", "p", "verdict"], rows)
    )


def _cost_section(cost: ShortInputCost) -> str:
    rows = [
        [f"{b.start}-{b.end}", f"{b.scaled_nll:.3f}", f"{b.unscaled_nll:.3f}", f"{b.delta:+.3f}"]
        for b in cost.buckets
    ]
    return f"<h2>Short-input cost</h2><p>{_e(cost.describe())}.</p>" + _table(
        ["positions", "scaled NLL", "unscaled NLL", "delta"], rows
    )


def _probe_section(probe: ProbeResult, baseline_probe: ProbeResult | None = None) -> str:
    curves = sorted(probe.curves, key=lambda c: c.length)
    # Every curve is a prefix of the same document, so the shorter ones lie on the longest: draw that
    # one, mark where it degrades, and list every length in the table.
    longest = max(curves, key=lambda c: c.prompt_tokens)
    drawn = [
        svg.Curve(
            label=f"this run, {longest.length}" if baseline_probe is not None else f"length {longest.length}",
            points=[((b.start + b.end) / 2, b.mean_nll) for b in longest.buckets],
            marker=longest.degradation_start,
        )
    ]
    if baseline_probe is not None and baseline_probe.curves:
        other = max(baseline_probe.curves, key=lambda c: c.prompt_tokens)
        drawn.append(
            svg.Curve(
                label=f"baseline, {other.length}",
                points=[((b.start + b.end) / 2, b.mean_nll) for b in other.buckets],
                marker=other.degradation_start,
            )
        )
    base = probe.baseline
    rows = [
        [
            c.length,
            c.prompt_tokens,
            c.degradation_start if c.degradation_start is not None else "none",
            _fmt(c.max_rise, 3),
            f"{c.latency_s:.1f} s",
        ]
        for c in curves
    ]
    if baseline_probe is not None:
        rows += [
            [
                f"baseline {c.length}",
                c.prompt_tokens,
                c.degradation_start if c.degradation_start is not None else "none",
                _fmt(c.max_rise, 3),
                f"{c.latency_s:.1f} s",
            ]
            for c in sorted(baseline_probe.curves, key=lambda c: c.length)
        ]
    baseline_text = (
        f"baseline {base.mean_nll:.3f} nats over tokens {base.start}-{base.end} "
        f"(bucket std {base.bucket_std:.4f}); threshold +{probe.threshold:.3f} nats: "
        f"{_e(probe.threshold_rule)}"
        if base is not None
        else "no baseline (no curve covers the baseline region)"
    )
    return (
        "<h2>Perplexity by position (probe)</h2>"
        f"<p>{_e(probe.source.model)} via {_e(probe.source.method)}; document {_e(probe.document.name)} "
        f"({probe.document.tokens} tokens); buckets of {probe.bucket} tokens. {baseline_text}. "
        "A vertical line marks where degradation starts.</p>"
        + svg.nll_chart_svg(drawn, base.mean_nll if base else None, probe.threshold if base else None)
        + _table(["length", "tokens scored", "degradation starts near", "max rise (nats)", "latency"], rows)
    )


def _settings_section(
    run: Run | None,
    probe: ProbeResult | None,
    plan: Mapping[str, Any] | None,
    launched: str | None = None,
) -> str:
    rows: list[list[object]] = []
    if run is not None:
        server, config = run.info.server, run.info.config
        rows += [
            ["model", server.model],
            ["backend", server.backend],
            ["endpoints", ", ".join(server.base_urls) or "-"],
            ["served max_model_len", server.max_model_len if server.max_model_len is not None else "-"],
            ["engine", f"{server.engine or '-'} {server.engine_version or ''}".strip()],
            ["task", config.task],
            ["lengths", ", ".join(str(x) for x in config.lengths)],
            ["depths", ", ".join(f"{d:g}" for d in config.depths)],
            ["trials per cell", config.trials],
            ["seed", config.seed],
            ["haystack", config.haystack_file or config.haystack],
            ["mode", config.mode],
            ["thinking", "off (--no-think)" if config.no_think else "template default"],
            ["thinking budget", config.thinking_budget if config.thinking_budget is not None else "-"],
            ["answer budget", config.max_answer_tokens if config.max_answer_tokens is not None else "auto"],
            ["native window", config.native_context if config.native_context is not None else "-"],
        ]
    if probe is not None and run is None:
        rows += [["model", probe.source.model], ["endpoint", probe.source.base_url or "in process"]]
    overrides = (run.info.server.hf_overrides if run is not None else None) or (
        probe.source.hf_overrides if probe is not None else None
    )
    parts = ["<h2>Settings used</h2>", _table(["setting", "value"], rows, left=2) if rows else ""]
    if launched is not None:
        # What really ran (its own port and flags), not the plan's example line.
        parts.append(f"<p>Serve command (as launched, from {SERVER_LOG}):</p><pre>{_e(launched)}</pre>")
    if plan is not None:
        command = plan.get("command")
        if isinstance(command, list) and launched is None:
            parts.append(
                "<p>Serve command (from the plan; no launch of this run was recorded, so the server "
                f"may have been started differently):</p><pre>{_e(shlex.join(str(a) for a in command))}</pre>"
            )
        plan_rows = [
            [key, json.dumps(plan[key]) if isinstance(plan[key], (dict, list)) else plan[key]]
            for key in ("model", "engine", "engine_version", "native_context", "target_context", "factor")
            if key in plan
        ]
        if plan_rows:
            parts.append(_table(["plan", "value"], plan_rows, left=2))
        overrides = overrides or plan.get("hf_overrides")
    if overrides:
        parts.append(f"<p>hf_overrides:</p><pre>{_e(json.dumps(overrides, indent=2, sort_keys=True))}</pre>")
    else:
        parts.append("<p>hf_overrides: none recorded (the server's own config).</p>")
    return "".join(parts)


def _versions(run: Run | None, probe: ProbeResult | None) -> dict[str, str]:
    versions: dict[str, str] = {"ropeguard (report)": __version__}
    if run is not None:
        versions["ropeguard (run)"] = run.info.ropeguard_version
        versions.update(run.info.versions)
        if run.info.server.engine_version:
            versions[run.info.server.engine or "engine"] = run.info.server.engine_version
    if probe is not None:
        versions.update({f"{k} (probe)": v for k, v in probe.versions.items()})
    return versions


def render_html(
    run: Run | None,
    probe: ProbeResult | None = None,
    plan: Mapping[str, Any] | None = None,
    *,
    baseline_probe: ProbeResult | None = None,
    comparison: Comparison | None = None,
    cost: ShortInputCost | None = None,
    title: str = "ropeguard report",
    extra_warnings: Iterable[str] = (),
    source: str | None = None,
    served_max: int | None = None,
    launched: str | None = None,
) -> str:
    """The whole report as one HTML string (inline CSS and SVG, no script, no external reference).

    With a baseline (the unscaled server: `baseline_probe`, `comparison` from `compare_runs(baseline,
    run)`, `cost` from `compare_short_input_cost`), the report also shows both NLL curves and the
    paired verdict: what `certify` hands over.

    When recall fails at a length the server accepts (`served_max`, default: the max_model_len the
    run recorded), that is the headline: the page's first line, and the first warning.
    `launched` is the command that started the server (`launched_command(run_dir)`).
    """
    if run is None and probe is None:
        raise UsageError("nothing to report: neither an eval run nor a probe")
    model = run.info.server.model if run is not None else probe.source.model if probe is not None else "?"
    warnings: list[str] = []
    body: list[str] = []
    headline = report_headline(run, served_max)
    if headline is not None:
        warnings.append(headline)
    if run is not None:
        html, run_warnings = _run_sections(run)
        body.append(html)
        warnings += run_warnings
    if comparison is not None:
        body.append(_comparison_section(comparison))
        warnings += [f"compare: {w}" for w in comparison.warnings]
    if probe is not None:
        body.append(_probe_section(probe, baseline_probe))
        warnings += probe.warnings
    if cost is not None:
        body.append(_cost_section(cost))
    if plan is not None and isinstance(plan.get("warnings"), list):
        warnings += [f"plan: {w}" for w in plan["warnings"]]
    warnings += list(extra_warnings)
    if run is not None and headline is None:
        note = unmeasured_range(run.summary, _served_max(run, served_max))
        if note is not None:
            warnings.append(note)
    body.append(_settings_section(run, probe, plan, launched))
    body.append(
        "<h2>Versions</h2>" + _table(["component", "version"], sorted(_versions(run, probe).items()), left=2)
    )
    body.append(
        "<h2>Warnings</h2>"
        + (
            '<ul class="warn">' + "".join(f"<li>{_e(w)}</li>" for w in warnings) + "</ul>"
            if warnings
            else "<p>None.</p>"
        )
    )
    where = source or (str(run.directory) if run is not None and run.directory is not None else "")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        # No network at all, even if a string slipped through unescaped.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}: {_e(model)}</title><style>{_CSS}</style></head><body>"
        + (f'<p class="headline"><b>Warning: {_e(headline)}.</b></p>' if headline else "")
        + f'<h1>{_e(title)}</h1><p class="sub">{_e(model)} &middot; {_e(where or "-")} &middot; '
        f"generated {_e(now)}</p>" + "".join(body) + "</body></html>"
    )


def _served_max(run: Run, served_max: int | None) -> int | None:
    return served_max if served_max is not None else run.info.server.max_model_len


def report_headline(run: Run | None, served_max: int | None = None) -> str | None:
    """ "Served max length 8k (8192 tokens), but recall holds only to 2k ...": when the server accepts
    prompts of lengths at which recall was measured to fail (None otherwise)."""
    if run is None:
        return None
    return served_mismatch(run.summary, _served_max(run, served_max))


SERVER_LOG = "server.log"  # written by ropeguard.serve.Server in the run folder it is given
LAUNCH_MARK = "# ropeguard: "  # Server.start's first line in that log: the launch, secrets redacted
_LOG_SCAN_BYTES = 64 << 20  # a log that grew past this has its launch line long before


def launched_command(run_dir: Path) -> str | None:
    """The command that started this run's server, as `Server.start` logged it (the last start, when
    the log holds several); None when no server of ropeguard's wrote a log here."""
    path = Path(run_dir) / SERVER_LOG
    found: str | None = None
    try:
        with path.open("rb") as log:
            read = 0
            for raw in log:
                read += len(raw)
                if raw.startswith(LAUNCH_MARK.encode()):
                    found = raw.decode("utf-8", "replace")[len(LAUNCH_MARK) :].strip() or found
                if read > _LOG_SCAN_BYTES:
                    break
    except OSError:
        return None
    return found


def report_summary(files: ReportFiles) -> dict[str, Any]:
    """What `ropeguard report --json` prints: the files written, the title, the headline, the
    effective context (and its words), the served max length and the command that launched the
    run's server."""
    return {
        "html": str(files.html),
        "png": str(files.png) if files.png is not None else None,
        "title": files.title,
        "headline": files.headline,
        "effective_context": files.effective_context,
        "effective_context_text": list(files.effective_context_text),
        "served_max_length": files.served_max,
        "launched": files.launched,
        "warnings": list(files.warnings),
    }


def load_report_inputs(run_dir: Path) -> tuple[Run | None, ProbeResult | None, dict[str, Any] | None]:
    """What RUN_DIR holds: the eval run, the probe and the plan, each None when absent."""

    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run directory")
    run = load_run(run_dir) if (run_dir / RUN_FILE).exists() else None
    probe = read_probe(run_dir) if (run_dir / PROBE_FILE).exists() else None
    plan: dict[str, Any] | None = None
    if (run_dir / PLAN_FILE).exists():
        try:
            loaded = json.loads((run_dir / PLAN_FILE).read_text())
        except json.JSONDecodeError as error:
            raise UsageError(f"{run_dir / PLAN_FILE} is not JSON: {error.msg}") from None
        plan = loaded if isinstance(loaded, dict) else None
    if run is None and probe is None:
        raise UsageError(
            f"{run_dir} holds neither an eval run ({RUN_FILE}) nor a probe ({PROBE_FILE})",
            hint="pass the --out directory of `ropeguard eval` or `ropeguard probe`",
        )
    return run, probe, plan


def write_report(
    run_dir: Path | str,
    html: Path | None = None,
    png: Path | None = None,
    *,
    baseline: Path | str | None = None,
    within: int | None = None,
    title: str | None = None,
    served_max: int | None = None,
) -> ReportFiles:
    """Write RUN_DIR's HTML report (default RUN_DIR/report.html) and, for an eval run, its PNG heatmap
    (default RUN_DIR/heatmap.png).

    `baseline` is the run directory of the unscaled server: its eval run is paired with this one
    (`compare_runs(baseline, run)`), its probe drawn beside this one, and the short-input cost computed
    over positions below `within` (default: the baseline server's max_model_len). `title` names the
    configuration (the HTML heading and the PNG's title); `served_max` overrides the served max length
    recorded in run.json (what the headline compares the effective context with).
    """

    directory = Path(run_dir)
    run, probe, plan = load_report_inputs(directory)
    baseline_probe: ProbeResult | None = None
    base_run: Run | None = None
    comparison: Comparison | None = None
    cost: ShortInputCost | None = None
    notes: list[str] = []
    if baseline is not None:
        base_run, baseline_probe, _ = load_report_inputs(Path(baseline))
        if run is not None and base_run is not None:
            comparison = compare_runs(base_run, run)
        window = within or (base_run.info.server.max_model_len if base_run is not None else None)
        if probe is not None and baseline_probe is not None:
            if window is None:
                notes.append("short-input cost: pass --within (the native window) to compute it")
            else:
                cost = compare_short_input_cost(
                    probe,
                    baseline_probe,
                    window,
                    scaled_summary=run.summary if run is not None else None,
                    unscaled_summary=base_run.summary if base_run is not None else None,
                )
    html_path = html or directory / HTML_FILE
    skipped = [r.skipped_warning for r in (run, base_run) if r is not None and r.skipped_warning]
    notes.extend(w for w in skipped if w)
    launched = launched_command(directory)
    heading = title or "ropeguard report"
    page = render_html(
        run,
        probe,
        plan,
        baseline_probe=baseline_probe,
        comparison=comparison,
        cost=cost,
        title=heading,
        extra_warnings=notes,
        source=str(directory),
        served_max=served_max,
        launched=launched,
    )
    # Answers and reasons came from a server: the one redaction of known secrets applies.
    write_atomic(html_path, redact_text(page))
    png_path: Path | None = None
    if run is not None:
        png_path = write_heatmap_png(
            run, png or directory / PNG_FILE, title=title, headline=report_headline(run, served_max)
        )
    return ReportFiles(
        html=html_path,
        png=png_path,
        warnings=tuple(w for w in skipped if w),
        headline=redact_text(h) if (h := report_headline(run, served_max)) else None,
        title=heading,
        launched=launched,
        effective_context=run.summary.effective_context if run is not None else None,
        effective_context_text=tuple(effective_context_lines(run.summary)) if run is not None else (),
        served_max=_served_max(run, served_max) if run is not None else None,
    )
