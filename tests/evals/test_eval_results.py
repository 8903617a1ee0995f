import json
from pathlib import Path

import pytest

from ropeguard.errors import UsageError
from ropeguard.evals.loader import load_run
from ropeguard.evals.results import (
    TRIALS_FILE,
    PrefixCacheStats,
    RunConfig,
    RunInfo,
    ServerInfo,
    TrialLog,
    TrialRecord,
    read_trials,
    scan_trials,
    write_run_info,
    write_summary,
)
from ropeguard.evals.stats import summarize


def _record(index: int, status: str = "ok") -> TrialRecord:
    return TrialRecord(
        trial_id=f"passkey-1024-0.5-{index}-0",
        task="passkey",
        length=1024,
        prompt_tokens=1020,
        usage_prompt_tokens=1020,
        depth=0.5,
        index=index,
        seed=0,
        needles=["The pass key is 12345."],
        expected=["12345"],
        answer="12345",
        status=status,  # type: ignore[arg-type]
        attempts=1,
    )


def _info() -> RunInfo:
    return RunInfo(
        ropeguard_version="0.1.0",
        config=RunConfig(task="passkey", lengths=[1024, 2048], depths=[0.5], trials=3, seed=0),
        server=ServerInfo(base_urls=["http://127.0.0.1:8000/v1"], model="tiny", max_model_len=8192),
    )


def test_trial_log_appends_and_drops_a_torn_tail(tmp_path: Path) -> None:
    log = TrialLog(tmp_path / TRIALS_FILE)
    assert log.open() == []
    log.append(_record(0))
    log.append(_record(1, "fail"))
    log.close()
    # A kill -9 in the middle of a write leaves a partial last line.
    with (tmp_path / TRIALS_FILE).open("ab") as handle:
        handle.write(_record(2).model_dump_json().encode()[:40])
    assert [t.index for t in read_trials(tmp_path / TRIALS_FILE)] == [0, 1]
    again = TrialLog(tmp_path / TRIALS_FILE)
    assert [t.index for t in again.open()] == [0, 1]
    again.append(_record(2))
    again.close()
    lines = (tmp_path / TRIALS_FILE).read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["schema_version"] == 1 for line in lines)


def test_run_round_trips_and_summary_is_recomputed(tmp_path: Path) -> None:
    info = _info()
    write_run_info(tmp_path, info)
    log = TrialLog(tmp_path / TRIALS_FILE)
    log.open()
    trials = [_record(0), _record(1), _record(2, "fail")]
    for trial in trials:
        log.append(trial)
    log.close()
    stored = summarize(trials, lengths=[1024, 2048], depths=[0.5]).model_copy(
        update={"wall_seconds": 12.5, "prefix_cache": PrefixCacheStats(queries=100, hits=60)}
    )
    # A stale stored accuracy must not win over the trials.
    stale = stored.model_copy(update={"effective_context": 99})
    write_summary(tmp_path, stale)
    run = load_run(tmp_path)
    assert run.info == info
    assert run.trials == trials
    assert run.summary.lengths[1024].accuracy == pytest.approx(2 / 3)
    assert run.summary.effective_context is None
    assert run.summary.wall_seconds == 12.5
    assert run.summary.prefix_cache is not None and run.summary.prefix_cache.hit_rate == 0.6


def test_load_run_names_a_directory_without_run_json(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not an eval run directory"):
        load_run(tmp_path)


def test_records_forbid_unknown_fields() -> None:
    with pytest.raises(ValueError):
        TrialRecord.model_validate({**_record(0).model_dump(), "surprise": 1})


def test_a_retried_error_supersedes_the_earlier_record(tmp_path: Path) -> None:
    log = TrialLog(tmp_path / TRIALS_FILE)
    log.open()
    log.append(_record(0, "error"))
    log.append(_record(1))
    log.append(_record(0, "ok"))
    log.close()
    trials = read_trials(tmp_path / TRIALS_FILE)
    assert [(t.index, t.status) for t in trials] == [(0, "ok"), (1, "ok")]


def test_a_later_error_never_replaces_a_finished_trial(tmp_path: Path) -> None:
    # Resume retries only errors, so an error after an answer comes from a second writer or a
    # concatenated file: the finished answer (ok or fail) is what the trial measured.
    log = TrialLog(tmp_path / TRIALS_FILE)
    log.open()
    log.append(_record(0, "ok"))
    log.append(_record(1, "fail"))
    log.append(_record(0, "error"))
    log.append(_record(1, "error"))
    log.close()
    trials = read_trials(tmp_path / TRIALS_FILE)
    assert [(t.index, t.status) for t in trials] == [(0, "ok"), (1, "fail")]


def test_a_bad_line_in_the_middle_is_skipped_by_number_and_never_cut(tmp_path: Path) -> None:
    path = tmp_path / TRIALS_FILE
    good = [_record(i).model_dump_json() for i in range(4)]
    newer = json.dumps({**json.loads(good[1]), "schema_version": 2, "new_field": 1})
    path.write_text("\n".join([good[0], newer, good[2], "", "not json", good[3]]) + "\n")
    read = scan_trials(path)
    assert [t.index for t in read.records] == [0, 2, 3]
    assert read.skipped_lines == [2, 5] and read.torn_offset is None
    log = TrialLog(path)
    assert [t.index for t in log.open()] == [0, 2, 3] and log.skipped_lines == [2, 5]
    log.append(_record(1))
    log.close()
    lines = path.read_text().splitlines()
    assert lines[:6] == [good[0], newer, good[2], "", "not json", good[3]]  # all kept on disk
    assert [t.index for t in read_trials(path)] == [0, 2, 3, 1]


def test_only_an_unterminated_last_line_is_a_torn_write(tmp_path: Path) -> None:
    path = tmp_path / TRIALS_FILE
    good = [_record(i).model_dump_json() for i in range(3)]
    # A whole record whose newline did not make it is kept, and its line finished on open.
    path.write_text(good[0] + "\n" + good[1])
    log = TrialLog(path)
    assert [t.index for t in log.open()] == [0, 1]
    log.close()
    assert path.read_text() == good[0] + "\n" + good[1] + "\n"
    # A record cut mid-write is dropped and cut away; a bad line before it stays.
    path.write_text(good[0] + "\nbroken\n" + good[2][:30])
    read = scan_trials(path)
    assert [t.index for t in read.records] == [0] and read.skipped_lines == [2]
    log = TrialLog(path)
    log.open()
    log.close()
    assert path.read_text() == good[0] + "\nbroken\n"


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("summary.json", '{"lengths": 5}', "does not hold a valid summary"),
        ("summary.json", None, "is not a file"),
        ("run.json", None, "is not a file"),
        ("trials.jsonl", None, "is a folder"),
    ],
)
def test_damaged_run_files_are_one_line_errors(
    tmp_path: Path, name: str, damage: str | None, message: str
) -> None:
    write_run_info(tmp_path, _info())
    path = tmp_path / name
    if path.exists():
        path.unlink()
    if damage is None:
        path.mkdir()
    else:
        path.write_text(damage)
    with pytest.raises(UsageError, match=message):
        load_run(tmp_path)


def test_a_folder_that_cannot_be_created_is_a_usage_error(tmp_path: Path) -> None:
    from ropeguard.files import RunLock

    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match=r"cannot write to .*file/run: Not a directory"):
        RunLock(tmp_path / "file" / "run").acquire()
