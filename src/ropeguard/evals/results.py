"""What an eval run writes to RUN_DIR, and how to read it back.

    RUN_DIR/
      run.json        RunInfo: the config, the server (or in-process model), versions, times
      trials.jsonl    one TrialRecord per finished trial, appended and fsynced as it finishes
      summary.json    Summary: per-cell and per-length accuracy with Wilson 95% intervals, the
                      effective context, wall time, tokens sent, prefix-cache statistics

Every model here carries `schema_version`. `loader.load_run(run_dir)` rebuilds a `Run` from the files and
recomputes the summary from the trials (the trials are the source of truth; summary.json is a
convenience for readers that do not use Python), so reports re-render without re-running anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ropeguard.errors import UsageError
from ropeguard.files import write_atomic
from ropeguard.redaction import redact_model

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
    cached_prompt_tokens: int | None = Field(
        default=None,
        description="of those, the ones the server's prefix cache served (usage.prompt_tokens_details."
        "cached_tokens: vLLM with --enable-prompt-tokens-details); None when not reported",
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
    test: Literal["exact", "sprt", "tuned"] = "exact"
    # sprt and tuned only: the exact error rates of the design (evals/sprt.py), which the certificate states.
    indifference: float | None = None
    false_pass: float | None = Field(default=None, description="P(pass) at recall = gate - indifference")
    false_fail: float | None = Field(default=None, description="P(fail) at recall = gate")


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
    skipped_lines: list[int] = Field(
        default_factory=list, description="lines of trials.jsonl that did not validate (1-based)"
    )

    def errors(self) -> int:
        """Trials whose last record is `error` (no answer after the retries)."""
        return sum(1 for trial in self.trials if trial.status == "error")

    def unrun(self) -> int:
        """Grid trials (length x depth x trial index) with no record at all. Adaptive runs sample only
        what their verdicts need, so nothing is missing there by design."""
        config = self.info.config
        if config.adaptive:
            return 0
        wanted = {
            (length, round(depth, 6), index)
            for length in config.lengths
            for depth in config.depths
            for index in range(config.trials)
        }
        return len(wanted - {(t.length, round(t.depth, 6), t.index) for t in self.trials})

    def incompleteness(self) -> str | None:
        """Why this run is not a complete, clean grid (`eval` exits 1 then), or None when it is."""
        errors, unrun = self.errors(), self.unrun()
        parts = []
        if errors:
            parts.append(f"{errors} trial{'s' if errors != 1 else ''} ended in error")
        if unrun:
            parts.append(f"{unrun} grid trial{'s' if unrun != 1 else ''} never ran")
        return " and ".join(parts) if parts else None

    @property
    def skipped_warning(self) -> str | None:
        """The one-line warning about skipped trials.jsonl lines, or None."""
        where = (self.directory / TRIALS_FILE) if self.directory is not None else Path(TRIALS_FILE)
        return skipped_warning(where, self.skipped_lines)


# ---------------------------------------------------------------------------------------------- I/O


@dataclass
class TrialsRead:
    """What trials.jsonl held: the records, the lines that did not validate, a torn tail."""

    records: list[TrialRecord] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)  # 1-based line numbers, kept on disk
    torn_offset: int | None = None  # byte offset of an unterminated last line that does not validate
    unterminated: bool = False  # the last line lacks its newline (valid or torn)


class TrialLog:
    """Appends finished trials to trials.jsonl: one write + flush + fsync per trial.

    A kill -9 can at worst leave one torn (unterminated) last line: `open()` cuts that line away
    before appending, so a resumed run neither loses a finished trial nor writes one twice. A complete
    line that does not validate (a hand edit, a disk error, a record of a newer schema) is never cut:
    it stays on disk and is skipped, by line number, on every read.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None
        self.skipped_lines: list[int] = []

    def open(self) -> list[TrialRecord]:
        """Return the trials already on disk (torn tail dropped) and get ready to append."""
        read = scan_trials(self.path)
        self.skipped_lines = read.skipped_lines
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if read.torn_offset is not None:
            with self.path.open("r+b") as handle:
                handle.truncate(read.torn_offset)
        self._handle = self.path.open("ab")
        if read.unterminated and read.torn_offset is None:
            # A whole record whose newline did not make it: finish the line rather than lose it.
            self._handle.write(b"\n")
            self._handle.flush()
        return read.records

    def append(self, record: TrialRecord) -> None:
        line = redact_model(record).model_dump_json() + "\n"
        self._handle.write(line.encode())
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def scan_trials(path: Path) -> TrialsRead:
    """Parse every line of a trials.jsonl; skip (and number) the lines that do not validate.

    Only the last line can be a torn write (an append cut short has no newline); any other bad line is
    reported in `skipped_lines` and the records after it are kept. A trial id appears twice only when
    a resumed run retried an `error`: the later record wins (it keeps the earlier one's place), except
    that an `error` never replaces a finished record (resume retries errors only; an error written
    after an answer, say by a second writer or a concatenated file, must not drop that answer).
    """
    read = TrialsRead()
    if not path.exists():
        return read
    if path.is_dir():
        raise UsageError(f"{path} is a folder, not a trials file")
    data = path.read_bytes()
    records: dict[str, TrialRecord] = {}
    offset = 0
    lines = data.splitlines(keepends=True)
    for number, raw in enumerate(lines, start=1):
        last = number == len(lines)
        unterminated = last and not raw.endswith(b"\n")
        try:
            record = TrialRecord.model_validate_json(raw)
        except ValidationError:
            if unterminated:
                read.torn_offset, read.unterminated = offset, True
            elif raw.strip():
                read.skipped_lines.append(number)
            offset += len(raw)
            continue
        read.unterminated = unterminated
        offset += len(raw)
        earlier = records.get(record.trial_id)
        if record.status == "error" and earlier is not None and earlier.status != "error":
            continue
        records[record.trial_id] = record
    read.records = list(records.values())
    return read


def read_trials(path: Path) -> list[TrialRecord]:
    """All valid trials in a trials.jsonl (see `scan_trials` for the lines it skips)."""
    return scan_trials(path).records


def skipped_warning(path: Path, lines: list[int]) -> str | None:
    """One line naming the lines of trials.jsonl that were skipped, or None when none were."""
    if not lines:
        return None
    shown = ", ".join(str(n) for n in lines[:10]) + (", ..." if len(lines) > 10 else "")
    if len(lines) == 1:
        return f"{path}: skipped 1 line that does not validate (line {shown}); it is kept on disk"
    return f"{path}: skipped {len(lines)} lines that do not validate (lines {shown}); they are kept on disk"


def write_run_info(run_dir: Path, info: RunInfo) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_dir / RUN_FILE, redact_model(info).model_dump_json(indent=2) + "\n")


def write_summary(run_dir: Path, summary: Summary) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_dir / SUMMARY_FILE, json.dumps(redact_model(summary).to_json(), indent=2) + "\n")


def read_run_info(run_dir: Path) -> RunInfo:
    path = run_dir / RUN_FILE
    if not path.exists():
        raise UsageError(f"{run_dir} is not an eval run directory (no {RUN_FILE})")
    if not path.is_file():
        raise UsageError(f"{path} is not a file", hint="pass the --out folder of `ropeguard eval`")
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
    if not path.is_file():
        raise UsageError(f"{path} is not a file", hint="remove it: the trials are the source of truth")
    try:
        return Summary.model_validate_json(path.read_text())
    except ValidationError as error:
        raise UsageError(
            f"{path} does not hold a valid summary: {error.errors()[0]['msg']}",
            hint="remove it: report and compare recompute accuracy from trials.jsonl (the wall time "
            "and gate verdicts it held are lost)",
        ) from None
