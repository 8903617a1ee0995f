"""The run side holds under faults: `ropeguard eval` against a real HTTP server (tests/evals/fake_openai:
real sockets, real /tokenize counts from the bundled tokenizer) with a corrupt trials.jsonl, failing
requests, an echoed API key, a second run on the same folder, a server that dies, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI

from ropeguard.cli import main
from ropeguard.demo.tokenizer import write_tokenizer
from ropeguard.evals.loader import load_run
from ropeguard.evals.results import TRIALS_FILE
from ropeguard.evals.tokenization import LocalTokenizer

SRC = str(Path(__file__).resolve().parents[2] / "src")
GRID = ["--lengths", "1k", "--depths", "0,0.5,1", "--trials", "2"]  # 6 trials


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> LocalTokenizer:
    folder = tmp_path_factory.mktemp("tok")
    write_tokenizer(folder, model_max_length=65536)
    return LocalTokenizer(str(folder))


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ROPEGUARD_API_KEY", "OPENAI_API_KEY", "VLLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake(tokenizer: LocalTokenizer) -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(tokenizer).start()
    yield server
    server.stop()


def _eval(fake: FakeOpenAI, out: Path, *extra: str) -> int:
    return main(["eval", "--base-url", fake.base_url, *GRID, "--out", str(out), "--json", *extra])


def _lines(out: Path) -> list[str]:
    return (out / TRIALS_FILE).read_text().splitlines()


# ---------------------------------------------------------------------------- 1. a corrupt line


def test_a_corrupt_line_in_the_middle_keeps_every_valid_trial(
    fake: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _eval(fake, out) == 0
    lines = _lines(out)
    assert len(lines) == 6
    # A hand edit / disk error / newer schema on line 3: the five others stay valid.
    corrupt = lines[2][:25] + "#garbage#" + lines[2][25:]
    lost_id = json.loads(lines[2])["trial_id"]
    (out / TRIALS_FILE).write_text("\n".join([*lines[:2], corrupt, *lines[3:]]) + "\n")
    capsys.readouterr()

    run = load_run(out)
    assert len(run.trials) == 5 and run.skipped_lines == [3]
    assert lost_id not in {t.trial_id for t in run.trials}

    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 line that does not validate (line 3)" in err
    html = (out / "report.html").read_text()
    assert "skipped 1 line" in html

    assert main(["compare", str(out), str(out)]) == 0
    assert "skipped 1 line" in capsys.readouterr().err

    before = fake.completions
    assert _eval(fake, out, "--resume") == 0
    assert "skipped 1 line that does not validate (line 3)" in capsys.readouterr().err
    # Only the trial whose line was bad ran again; the valid ones after it were kept, not re-run.
    assert fake.completions - before == 1
    after = _lines(out)
    assert after[:6] == [*lines[:2], corrupt, *lines[3:]]  # nothing cut away, the bad line kept
    assert len(after) == 7 and json.loads(after[6])["trial_id"] == lost_id
    assert len(load_run(out).trials) == 6


# ------------------------------------------------------------------- 2. exit codes for errors


def test_trials_that_end_in_error_make_eval_exit_1_unless_allowed(
    fake: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Depth 0 puts the needle first; those requests always get a 403 (not retried: an error at once).
    def forbid_depth_0(n: int, body: dict[str, Any]) -> tuple[int, str] | None:
        # The context follows the task's instruction and a blank line.
        context = str(body["messages"][0]["content"]).split("\n\n", 1)[-1]
        return (403, '{"error": "forbidden"}') if context.startswith("The pass key") else None

    fake.fault = forbid_depth_0
    assert _eval(fake, tmp_path / "a") == 1
    captured = capsys.readouterr()
    assert "2 trials ended in error" in captured.err and "exit 1" in captured.err
    assert json.loads(captured.out)["lengths"]["1024"]["errors"] == 2
    assert _eval(fake, tmp_path / "b", "--allow-errors") == 0
    assert "--allow-errors" in capsys.readouterr().err
    fake.fault = lambda n, body: None
    # The resumed run retries the errors; complete and clean, it exits 0.
    assert _eval(fake, tmp_path / "a", "--resume") == 0


def test_a_403_on_every_request_exits_1(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.fault = lambda n, body: (403, '{"error": "forbidden"}')
    assert _eval(fake, tmp_path / "run") == 1
    assert {t.status for t in load_run(tmp_path / "run").trials} == {"error"}


# ------------------------------------------------------------------------------ 3. redaction


def test_an_echoed_api_key_is_never_stored_or_printed(
    fake: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "rg-secret-4f9a2c81"
    monkeypatch.setenv("ROPEGUARD_API_KEY", key)
    fake.required_key = key
    # The server quotes the key back: in error bodies (kept as reasons), in an answer, and in the
    # model name it serves (kept in run.json), the places a careless server puts what it got.
    fake.model = f"tiny-{key}"
    echo = f'{{"error": "quota exceeded for key {key}"}}'

    def rule(n: int, body: dict[str, Any]) -> tuple[int, str] | None:
        if n % 3 == 0:
            return 403, echo
        if n % 3 == 1:
            reply = {"choices": [{"message": {"content": f"12345 {key}"}, "finish_reason": "stop"}]}
            return 200, json.dumps(reply)
        return None

    fake.fault = rule
    out = tmp_path / "run"
    assert _eval(fake, out) == 1  # some trials ended in error
    assert main(["report", str(out)]) == 0
    # An error message quoting the key: /tokenize answers 500 with it after the first calls.
    calls = fake.tokenizes
    fake.tokenize_fault = lambda n: (500, f"bad token {key}") if n > calls + 1 else None
    assert _eval(fake, tmp_path / "other") == 2
    captured = capsys.readouterr()
    stored = [out / name for name in ("trials.jsonl", "run.json", "summary.json", "report.html")]
    texts = {path.name: path.read_text() for path in stored}
    assert "quota exceeded for key ***" in texts["trials.jsonl"]  # the echo was kept, redacted
    for name, text in texts.items():
        assert key not in text, name
    assert "tiny-***" in texts["run.json"]
    assert "bad token ***" in captured.err
    assert key not in captured.err and key not in captured.out


# -------------------------------------------------------------------------- 5. one run per folder


def test_a_second_eval_on_the_same_out_is_refused(
    fake: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    fake.hold = threading.Event()  # the first run stays busy until released
    codes: list[int] = []
    first = threading.Thread(target=lambda: codes.append(_eval(fake, out)))
    first.start()
    deadline = time.monotonic() + 60
    while fake.completions == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.completions > 0, "the first run never sent a request"
    capsys.readouterr()
    assert _eval(fake, out) == 2
    assert _eval(fake, out, "--resume") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"error: {out} is in use by another ropeguard run (pid {os.getpid()})"
    fake.hold.set()
    first.join(timeout=120)
    assert codes == [0]
    ids = [json.loads(line)["trial_id"] for line in _lines(out)]
    assert len(ids) == 6 and len(set(ids)) == 6  # no duplicate records
    # The lock died with its run: the folder can be resumed now.
    assert _eval(fake, out, "--resume") == 0


# ---------------------------------------------------------------------- 6. a server that died


def test_a_server_that_dies_mid_eval_is_named_and_the_run_resumes(
    tokenizer: LocalTokenizer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dying = FakeOpenAI(tokenizer, die_after=2).start()
    out = tmp_path / "run"
    code = main(["eval", "--base-url", dying.base_url, *GRID, "--out", str(out), "--concurrency", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"the server at http://127.0.0.1:{dying.port} stopped answering (connection" in err
    assert f"the results so far are in {out}" in err and "--resume" in err
    assert "ReadError" not in err and "Traceback" not in err
    kept = load_run(out)
    assert len(kept.trials) == 2 and {t.status for t in kept.trials} <= {"ok", "fail"}
    alive = FakeOpenAI(tokenizer).start()
    try:
        resumed = main(["eval", "--base-url", alive.base_url, *GRID, "--out", str(out), "--resume", "--json"])
        assert resumed == 0 and alive.completions == 4
    finally:
        alive.stop()


def test_ctrl_c_exits_130_and_says_where_the_results_are(fake: FakeOpenAI, tmp_path: Path) -> None:
    out = tmp_path / "run"
    fake.hold = threading.Event()
    env = {**os.environ, "PYTHONPATH": SRC}
    command = [sys.executable, "-m", "ropeguard", "eval", "--base-url", fake.base_url, *GRID]
    child = subprocess.Popen(
        [*command, "--out", str(out), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while fake.completions < 1 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert fake.completions >= 1, child.stderr.read() if child.stderr else ""
        fake.hold.set()  # let the first answers through, then interrupt while the rest are in flight
        while not (out / TRIALS_FILE).exists() or not (out / TRIALS_FILE).read_text():
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, err
    assert err.strip().splitlines()[-1] == f"interrupted; the results so far are in {out}"
    assert "Traceback" not in err
    assert load_run(out).trials  # what finished is kept, with its summary
    assert (out / "summary.json").exists()
