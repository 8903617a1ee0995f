"""A stored demo: the two run folders `ropeguard demo` writes, made through the evals schema, with the
shape the real demo measured on the bundled model (vLLM CPU, 2026-12): the unscaled server right up to
2048 tokens, 8 of 10 at 4096, 2 of 10 at 8192; the planned (YaRN x4) server right everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ropeguard.demo import story
from ropeguard.evals.loader import load_run
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

# length -> how many of the 10 prompts (5 depths x 2) were right
UNSCALED = {1024: 10, 2048: 10, 4096: 8, 8192: 2}
PLANNED = {1024: 10, 2048: 10, 4096: 10, 8192: 10}


def write_side(
    directory: Path, right: dict[int, int], *, refused_at: int | None = None, port: int = 41234
) -> Path:
    lengths, depths = list(story.LENGTHS), list(story.DEPTHS)
    config = RunConfig(task="passkey", lengths=lengths, depths=depths, trials=story.TRIALS, seed=0)
    info = RunInfo(
        ropeguard_version="0.1.0",
        config=config,
        server=ServerInfo(
            base_urls=[f"http://127.0.0.1:{port}/v1"],
            model=story.MODEL_ID,
            max_model_len=story.SERVED_CONTEXT,
            engine="vllm",
            engine_version="0.32.0",
        ),
        versions={"vllm": "0.32.0"},
    )
    write_run_info(directory, info)
    # What Server.start logs first: the launch as it ran (its own port), which the report shows.
    (directory / "server.log").write_text(
        f"# ropeguard: python -m vllm.entrypoints.openai.api_server --model m --port {port}\nINFO ...\n"
    )
    log = TrialLog(directory / "trials.jsonl")
    log.open()
    records = []
    for length in lengths:
        k = 0
        for index in range(story.TRIALS):
            for depth in depths:
                status: TrialStatus = "ok" if k < right[length] else "fail"
                reason = ""
                if refused_at is not None and length >= refused_at:
                    status, reason = "invalid", "server refused: maximum context length"
                k += 1
                record = TrialRecord(
                    trial_id=f"passkey-{length}-{depth:g}-{index}-0",
                    task="passkey",
                    length=length,
                    prompt_tokens=length - 40,
                    depth=depth,
                    index=index,
                    seed=0,
                    expected=["12345"],
                    answer="12345" if status == "ok" else "99999",
                    correct=status == "ok" if status != "invalid" else None,
                    score=(1.0 if status == "ok" else 0.0) if status != "invalid" else None,
                    status=status,
                    reason=reason,
                    latency_s=0.1,
                )
                log.append(record)
                records.append(record)
    log.close()
    write_summary(directory, summarize(records, lengths=lengths, depths=depths, task="passkey"))
    return directory


def fake_backend(
    unscaled: dict[int, int] = UNSCALED, planned: dict[int, int] = PLANNED
) -> Callable[..., tuple[object, object, str, str]]:
    """A stand-in for story._run_vllm: writes the two stored runs instead of starting servers."""

    def run_vllm(model: Path, plan: object, out: Path, echo: object, name: object) -> tuple:
        first = write_side(out / "unscaled", unscaled, port=41234)
        second = write_side(out / "planned", planned, port=41235)
        return (
            load_run(first),
            load_run(second),
            "vllm serve m --port 41234 --max-model-len 8192",
            "vllm serve m --port 41235 --max-model-len 8192 --hf-overrides '{...}'",
        )

    return run_vllm
