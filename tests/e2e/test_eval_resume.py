"""Interrupt a real eval client (Ctrl-C, then kill -9) and resume: nothing lost, nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eval_fault_proxy import v1_url

pytestmark = pytest.mark.vllm

SRC = str(Path(__file__).resolve().parents[2] / "src")
LENGTHS = "1k,2k,4k"
DEPTHS = "0,0.25,0.5,0.75,1"
TRIALS = 2
EXPECTED = 3 * 5 * TRIALS


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def _start(url: str, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ropeguard",
            "eval",
            "--base-url",
            url,
            "--lengths",
            LENGTHS,
            "--depths",
            DEPTHS,
            "--trials",
            str(TRIALS),
            "--out",
            str(out),
            "--concurrency",
            "2",
            "--json",
            *extra,
        ],
        env={**os.environ, "PYTHONPATH": SRC},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for_lines(path: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 300
    while len([line for line in _lines(path) if line.endswith(b"\n")]) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the eval made no progress"
        time.sleep(0.05)


def test_ctrl_c_and_kill_9_lose_nothing_and_duplicate_nothing(vllm_unscaled: str, tmp_path: Path) -> None:
    url = v1_url(vllm_unscaled)
    out = tmp_path / "run"
    trials = out / "trials.jsonl"

    first = _start(url, out)
    _wait_for_lines(trials, 3, first)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr
    after_interrupt = _lines(trials)
    assert after_interrupt and all(line.endswith(b"\n") for line in after_interrupt)
    assert len(after_interrupt) < EXPECTED

    second = _start(url, out, "--resume")
    _wait_for_lines(trials, len(after_interrupt) + 3, second)
    second.kill()  # SIGKILL: no clean-up at all
    second.communicate(timeout=60)  # reaps it and closes its pipes
    after_kill = _lines(trials)
    assert after_kill[: len(after_interrupt)] == after_interrupt
    complete = [line for line in after_kill if line.endswith(b"\n")]
    assert len(complete) < EXPECTED

    third = _start(url, out, "--resume")
    stdout, stderr = third.communicate(timeout=600)
    assert third.returncode == 0, stderr
    final = _lines(trials)
    # Every trial finished before a kill is still there, byte for byte, in its place.
    assert final[: len(complete)] == complete
    ids = [json.loads(line)["trial_id"] for line in final]
    assert len(ids) == len(set(ids)) == EXPECTED
    summary = json.loads(stdout)
    counted = sum(v["n"] + v["invalid"] + v["errors"] for v in summary["lengths"].values())
    assert counted == EXPECTED
    assert set(summary["lengths"]) == {"1024", "2048", "4096"}
