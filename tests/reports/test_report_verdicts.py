"""The report on a real chat model's shapes: degenerate rate beside recall, the within-window verdict,
settings, reasons for invalid trials, sample answers, and no "none tokens"."""

from __future__ import annotations

from pathlib import Path

from ropeguard.evals.loader import load_run
from ropeguard.evals.results import (
    RunConfig,
    RunInfo,
    ServerInfo,
    TrialLog,
    TrialRecord,
    write_run_info,
)
from ropeguard.reports.html import render_html
from ropeguard.reports.terminal import render_grid


def _record(
    length: int, depth: float, status: str, answer: str, reason: str, degenerate: bool = False
) -> TrialRecord:
    return TrialRecord(
        trial_id=f"passkey-{length}-{depth:g}",
        task="passkey",
        length=length,
        prompt_tokens=length - 20,
        max_tokens=18,
        completion_tokens=18 if degenerate else 7,
        depth=depth,
        index=0,
        seed=0,
        expected=["71432"],
        answer=answer,
        status=status,  # type: ignore[arg-type]
        correct=None if status == "invalid" else status == "ok",
        reason=reason,
        degenerate=degenerate,
    )


def test_report_of_a_model_that_fails_inside_its_window(tmp_path: Path) -> None:
    config = RunConfig(
        task="passkey",
        lengths=[1024, 16384],
        depths=[0.0, 0.5, 1.0],
        trials=1,
        seed=0,
        native_context=8192,
        no_think=True,
    )
    info = RunInfo(
        ropeguard_version="0.1.0", config=config, server=ServerInfo(model="smollm2", max_model_len=16384)
    )
    write_run_info(tmp_path, info)
    log = TrialLog(tmp_path / "trials.jsonl")
    log.open()
    for record in [
        _record(1024, 0.0, "fail", "The pass key is a special key that is used to unlock", "missing 71432"),
        _record(1024, 0.5, "ok", "The pass key is 71432.", "ok"),
        _record(1024, 1.0, "invalid", "", "server refused: maximum context length"),
        _record(
            16384, 0.0, "fail", "is is is is is is", "degenerate: 'is' repeated 6 times", degenerate=True
        ),
        _record(
            16384, 0.5, "fail", "\n\n\n", "degenerate: only whitespace until max_tokens", degenerate=True
        ),
        _record(16384, 1.0, "fail", "no", "no number in the answer"),
    ]:
        log.append(record)
    log.close()
    run = load_run(tmp_path)
    assert run.summary.lengths[16384].degenerate == 2
    assert run.summary.lengths[16384].degenerate_rate is not None
    assert abs(run.summary.lengths[16384].degenerate_rate - 2 / 3) < 1e-9
    assert run.summary.effective_context is None
    assert run.summary.verdict is not None and "native window (8192 tokens)" in run.summary.verdict

    html = render_html(run)
    assert "none tokens" not in html
    assert "effective context: none (recall is below 0.90 already at the shortest length" in html
    assert "degenerate rate" in html and "0.67 (2)" in html
    assert "cannot do this task even inside its native window" in html
    assert "Reasons for invalid, error and degenerate trials" in html and "server refused" in html
    assert "Sample answers" in html and "a special key that is used to unlock" in html
    assert "off (--no-think)" in html and "8192" in html

    text = render_grid(run.summary, width=200).plain
    header = text.splitlines()[3]  # title, what is recalled, the depth label, then the column names
    assert "degenerate" in header.split() and "invalid/err" in header.split(), text
    assert "proves nothing" in text
