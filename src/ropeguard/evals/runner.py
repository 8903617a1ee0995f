"""Running a recall grid: order the trials for the prefix cache, send them, judge, record.

The order (ordering.py), the judging of one trial (judging.py) and the session that sends them
(session.py) live in their own modules; this one ties them to the run folder.

Durability
----------
Each finished trial is appended to trials.jsonl with write + flush + fsync before the next one is
recorded; `resume=True` skips trial ids already there. A killed client loses at most the trials in
flight, and a torn last line is dropped (results.TrialLog). Errors (no answer after the retries) are
recorded as `error` and never count as recall failures; a resumed run retries them.

The run folder is locked for the whole run (files.RunLock): a second run on the same folder is
refused. A server that stops answering altogether (every attempt of a request refused or reset) ends
the run with `ServerGone` naming the server and the folder; Ctrl-C ends it with `Interrupted`. Either
way the trials so far and a summary of them are on disk, and `--resume` continues.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from ropeguard.errors import EndpointError, ServerGone, UsageError
from ropeguard.evals.adaptive import run_adaptive
from ropeguard.evals.backends import make_backend as default_backend
from ropeguard.evals.config import EvalConfig
from ropeguard.evals.ordering import grid_cells
from ropeguard.evals.prompts import PromptBuilder
from ropeguard.evals.results import (
    TRIALS_FILE,
    GateVerdict,
    PrefixCacheStats,
    Run,
    RunConfig,
    RunInfo,
    TrialLog,
    read_run_info,
    read_summary,
    write_run_info,
    write_summary,
)
from ropeguard.evals.session import Backend, Progress, Session
from ropeguard.evals.stats import effective_context_from_verdicts, summarize
from ropeguard.files import RunLock, results_on_interrupt, run_folder
from ropeguard.version import __version__


def default_out_dir() -> Path:
    # `eval` has always written runs/<stamp>; the other commands write ropeguard-runs/<kind>-<stamp>.
    return run_folder(None, root=Path("runs"))


def _versions(extra: dict[str, str]) -> dict[str, str]:
    versions = {"ropeguard": __version__, "python": platform.python_version()}
    for package in ("httpx", "pydantic"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    versions.update(extra)
    return versions


def run_config(config: EvalConfig) -> RunConfig:
    """The settings a run records: the EvalConfig fields RunConfig names (alpha only when adaptive)."""
    shared = set(RunConfig.model_fields) - {"haystack_file", "alpha"}
    return RunConfig(
        **config.model_dump(include=shared),
        haystack_file=str(config.haystack_file) if config.haystack_file else None,
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


async def _drive(session: Session, config: EvalConfig) -> list[GateVerdict] | None:
    if config.adaptive:
        return await run_adaptive(session)
    await session.execute(grid_cells(config.lengths, config.depths, config.trials))
    return None


def run_eval(config: EvalConfig, *, make_backend: Callable[[EvalConfig], Backend] | None = None) -> Run:
    """Run (or resume) the grid described by `config`; return the run as written to its folder.

    Raises UsageError (exit 2) when another run holds the folder, ServerGone when the server stops
    answering, Interrupted on Ctrl-C; the trials finished before are kept in every case.
    """
    out_dir = config.out_dir or default_out_dir()
    with RunLock(out_dir), results_on_interrupt(out_dir):
        return _run_locked(config, out_dir, make_backend)


def _run_locked(
    config: EvalConfig, out_dir: Path, make_backend: Callable[[EvalConfig], Backend] | None
) -> Run:
    trials_path = out_dir / TRIALS_FILE
    if trials_path.exists() and trials_path.stat().st_size > 0 and not config.resume:
        raise UsageError(
            f"{out_dir} already holds an eval run", hint="pass --resume to continue it, or another --out"
        )
    if make_backend is None:
        make_backend = default_backend
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
        stopped = False
        try:
            verdicts = asyncio.run(_run_async(session, config))
        except EndpointError as error:
            stopped = True
            message = f"{error.message}; the results so far are in {out_dir}"
            hint = (error.hint + "; " if error.hint else "") + (
                f"once the server answers again, `ropeguard eval --resume --out {out_dir}` with the "
                "same options continues the run"
            )
            if isinstance(error, ServerGone):
                raise ServerGone(message, hint=hint, results=out_dir) from None
            raise type(error)(message, hint=hint) from None
        finally:
            progress.close()
            log.close()
            wall = previous_wall + time.perf_counter() - started
            # A server that is gone has no metrics to give (and asking it would only wait).
            cache_after = None if stopped else backend.metrics()
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
    return Run(directory=out_dir, info=info, trials=trials, summary=summary, skipped_lines=log.skipped_lines)


async def _run_async(session: Session, config: EvalConfig) -> list[GateVerdict] | None:
    try:
        return await _drive(session, config)
    finally:
        await session.responder.aclose()
