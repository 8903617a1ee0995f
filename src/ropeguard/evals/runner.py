"""Running a recall grid: order the trials for the prefix cache, send them, judge, record.

Request order (why it is fast)
------------------------------
vLLM's automatic prefix cache reuses the KV of any earlier prompt's leading blocks. All trials of a
run draw their filler from one seeded, prefix-stable haystack stream, so two prompts are identical
up to the first needle of either of them; the text after a needle (and the needle itself) is always
new work. A prompt whose earliest needle sits at token p can therefore reuse at most p tokens, and it
does reuse all p as soon as any earlier prompt carried at least p tokens of that same stream before
its own first needle. Hence the order:

1. longest length first, and within a length the latest first needle first (depth 1.0 first for
   one-needle tasks): the very first prompt carries the whole longest haystack, after which every
   other prompt, of any length, finds its whole needle-free prefix cached and prefills only
   `length - needle position` new tokens - the minimum any order can reach;
2. that first prompt is sent alone (one per replica, since each replica has its own cache) and
   everything else fans out only after it finished, so that concurrent requests do not all
   prefill the shared prefix at the same time before it is cached.

Durability
----------
Each finished trial is appended to trials.jsonl with write + flush + fsync before the next one is
recorded; `resume=True` skips trial ids already there. A killed client loses at most the trials in
flight, and a torn last line is dropped (results.TrialLog). Errors (no answer after the retries) are
recorded as `error` and never count as recall failures; a resumed run retries them.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from ropeguard.errors import UsageError
from ropeguard.evals.config import EvalConfig
from ropeguard.evals.endpoint import Reply
from ropeguard.evals.prompts import Prepared, PromptBuilder
from ropeguard.evals.results import (
    TRIALS_FILE,
    GateVerdict,
    PrefixCacheStats,
    Run,
    RunConfig,
    RunInfo,
    ServerInfo,
    TrialLog,
    TrialRecord,
    read_run_info,
    read_summary,
    write_run_info,
    write_summary,
)
from ropeguard.evals.stats import effective_context_from_verdicts, summarize
from ropeguard.evals.tokenization import length_is_valid
from ropeguard.evals.verdicts import (
    REASON_CUT_AFTER_THINKING,
    REASON_THINKING_EXHAUSTED,
    THINKING_FLAGS_HINT,
    degenerate_reason,
    thinking_hint,
)

LENGTH_TOLERANCE = 0.01  # off by more than this from the prompt target: the trial is invalid
DEFAULT_CONCURRENCY = 8

Cell = tuple[int, float, int]  # (length, depth, index)


class Responder(Protocol):
    """Something that answers prepared trials: a set of server replicas, or an in-process model."""

    replicas: int

    async def answer(self, prepared: Prepared, replica: int) -> Reply: ...

    async def aclose(self) -> None: ...


# ------------------------------------------------------------------------------------------- order


def first_needle_fraction(depth: float, needles: int) -> float:
    """Where the earliest needle of a trial sits (0..1): what the cached prefix is limited by."""
    return min(depth if k == 0 else (depth + k / needles) % 1.0 for k in range(max(1, needles)))


def order_trials(cells: Sequence[Cell], needles: int = 1) -> list[Cell]:
    """Longest length first, latest first needle first, then depth and index (see module doc)."""
    return sorted(cells, key=lambda c: (-c[0], -first_needle_fraction(c[1], needles), -c[1], c[2]))


def grid_cells(lengths: Sequence[int], depths: Sequence[float], trials: int) -> list[Cell]:
    return [(length, depth, index) for length in lengths for depth in depths for index in range(trials)]


# ------------------------------------------------------------------------------------------- judge


def judge(prepared: Prepared, reply: Reply, task: Any, *, replica: int | None) -> TrialRecord:
    """Status and score of one answered trial (see results.TrialStatus for the meanings)."""
    sample = prepared.sample
    record = TrialRecord(
        trial_id=sample.trial_id,
        task=sample.task,
        length=prepared.key.length,
        prompt_target=prepared.prompt_target,
        prompt_tokens=prepared.prompt_tokens,
        usage_prompt_tokens=reply.usage_prompt_tokens,
        depth=sample.depth,
        index=sample.index,
        seed=sample.seed,
        needles=list(sample.needles),
        expected=list(sample.expected),
        answer=reply.answer,
        reasoning=reply.reasoning,
        latency_s=reply.latency_s,
        finish_reason=reply.finish_reason,
        attempts=reply.attempts,
        replica=replica,
        status="error",
        max_tokens=prepared.max_tokens,
        completion_tokens=reply.completion_tokens,
        fit_sentences=prepared.fit[0] if prepared.fit else None,
        fit_chars=prepared.fit[1] if prepared.fit else None,
        prompt_sha256=prepared.sha256(),
    )
    target = prepared.prompt_target
    if reply.error is not None:
        return record.model_copy(update={"status": "error", "reason": reply.error})
    if reply.refused is not None:
        return record.model_copy(update={"status": "invalid", "reason": f"server refused: {reply.refused}"})
    if not length_is_valid(target, prepared.prompt_tokens, LENGTH_TOLERANCE):
        reason = f"prompt is {prepared.prompt_tokens} tokens, more than 1% off its target {target}"
        return record.model_copy(update={"status": "invalid", "reason": reason})
    usage = reply.usage_prompt_tokens
    if usage is not None and abs(usage - prepared.prompt_tokens) > LENGTH_TOLERANCE * target:
        reason = f"server counted {usage} prompt tokens, we sent {prepared.prompt_tokens} (cut or altered)"
        return record.model_copy(update={"status": "invalid", "reason": reason})
    # The rules and their order: evals/verdicts.py.
    answer = reply.answer or ""
    cut = reply.finish_reason == "length"
    score = task.score(sample, answer)
    scored = {
        "correct": score.correct,
        "score": 1.0 if score.correct else 0.0,
        "predicted": list(score.predicted),
    }
    if score.correct:
        return record.model_copy(update={**scored, "status": "ok", "reason": score.reason})
    if cut and reply.reasoning:
        reason = REASON_CUT_AFTER_THINKING if answer.strip() else REASON_THINKING_EXHAUSTED
        return record.model_copy(update={"status": "invalid", "reason": reason})
    degenerate = degenerate_reason(answer, reply.finish_reason)
    if degenerate is not None:
        return record.model_copy(
            update={**scored, "status": "fail", "reason": degenerate, "degenerate": True}
        )
    return record.model_copy(update={**scored, "status": "fail", "reason": score.reason})


# ---------------------------------------------------------------------------------------- progress


class Progress:
    """A rich progress bar on stderr with ETA and live accuracy; a no-op when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None
        self.correct = 0
        self.scored = 0
        self.other = 0

    def start(self, total: int, done: Sequence[TrialRecord]) -> None:
        for record in done:
            self._tally(record)
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("[bold]recall[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[accuracy]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("trials", total=total, completed=len(done), accuracy=self._text())

    def grow(self, extra: int) -> None:
        if self._bar is not None:
            total = self._bar.tasks[0].total or 0
            self._bar.update(self._task, total=total + extra)

    def _tally(self, record: TrialRecord) -> None:
        if record.scored:
            self.scored += 1
            self.correct += record.status == "ok"
        else:
            self.other += 1

    def _text(self) -> str:
        accuracy = f"acc {self.correct / self.scored:.2f}" if self.scored else "acc -"
        return f"{accuracy} ({self.correct}/{self.scored}, {self.other} invalid/error)"

    def advance(self, record: TrialRecord) -> None:
        self._tally(record)
        if self._bar is not None:
            self._bar.update(self._task, advance=1, accuracy=self._text())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# ------------------------------------------------------------------------------------------ runner


@dataclass
class Session:
    """One invocation: the builder, the responder, the log and the bookkeeping around them."""

    config: EvalConfig
    builder: PromptBuilder
    responder: Responder
    log: TrialLog
    concurrency: int
    progress: Progress
    done: dict[str, TrialRecord] = field(default_factory=dict)
    primed_upto: dict[int, int] = field(default_factory=dict)
    in_flight: list[int] = field(default_factory=list)
    answered: list[TrialRecord] = field(default_factory=list)
    _turn: int = 0

    def __post_init__(self) -> None:
        self.in_flight = [0] * self.responder.replicas

    def pick_replica(self) -> int:
        """Least busy replica; ties go round-robin so load spreads evenly."""
        count = self.responder.replicas
        order = [(self._turn + i) % count for i in range(count)]
        chosen = min(order, key=lambda r: self.in_flight[r])
        self._turn = (chosen + 1) % count
        return chosen

    async def one(self, cell: Cell, replica: int | None = None) -> TrialRecord:
        prepared = await asyncio.to_thread(self.builder.prepare, *cell)
        chosen = self.pick_replica() if replica is None else replica
        self.in_flight[chosen] += 1
        try:
            reply = await self.responder.answer(prepared, chosen)
        finally:
            self.in_flight[chosen] -= 1
        record = judge(prepared, reply, self.builder.task, replica=chosen)
        self.log.append(record)
        self.done[record.trial_id] = record
        self.progress.advance(record)
        self.check_thinking(record)
        if record.status != "error":
            self.primed_upto[chosen] = max(self.primed_upto.get(chosen, 0), cell[0])
        return record

    def check_thinking(self, record: TrialRecord) -> None:
        """Stop a grid that only measures a thinking model's budget (see verdicts.thinking_hint)."""
        self.answered.append(record)
        config = self.config
        hint = thinking_hint(self.answered, no_think=config.no_think, thinking_budget=config.thinking_budget)
        if hint is not None:
            raise UsageError(hint, hint=THINKING_FLAGS_HINT)

    def pending(self, cells: Sequence[Cell]) -> list[Cell]:
        """Cells not finished yet (an `error` is retried on resume; any other status is final)."""
        left = []
        for cell in cells:
            trial_id = self.builder.key(*cell).trial_id
            previous = self.done.get(trial_id)
            if previous is None or previous.status == "error":
                left.append(cell)
        return left

    async def execute(self, cells: Sequence[Cell]) -> None:
        """Run cells in prefix-cache order: a primer per replica alone, then the rest concurrently."""
        ordered = order_trials(self.pending(cells), self.builder.needle_count())
        if not ordered:
            return
        primers: list[tuple[Cell, int]] = []
        rest = list(ordered)
        for replica in range(self.responder.replicas):
            if rest and self.primed_upto.get(replica, 0) < rest[0][0]:
                primers.append((rest.pop(0), replica))
        if primers:
            await asyncio.gather(*(self.one(cell, replica) for cell, replica in primers))
        queue: asyncio.Queue[Cell] = asyncio.Queue()
        for cell in rest:
            queue.put_nowait(cell)

        async def worker() -> None:
            while True:
                try:
                    cell = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await self.one(cell)

        workers = [asyncio.create_task(worker()) for _ in range(min(self.concurrency, len(rest)))]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()


def default_out_dir() -> Path:
    return Path("runs") / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def _versions(extra: dict[str, str]) -> dict[str, str]:
    from importlib import metadata

    from ropeguard import __version__

    versions = {"ropeguard": __version__, "python": platform.python_version()}
    for package in ("httpx", "pydantic"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    versions.update(extra)
    return versions


def run_config(config: EvalConfig) -> RunConfig:
    return RunConfig(
        task=config.task,
        lengths=list(config.lengths),
        depths=list(config.depths),
        trials=config.trials,
        seed=config.seed,
        haystack=config.haystack,
        haystack_file=str(config.haystack_file) if config.haystack_file else None,
        mode=config.mode,
        no_think=config.no_think,
        thinking_budget=config.thinking_budget,
        max_answer_tokens=config.max_answer_tokens,
        native_context=config.native_context,
        adaptive=config.adaptive,
        gates=config.gates,
        threshold=config.threshold,
        alpha=config.alpha if config.adaptive else None,
    )


_MUST_MATCH_ON_RESUME = ("task", "seed", "haystack", "haystack_file", "mode", "no_think", "thinking_budget")


def _check_resume(previous: RunInfo, current: RunInfo) -> None:
    for name in _MUST_MATCH_ON_RESUME:
        before, now = getattr(previous.config, name), getattr(current.config, name)
        if before != now:
            raise UsageError(
                f"cannot resume: the run used {name}={before!r}, this call asks for {now!r}",
                hint="resume with the same settings, or write to another --out",
            )
    if previous.server.model != current.server.model:
        raise UsageError(
            f"cannot resume: the run used model {previous.server.model!r}, not {current.server.model!r}"
        )


@dataclass
class Backend:
    """What a backend factory hands the runner."""

    responder: Responder
    tokenizer: Any
    server: ServerInfo
    versions: dict[str, str]
    concurrency: int
    metrics: Callable[[], PrefixCacheStats | None] = lambda: None
    close: Callable[[], None] = lambda: None


async def _drive(session: Session, config: EvalConfig) -> list[GateVerdict] | None:
    if config.adaptive:
        from ropeguard.evals.adaptive import run_adaptive

        return await run_adaptive(session)
    await session.execute(grid_cells(config.lengths, config.depths, config.trials))
    return None


def run_eval(config: EvalConfig, *, make_backend: Callable[[EvalConfig], Backend] | None = None) -> Run:
    """Run (or resume) the grid described by `config`; return the run as written to its folder."""
    out_dir = config.out_dir or default_out_dir()
    trials_path = out_dir / TRIALS_FILE
    if trials_path.exists() and trials_path.stat().st_size > 0 and not config.resume:
        raise UsageError(
            f"{out_dir} already holds an eval run", hint="pass --resume to continue it, or another --out"
        )
    if make_backend is None:
        from ropeguard.evals.backends import make_backend as factory

        make_backend = factory
    backend = make_backend(config)
    try:
        builder = PromptBuilder(config, backend.tokenizer)
        info = RunInfo(
            ropeguard_version=_versions({})["ropeguard"],
            config=run_config(config),
            server=backend.server,
            versions=_versions(backend.versions),
        )
        previous_wall = 0.0
        if config.resume and (out_dir / "run.json").exists():
            previous = read_run_info(out_dir)
            _check_resume(previous, info)
            info = info.model_copy(update={"started_at": previous.started_at})
            stored = read_summary(out_dir)
            previous_wall = stored.wall_seconds if stored else 0.0
        write_run_info(out_dir, info)
        log = TrialLog(trials_path)
        existing = log.open()
        progress = Progress(config.progress)
        session = Session(
            config=config,
            builder=builder,
            responder=backend.responder,
            log=log,
            concurrency=backend.concurrency,
            progress=progress,
            done={record.trial_id: record for record in existing},
        )
        if not config.adaptive:
            wanted = len(grid_cells(config.lengths, config.depths, config.trials))
            finished = [r for r in existing if r.status != "error"]
            progress.start(wanted, finished[:wanted])
        else:
            progress.start(0, [])
        cache_before = backend.metrics()
        started = time.perf_counter()
        verdicts: list[GateVerdict] | None = None
        try:
            verdicts = asyncio.run(_run_async(session, config))
        finally:
            progress.close()
            log.close()
            wall = previous_wall + time.perf_counter() - started
            cache_after = backend.metrics()
            info = info.model_copy(
                update={"n_sentences": builder.n_sentences(), "finished_at": datetime.now(timezone.utc)}
            )
            write_run_info(out_dir, info)
            trials = list(session.done.values())
            summary = summarize(
                trials,
                lengths=config.lengths,
                depths=config.depths,
                threshold=config.threshold,
                task=config.task,
                native_context=config.native_context,
            )
            cache = None
            if cache_before is not None and cache_after is not None:
                cache = PrefixCacheStats(
                    queries=cache_after.queries - cache_before.queries,
                    hits=cache_after.hits - cache_before.hits,
                )
            update: dict[str, Any] = {"wall_seconds": round(wall, 3), "prefix_cache": cache}
            if verdicts is not None:
                update["gates"] = verdicts
                update["effective_context"] = effective_context_from_verdicts(verdicts)
            summary = summary.model_copy(update=update)
            write_summary(out_dir, summary)
    finally:
        backend.close()
    return Run(directory=out_dir, info=info, trials=trials, summary=summary)


async def _run_async(session: Session, config: EvalConfig) -> list[GateVerdict] | None:
    try:
        return await _drive(session, config)
    finally:
        await session.responder.aclose()
