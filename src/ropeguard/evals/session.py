"""One eval invocation while it runs: the responder (servers or an in-process model), the backend a
factory hands the runner, the progress bar, and the session that sends trials in prefix-cache order.

Durability: each finished trial is appended to trials.jsonl with write + flush + fsync before the
next one is recorded (results.TrialLog); a killed client loses at most the trials in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ropeguard.errors import ServerGone, UsageError
from ropeguard.evals.config import EvalConfig
from ropeguard.evals.endpoint import Reply
from ropeguard.evals.judging import judge
from ropeguard.evals.ordering import Cell, order_trials
from ropeguard.evals.prompts import Prepared, PromptBuilder
from ropeguard.evals.results import PrefixCacheStats, ServerInfo, TrialLog, TrialRecord
from ropeguard.evals.tokenization import Tokenizer
from ropeguard.evals.verdicts import THINKING_FLAGS_HINT, thinking_hint

DEFAULT_CONCURRENCY = 8


class Responder(Protocol):
    """Something that answers prepared trials: a set of server replicas, or an in-process model."""

    replicas: int

    async def answer(self, prepared: Prepared, replica: int) -> Reply: ...

    async def aclose(self) -> None: ...


@dataclass
class Backend:
    """What a backend factory hands the runner."""

    responder: Responder
    tokenizer: Tokenizer
    server: ServerInfo
    versions: dict[str, str]
    concurrency: int
    metrics: Callable[[], PrefixCacheStats | None] = lambda: None
    close: Callable[[], None] = lambda: None


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
        if reply.unreachable is not None:
            # Not a trial outcome: the server is gone. Unrecorded, the trial runs again on resume.
            raise ServerGone(reply.unreachable)
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
