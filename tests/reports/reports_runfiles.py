"""Write real eval run directories (run.json, trials.jsonl, summary.json) through the evals schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ropeguard.evals.results import (
    RunConfig,
    RunInfo,
    ServerInfo,
    TrialLog,
    TrialRecord,
    TrialStatus,
    write_run_info,
    write_summary,
)
from ropeguard.evals.stats import summarize

Outcome = Callable[[int, float, int], TrialStatus]


def write_run(
    directory: Path,
    outcome: Outcome,
    *,
    lengths: tuple[int, ...] = (1024, 2048, 4096),
    depths: tuple[float, ...] = (0.0, 0.5, 1.0),
    trials: int = 4,
    model: str = "tiny",
    answer: str = "12345",
    hf_overrides: dict[str, object] | None = None,
) -> Path:
    """One trial per (length, depth, index); `outcome(length, depth, index)` gives its status."""
    config = RunConfig(task="passkey", lengths=list(lengths), depths=list(depths), trials=trials, seed=0)
    info = RunInfo(
        ropeguard_version="0.1.0",
        config=config,
        server=ServerInfo(
            base_urls=["http://127.0.0.1:8000/v1"],
            model=model,
            max_model_len=8192,
            engine="vllm",
            engine_version="0.32.0",
            hf_overrides=hf_overrides,
        ),
        versions={"vllm": "0.32.0"},
    )
    write_run_info(directory, info)
    records = []
    log = TrialLog(directory / "trials.jsonl")
    log.open()
    for length in lengths:
        for depth in depths:
            for index in range(trials):
                status = outcome(length, depth, index)
                record = TrialRecord(
                    trial_id=f"passkey-{length}-{depth:g}-{index}-0",
                    task="passkey",
                    length=length,
                    prompt_tokens=length - 3,
                    depth=depth,
                    index=index,
                    seed=0,
                    expected=["12345"],
                    answer=answer if status == "ok" else ("99999" if status == "fail" else None),
                    correct=True if status == "ok" else False if status == "fail" else None,
                    score=1.0 if status == "ok" else 0.0 if status == "fail" else None,
                    status=status,
                    latency_s=0.1,
                )
                log.append(record)
                records.append(record)
    log.close()
    write_summary(directory, summarize(records, lengths=list(lengths), depths=list(depths), task="passkey"))
    return directory


def collapsing(length: int, depth: float, index: int) -> TrialStatus:
    """Right up to 2048, wrong beyond (the unscaled server's shape)."""
    return "ok" if length <= 2048 else "fail"


def all_right(length: int, depth: float, index: int) -> TrialStatus:
    return "ok"
