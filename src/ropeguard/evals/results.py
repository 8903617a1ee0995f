"""What an eval run writes to RUN_DIR, and how to read it back.

    RUN_DIR/
      run.json        RunInfo: the config, the server (or in-process model), versions, times
      trials.jsonl    one TrialRecord per finished trial, appended and fsynced as it finishes
      summary.json    Summary: per-cell and per-length accuracy with Wilson 95% intervals, the
                      effective context, wall time, tokens sent, prefix-cache statistics

Every model here carries `schema_version`. `load_run(run_dir)` rebuilds a `Run` from the files and
recomputes the summary from the trials (the trials are the source of truth; summary.json is a
convenience for readers that do not use Python), so reports re-render without re-running anything.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ropeguard.errors import UsageError

SCHEMA_VERSION = 1

RUN_FILE = "run.json"
TRIALS_FILE = "trials.jsonl"
SUMMARY_FILE = "summary.json"

# ok: scored and right; fail: scored and wrong; invalid: the prompt or the answer cannot be scored
# (prompt cut or off-length, thinking budget exhausted with no answer); error: the request never
# produced an answer (connection / 5xx / 429 after the last retry). Only ok + fail count as recall.
TrialStatus = Literal["ok", "fail", "invalid", "error"]
Backend = Literal["openai", "transformers"]
Mode = Literal["chat", "completion"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrialRecord(_Record):
    """One finished trial: one line of trials.jsonl."""

    schema_version: int = SCHEMA_VERSION
    trial_id: str
    task: str
    length: int = Field(description="the grid length: the window prompt + answer budget must fit in")
    prompt_target: int | None = Field(
        default=None, description="the prompt's target: length minus the answer budget (max_tokens)"
    )
    prompt_tokens: int | None = Field(
        default=None, description="prompt tokens as counted before sending (chat template included)"
    )
    usage_prompt_tokens: int | None = Field(
        default=None, description="prompt tokens the server reported in usage.prompt_tokens"
    )
    depth: float
    index: int
    seed: int
    needles: list[str] = Field(default_factory=list, description="the needle sentences placed")
    expected: list[str] = Field(default_factory=list)
    answer: str | None = None
    reasoning: str | None = Field(default=None, description="thinking text separated from the answer")
    predicted: list[str] = Field(default_factory=list, description="what the scorer read from the answer")
    correct: bool | None = None
    score: float | None = Field(default=None, description="1.0 right, 0.0 wrong, None unscored")
    status: TrialStatus
    reason: str = ""
    degenerate: bool = Field(
        default=False, description="a failure by degeneration: whitespace, no words, or a loop (verdicts.py)"
    )
    latency_s: float | None = None
    finish_reason: str | None = None
    max_tokens: int | None = Field(default=None, description="the answer budget sent")
    completion_tokens: int | None = Field(
        default=None, description="tokens generated (usage.completion_tokens, or counted in process)"
    )
    fit_sentences: int | None = Field(
        default=None, description="haystack sentences of the prompt (with fit_chars: the prompt's recipe)"
    )
    fit_chars: int | None = Field(default=None, description="characters kept of the last one; None: all")
    prompt_sha256: str | None = Field(
        default=None, description="sha256 of the prompt as sent (chat messages as JSON, or the text)"
    )
    attempts: int = 0
    replica: int | None = Field(default=None, description="index into RunInfo.server.base_urls")
    finished_at: datetime = Field(default_factory=utc_now)

    @property
    def scored(self) -> bool:
        return self.status in ("ok", "fail")


class ServerInfo(_Record):
    """Where the answers came from. Base URLs are stored without credentials or query strings."""

    backend: Backend = "openai"
    base_urls: list[str] = Field(default_factory=list)
    model: str
    max_model_len: int | None = None
    engine: str | None = Field(default=None, description="e.g. 'vllm' when /version answered")
    engine_version: str | None = None
    hf_overrides: dict[str, Any] | None = Field(
        default=None, description="in-process backend: the overrides applied to the config"
    )
    tokenizer: str = Field(default="server", description="'server' (/tokenize) or the local tokenizer used")
    concurrency: int | None = None


class RunConfig(_Record):
    """The grid and the settings that produced the trials (everything needed to re-run them)."""

    task: str
    lengths: list[int]
    depths: list[float]
    trials: int
    seed: int
    haystack: str = "noise"
    haystack_file: str | None = None
    mode: Mode = "chat"
    no_think: bool = False
    thinking_budget: int | None = None
    max_answer_tokens: int | None = None
    native_context: int | None = None
    adaptive: bool = False
    gates: dict[int, float] | None = None
    threshold: float = 0.9
    alpha: float | None = None


class RunInfo(_Record):
    """run.json."""

    schema_version: int = SCHEMA_VERSION
    ropeguard_version: str
    config: RunConfig
    server: ServerInfo
    versions: dict[str, str] = Field(default_factory=dict)
    n_sentences: dict[int, int] = Field(
        default_factory=dict, description="haystack sentences fitted per target length"
    )
    started_at: datetime = Field(default_factory=utc_now)
    finished_at: datetime | None = None


class CellStats(_Record):
    """One (length, depth) cell."""

    length: int
    depth: float
    n: int = Field(description="scored trials (ok + fail)")
    correct: int
    accuracy: float | None = Field(description="correct / n; None when nothing was scored")
    ci_low: float
    ci_high: float
    invalid: int = 0
    errors: int = 0


class LengthStats(_Record):
    """All depths of one length."""

    accuracy: float | None
    ci_low: float
    ci_high: float
    n: int
    correct: int = 0
    invalid: int = 0
    errors: int = 0
    degenerate: int = Field(default=0, description="scored trials that failed by degenerating")
    degenerate_rate: float | None = Field(default=None, description="degenerate / n; None when n == 0")
    mean_prompt_tokens: float | None = None


class PrefixCacheStats(_Record):
    """From the server's /metrics (vllm:prefix_cache_queries_total / hits_total), deltas over the run."""

    queries: int
    hits: int

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.queries if self.queries else None


class GateVerdict(_Record):
    """Adaptive runs: the sequential test's decision for one length."""

    length: int
    gate: float
    verdict: Literal["pass", "fail", "undecided"]
    n: int
    correct: int
    bound_low: float
    bound_high: float
    looks: int


class Summary(_Record):
    """summary.json; `eval --json` prints this document."""

    schema_version: int = SCHEMA_VERSION
    task: str | None = None
    lengths: dict[int, LengthStats] = Field(default_factory=dict)
    cells: list[CellStats] = Field(default_factory=list)
    effective_context: int | None = None
    effective_context_threshold: float = 0.9
    effective_context_low: int | None = Field(
        default=None, description="effective context if every length sat at its Wilson lower bound"
    )
    effective_context_high: int | None = Field(
        default=None, description="effective context if every length sat at its Wilson upper bound"
    )
    wall_seconds: float = 0.0
    trials: int = 0
    status_counts: dict[str, int] = Field(default_factory=dict)
    prompt_tokens_sent: int = 0
    prefix_cache: PrefixCacheStats | None = None
    gates: list[GateVerdict] | None = None
    verdict: str | None = Field(
        default=None, description="run-level verdict, e.g. the model fails the task inside its window"
    )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Run(_Record):
    """A whole run as loaded from RUN_DIR (or returned by `ropeguard.evals.run`)."""

    directory: Path | None = None
    info: RunInfo
    trials: list[TrialRecord]
    summary: Summary


# ---------------------------------------------------------------------------------------------- I/O


class TrialLog:
    """Appends finished trials to trials.jsonl: one write + flush + fsync per trial.

    A kill -9 can at worst leave one torn (unterminated) last line; `read_trials` drops it and
    `open()` truncates it away before appending, so a resumed run neither loses a finished trial nor
    writes one twice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def open(self) -> list[TrialRecord]:
        """Return the trials already on disk (torn tail dropped) and get ready to append."""
        done, good_bytes = _read_trials_with_offset(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size != good_bytes:
            with self.path.open("r+b") as handle:
                handle.truncate(good_bytes)
        self._handle = self.path.open("ab")
        return done

    def append(self, record: TrialRecord) -> None:
        line = record.model_dump_json() + "\n"
        self._handle.write(line.encode())
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _read_trials_with_offset(path: Path) -> tuple[list[TrialRecord], int]:
    """Parse complete lines; stop at the first torn or unparsable line and return its byte offset.

    A trial id appears twice only when a resumed run retried an `error`: the later record wins
    (it keeps the earlier one's place in the order).
    """
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    records: dict[str, TrialRecord] = {}
    offset = 0
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            break
        try:
            record = TrialRecord.model_validate_json(raw)
        except ValidationError:
            break
        offset += len(raw)
        records[record.trial_id] = record
    return list(records.values()), offset


def read_trials(path: Path) -> list[TrialRecord]:
    """All complete trials in a trials.jsonl (a torn last line from a killed client is ignored)."""
    return _read_trials_with_offset(path)[0]


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_run_info(run_dir: Path, info: RunInfo) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(run_dir / RUN_FILE, info.model_dump_json(indent=2) + "\n")


def write_summary(run_dir: Path, summary: Summary) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(run_dir / SUMMARY_FILE, json.dumps(summary.to_json(), indent=2) + "\n")


def read_run_info(run_dir: Path) -> RunInfo:
    path = run_dir / RUN_FILE
    if not path.exists():
        raise UsageError(f"{run_dir} is not an eval run directory (no {RUN_FILE})")
    try:
        return RunInfo.model_validate_json(path.read_text())
    except ValidationError as error:
        raise UsageError(
            f"{path} does not hold a valid run description: {error.errors()[0]['msg']}"
        ) from None


def read_summary(run_dir: Path) -> Summary | None:
    """The stored summary.json as written (None if absent); `load_run` recomputes it instead."""
    path = run_dir / SUMMARY_FILE
    if not path.exists():
        return None
    return Summary.model_validate_json(path.read_text())


def load_run(run_dir: Path | str) -> Run:
    """Read RUN_DIR back: info + trials, with the summary recomputed from the trials.

    Run-level facts the trials cannot give (wall time, prefix-cache deltas, tokens sent, gate
    verdicts) are taken from summary.json when it exists.
    """
    from ropeguard.evals.stats import summarize

    directory = Path(run_dir)
    info = read_run_info(directory)
    trials = read_trials(directory / TRIALS_FILE)
    stored = read_summary(directory)
    summary = summarize(
        trials,
        lengths=info.config.lengths,
        depths=info.config.depths,
        threshold=info.config.threshold,
        task=info.config.task,
        native_context=info.config.native_context,
    )
    if stored is not None:
        summary = summary.model_copy(
            update={
                "wall_seconds": stored.wall_seconds,
                "prefix_cache": stored.prefix_cache,
                "gates": stored.gates,
                "prompt_tokens_sent": stored.prompt_tokens_sent or summary.prompt_tokens_sent,
            }
        )
        if stored.gates is not None:
            from ropeguard.evals.stats import effective_context_from_verdicts

            summary.effective_context = effective_context_from_verdicts(stored.gates)
    return Run(directory=directory, info=info, trials=trials, summary=summary)
