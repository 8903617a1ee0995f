"""`ropeguard serve` against the real vLLM CPU build: start, verify, stop, no orphans, failures.

Server starts are expensive here (about a minute each on two cores), so one full start covers the
CLI, the verification against the plan and the SIGTERM clean-up; the other tests fail early on purpose.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ropeguard.errors import ServeError, ServeExited
from ropeguard.serve import LaunchSpec, free_port, group_members, port_is_free, start_server

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

SRC = Path(__file__).resolve().parents[2] / "src"


def _cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-m", "ropeguard", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _reap(cli: subprocess.Popen[str]) -> None:
    if cli.poll() is None:
        cli.kill()
    cli.communicate()  # drains and closes the pipes


def _wait_for(predicate: object, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.2)
    return False


def _wait_for_line(stream: object, needle: str, timeout: float) -> str:
    end = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < end:
        line = stream.readline()  # type: ignore[attr-defined]
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r} in:\n{''.join(seen)[-3000:]}")


def test_cli_serves_as_planned_and_sigterm_leaves_no_process(tiny_model_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    run_dir = tmp_path / "run"
    key = "rg-serve-key-3b7e91"  # vLLM then guards /v1: readiness only passes if ropeguard sends it
    cli = _cli(
        "serve",
        str(tiny_model_dir),
        "--target",
        "8192",
        "--native",
        "2048",
        "--port",
        str(port),
        "--run-dir",
        str(run_dir),
        "--",
        "--api-key",
        key,
        "--enforce-eager",
    )
    try:
        line = _wait_for_line(cli.stderr, "serving ", timeout=840)
        assert f"http://127.0.0.1:{port}/v1" in line
        assert "verified against the plan" in line
        url = f"http://127.0.0.1:{port}/v1/models"
        assert httpx.get(url, timeout=10).status_code == 401
        models = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
        assert models["data"][0]["max_model_len"] == 8192
        log = (run_dir / "server.log").read_text()
        first = log.splitlines()[0]  # the line that reproduces the launch
        assert '"original_max_position_embeddings": 2048' in first
        assert first.endswith("--api-key '***' --enforce-eager")  # extra args appended, key hidden
        assert key not in first
        pgid = int((run_dir / "server.pid").read_text())
        assert len(group_members(pgid)) >= 2  # the API server and its engine core
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(timeout=90) == 130
        assert group_members(pgid) == []
        assert port_is_free("127.0.0.1", port)
    finally:
        _reap(cli)


def test_ctrl_c_while_starting_stops_the_server(tiny_model_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cli = _cli(
        "serve",
        str(tiny_model_dir),
        "--target",
        "8192",
        "--native",
        "2048",
        "--port",
        str(free_port()),
        "--run-dir",
        str(run_dir),
        "--",
        "--enforce-eager",
    )
    try:
        pid_file = run_dir / "server.pid"
        assert _wait_for(pid_file.exists, 60)
        pgid = int(pid_file.read_text())
        assert _wait_for(lambda: bool(group_members(pgid)), 10)
        time.sleep(3)  # let vLLM get going
        cli.send_signal(signal.SIGINT)
        assert cli.wait(timeout=60) == 130
        assert group_members(pgid) == []
    finally:
        _reap(cli)


def test_a_killed_ropeguard_takes_its_server_along(tiny_model_dir: Path, tmp_path: Path) -> None:
    # SIGKILL leaves ropeguard no chance to clean up: the kernel's parent-death signal does it.
    run_dir = tmp_path / "run"
    cli = _cli("serve", str(tiny_model_dir), "--target", "8192", "--port", str(free_port()),
               "--run-dir", str(run_dir))  # fmt: skip
    pgid = 0
    try:
        pid_file = run_dir / "server.pid"
        assert _wait_for(pid_file.exists, 60)
        pgid = int(pid_file.read_text())
        assert _wait_for(lambda: bool(group_members(pgid)), 10)
        cli.kill()
        cli.wait(timeout=10)
        assert _wait_for(lambda: not group_members(pgid), 90), group_members(pgid)
    finally:
        _reap(cli)
        if pgid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)


def test_a_dead_child_is_noticed_at_once(tmp_path: Path, tiny_model_dir: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((tiny_model_dir / "config.json").read_text())  # no weights
    run_dir = tmp_path / "run"
    with pytest.raises(ServeExited) as caught:
        start_server(LaunchSpec(model=str(broken), port=free_port()), run_dir, ready_timeout=800)
    noticed = time.time()
    # The dying child's last words are the log's last write: the error came within a few polls of it,
    # not at the 800 s timeout.
    last_write = (run_dir / "server.log").stat().st_mtime
    assert noticed - last_write < 5, f"noticed {noticed - last_write:.1f} s after the child's last output"
    assert caught.value.returncode not in (None, 0)
    assert caught.value.message
    assert group_members(int((run_dir / "server.pid").read_text())) == []


def test_max_length_beyond_the_config_is_explained(tiny_model_dir: Path, tmp_path: Path) -> None:
    spec = LaunchSpec(model=str(tiny_model_dir), max_model_len=16384, port=free_port())
    with pytest.raises(ServeExited) as caught:
        start_server(spec, tmp_path / "run", ready_timeout=800)
    native = json.loads((tiny_model_dir / "config.json").read_text())["max_position_embeddings"]
    assert f"max_position_embeddings is {native}" in caught.value.message
    assert caught.value.hint is not None
    assert '"max_position_embeddings": 16384' in caught.value.hint


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_port_in_use_is_refused_before_starting(tiny_model_dir: Path, tmp_path: Path, busy_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(ServeError, match=f"port {busy_port} on 127.0.0.1 is already in use"):
        start_server(LaunchSpec(model=str(tiny_model_dir), port=busy_port), tmp_path / "run")
    assert time.monotonic() - started < 5
    cli = _cli(
        "serve",
        str(tiny_model_dir),
        "--target",
        "8192",
        "--port",
        str(busy_port),
        "--run-dir",
        str(tmp_path / "cli"),
    )
    _, err = cli.communicate(timeout=120)
    assert cli.returncode == 2
    assert f"error: port {busy_port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err


def test_kv_cache_too_small_names_the_ways_out(tiny_model_dir: Path, tmp_path: Path) -> None:
    # 4M tokens of the tiny model need 2 GiB of KV cache; the CPU build is given 1 GiB.
    length = 4 * 1024 * 1024
    spec = LaunchSpec(
        model=str(tiny_model_dir),
        max_model_len=length,
        hf_overrides={"max_position_embeddings": length},
        port=free_port(),
        extra_args=["--enforce-eager"],
    )
    with pytest.raises(ServeExited) as caught:
        start_server(spec, tmp_path / "run", ready_timeout=800)
    assert f"one {length}-token request needs" in caught.value.message
    hint = caught.value.hint or ""
    assert "--tensor-parallel-size" in hint
    assert "--kv-cache-dtype fp8" in hint
    assert "tokens fit" in hint
    assert "--cpu-kv-cache-gib, now 1" in hint
