"""The terminal recall table tells its story at 80 columns: labelled axes, what is recalled, every row on
one line (the interval column never wraps), and the effective context in words that do not make a
passing run look like a failure."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from reports_runfiles import all_right, collapsing, write_run
from rich.console import Console

from ropeguard.evals.loader import load_run
from ropeguard.evals.results import Summary, TrialStatus
from ropeguard.evals.stats import wilson
from ropeguard.reports.narrative import effective_context_lines, recall_falls, trials_to_prove
from ropeguard.reports.terminal import DEPTH_LABEL, render_grid


def _printed(summary: Summary, width: int = 80) -> list[str]:
    out = io.StringIO()
    Console(width=width, file=out, force_terminal=False, color_system=None).print(
        render_grid(summary, title="as the config invites: max length 8192, no rope scaling")
    )
    return out.getvalue().splitlines()


def some_unscored(length: int, depth: float, index: int) -> TrialStatus:
    if length == 131072 and index == 0:
        return "invalid" if depth == 0.0 else "error"
    return collapsing(length, depth, index)


@pytest.mark.parametrize(
    ("lengths", "depths", "outcome"),
    [
        ((1024, 2048, 4096, 8192), (0.0, 0.25, 0.5, 0.75, 1.0), collapsing),  # the demo's grid
        ((1024, 2048, 4096), tuple(i / 10 for i in range(11)), collapsing),  # eval's default depths
        ((1024, 32768, 131072), tuple(i / 10 for i in range(11)), some_unscored),  # + unscored columns
    ],
)
def test_every_row_is_one_line_of_at_most_80_columns(
    tmp_path: Path, lengths: tuple[int, ...], depths: tuple[float, ...], outcome: object
) -> None:
    run = load_run(write_run(tmp_path / "run", outcome, lengths=lengths, depths=depths, trials=3))  # type: ignore[arg-type]
    lines = _printed(run.summary)
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    # The axes say what they are.
    assert any(DEPTH_LABEL in line for line in lines)
    assert any("prompt length" in line for line in lines) and any("(tokens)" in line for line in lines)
    assert any(line.startswith("recalled: a passkey") for line in lines)
    for depth in depths:
        assert any(f"{depth * 100:g}%" in line.split() for line in lines), depth
    # Each length's interval is whole on one line, next to its length (never wrapped).
    for length, stats in run.summary.lengths.items():
        interval = f"[{stats.ci_low:.2f}, {stats.ci_high:.2f}]"
        label = f"{length // 1024}k"
        assert any(line.split()[:1] == [label] and interval in line for line in lines), (length, lines)


def test_a_perfect_run_with_few_trials_reads_as_unproven_not_as_none(tmp_path: Path) -> None:
    summary = load_run(write_run(tmp_path / "run", all_right, trials=4)).summary  # 12 per length
    first, second = effective_context_lines(summary)
    assert first.startswith("effective context: 4k (")
    assert "none" not in second
    floor = int(wilson(12, 12)[0] * 100) / 100
    assert f"not proven with 12 prompts per length (12/12 right proves only >= {floor:.2f}" in second
    # 35 scored prompts per length is the fewest whose all-right lower bound clears 0.9: 12 per
    # length over 3 depths is --trials 12 to get there.
    assert trials_to_prove(0.9) == 35
    assert wilson(35, 35)[0] >= 0.9 > wilson(34, 34)[0]
    assert "--trials 12 gives the 35+ per length that can" in second


def test_enough_trials_prove_the_lower_bound(tmp_path: Path) -> None:
    summary = load_run(write_run(tmp_path / "run", all_right, trials=14, depths=(0.0, 0.5, 1.0))).summary
    assert summary.lengths[1024].n == 42
    assert effective_context_lines(summary)[1] == "95% range: 4k .. 4k"


def test_where_recall_falls_comes_from_the_table(tmp_path: Path) -> None:
    def partly(length: int, depth: float, index: int) -> TrialStatus:
        if length <= 2048:
            return "ok"
        return "ok" if index < (3 if length == 4096 else 1) else "fail"

    summary = load_run(write_run(tmp_path / "a", partly, lengths=(1024, 2048, 4096, 8192))).summary
    at_4k, at_8k = summary.lengths[4096].accuracy, summary.lengths[8192].accuracy
    assert at_4k is not None and at_8k is not None
    assert recall_falls(summary) == (
        f"recall stays >= 0.90 up to 2k, then falls: {at_4k:.2f} at 4k, {at_8k:.2f} at 8k"
    )
    assert recall_falls(load_run(write_run(tmp_path / "b", all_right)).summary) is None
