from __future__ import annotations

import json
from pathlib import Path

import pytest
from reports_runfiles import all_right, collapsing, write_run

from ropeguard.cli import main
from ropeguard.errors import UsageError
from ropeguard.evals.loader import load_run
from ropeguard.evals.results import TrialStatus
from ropeguard.reports.compare import compare_runs, mcnemar_exact


@pytest.mark.parametrize(
    ("a_only", "b_only", "expected"),
    [
        (0, 0, 1.0),  # no discordant pair: no evidence
        (0, 5, 2 / 32),  # 2 * C(5,0) / 2^5
        (0, 6, 2 / 64),
        (1, 9, 2 * (1 + 10) / 1024),  # 2 * (C(10,0) + C(10,1)) / 2^10 = 0.021484375
        (8, 2, 2 * (1 + 10 + 45) / 1024),  # symmetric in the two counts: 0.109375
        (3, 3, 1.0),  # 2 * 42 / 64 > 1, capped
        (4, 12, 2 * (1 + 16 + 120 + 560 + 1820) / 65536),  # 0.076812744140625
    ],
)
def test_mcnemar_exact_matches_hand_computed_values(a_only: int, b_only: int, expected: float) -> None:
    assert mcnemar_exact(a_only, b_only) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_scaled_run_is_significantly_better_than_collapsing_baseline(tmp_path: Path) -> None:
    a = load_run(write_run(tmp_path / "a", collapsing))
    b = load_run(write_run(tmp_path / "b", all_right))
    result = compare_runs(a, b)
    # 4096 is the only length where they differ: 3 depths x 4 trials, all discordant in B's favour.
    assert result.lengths[4096].a_only == 0
    assert result.lengths[4096].b_only == 12
    assert result.lengths[4096].p_value == pytest.approx(2 / 2**12)
    assert result.lengths[4096].delta == pytest.approx(1.0)
    assert result.lengths[1024].verdict == "no significant difference"
    assert result.lengths[1024].p_value == 1.0
    assert result.overall.pairs == 36
    assert result.overall.verdict == "better"
    assert compare_runs(b, a).overall.verdict == "worse"


def test_few_discordant_pairs_are_not_significant(tmp_path: Path) -> None:
    def two_losses(length: int, depth: float, index: int) -> TrialStatus:
        return "fail" if (length, depth) == (4096, 1.0) and index < 2 else "ok"

    a = load_run(write_run(tmp_path / "a", all_right))
    b = load_run(write_run(tmp_path / "b", two_losses))
    result = compare_runs(a, b)
    assert (result.overall.a_only, result.overall.b_only) == (2, 0)
    assert result.overall.p_value == pytest.approx(0.5)
    assert result.overall.verdict == "no significant difference"


def test_invalid_and_error_trials_are_left_out_of_the_pairs(tmp_path: Path) -> None:
    def broken(length: int, depth: float, index: int) -> TrialStatus:
        if length == 1024 and index == 0:
            return "invalid"
        if length == 2048 and index == 0:
            return "error"
        return "ok"

    a = load_run(write_run(tmp_path / "a", all_right))
    b = load_run(write_run(tmp_path / "b", broken))
    result = compare_runs(a, b)
    assert result.unscored_pairs == 6
    assert result.lengths[1024].pairs == 9
    assert result.overall.pairs == 30


def test_runs_of_different_grids_are_refused(tmp_path: Path) -> None:
    a = load_run(write_run(tmp_path / "a", all_right, lengths=(1024,)))
    b = load_run(write_run(tmp_path / "b", all_right, lengths=(2048,)))
    with pytest.raises(UsageError, match="share no trial id"):
        compare_runs(a, b)


def test_compare_cli_json_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_run(tmp_path / "a", collapsing)
    b = write_run(tmp_path / "b", all_right)
    assert main(["compare", str(a), str(b), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["overall"]["verdict"] == "better"
    assert document["lengths"]["4096"]["b_only"] == 12
    # B worse than A: exit 0 by default (a report), 1 with --fail-on-worse (a gate).
    assert main(["compare", str(b), str(a)]) == 0
    assert "worse" in capsys.readouterr().out
    assert main(["compare", str(b), str(a), "--fail-on-worse"]) == 1
    capsys.readouterr()
    assert main(["compare", str(a), str(tmp_path / "missing")]) == 2
    assert "error:" in capsys.readouterr().err


def test_compare_prints_no_known_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs stored before the key was known here (another shell, a key rotated in) still hold it in
    # the served model's name: what the CLI prints passes through the one redaction all the same.
    key = "compare-key-4b8"
    monkeypatch.delenv("ROPEGUARD_API_KEY", raising=False)
    a = write_run(tmp_path / "a", collapsing, model=f"tiny-{key}")
    b = write_run(tmp_path / "b", all_right, model=f"tiny-{key}")
    monkeypatch.setenv("ROPEGUARD_API_KEY", key)
    assert main(["compare", str(a), str(b), "--json"]) == 0
    printed = capsys.readouterr().out
    assert key not in printed
    assert json.loads(printed)["run_a"]["model"] == "tiny-***"
