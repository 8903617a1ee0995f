"""Atomic writes and the run-folder lock (ropeguard.files), on real files and real flock locks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ropeguard.errors import Interrupted, UsageError
from ropeguard.files import LOCK_FILE, RunLock, RunLocked, results_on_interrupt, write_atomic


def test_write_atomic_replaces_and_keeps_the_mode(tmp_path: Path) -> None:
    script = tmp_path / "serve.sh"
    script.write_text("old\n")
    script.chmod(0o750)
    write_atomic(script, "new\n")
    assert script.read_text() == "new\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o750  # a fixed script stays executable
    assert [p.name for p in tmp_path.iterdir()] == ["serve.sh"]  # no temporary left behind
    fresh = write_atomic(tmp_path / "sub" / "new.bin", b"\x00\x01")
    assert fresh.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(fresh.stat().st_mode) & 0o077 != 0o077  # umask applied, not mkstemp's 0600
    assert stat.S_IMODE(fresh.stat().st_mode) & 0o644 == 0o644


def test_write_atomic_writes_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.yaml"
    target.write_text("a: 1\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    write_atomic(link, "a: 2\n")
    assert link.is_symlink() and target.read_text() == "a: 2\n"


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.json"
    path.write_text('{"old": true}\n')

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_atomic(path, '{"new": true}\n')
    assert path.read_text() == '{"old": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_second_lock_on_a_folder_is_refused_until_released(tmp_path: Path) -> None:
    with RunLock(tmp_path / "run"):
        (tmp_path / "run" / "trials.jsonl").write_text("")
        with pytest.raises(RunLocked, match=f"in use by another ropeguard run \\(pid {os.getpid()}\\)"):
            RunLock(tmp_path / "run").acquire()
    with RunLock(tmp_path / "run"):
        pass
    assert RunLocked.exit_code == 2


def test_a_lock_file_left_by_a_dead_run_is_not_stale(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    # A child takes the lock and is killed (no clean-up runs); its pid stays in the file.
    code = (
        "import os, sys; from ropeguard.files import RunLock; RunLock(sys.argv[1]).acquire(); "
        "open(os.path.join(sys.argv[1], 'x'), 'w').close(); os._exit(0)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True, env=env)
    assert (folder / LOCK_FILE).read_text().strip().isdigit()
    with RunLock(folder) as lock:
        assert lock.path.read_text().strip() == str(os.getpid())


def test_a_folder_nothing_was_written_to_is_removed_again(tmp_path: Path) -> None:
    with RunLock(tmp_path / "new"):
        pass
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    with RunLock(tmp_path / "kept"):
        pass
    assert (tmp_path / "kept").is_dir()  # it existed before: left as it was (with its lock file)


def test_a_file_given_as_folder_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        RunLock(tmp_path / "f").acquire()


def test_ctrl_c_names_the_innermost_results_folder(tmp_path: Path) -> None:
    with (
        pytest.raises(Interrupted) as caught,
        results_on_interrupt(tmp_path),
        results_on_interrupt(tmp_path / "a"),
    ):
        raise KeyboardInterrupt
    assert caught.value.results == tmp_path / "a"
    assert isinstance(caught.value, KeyboardInterrupt)
    assert str(caught.value) == f"interrupted; the results so far are in {tmp_path / 'a'}"


def test_lint_write_goes_through_the_atomic_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ropeguard.lint.autofix import write_fixes

    script = tmp_path / "serve.sh"
    old = 'vllm serve m --hf-overrides \'{"rope_scaling": {"type": "yarn"}}\'\n'
    script.write_text(old)
    script.chmod(0o755)

    def cut_short(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", cut_short)
        with pytest.raises(OSError):
            write_fixes({str(script): (old, old.replace('"type"', '"rope_type"'))})
    assert script.read_text() == old  # never truncated mid-JSON
    write_fixes({str(script): (old, old.replace('"type"', '"rope_type"'))})
    assert '"rope_type"' in script.read_text() and stat.S_IMODE(script.stat().st_mode) == 0o755
