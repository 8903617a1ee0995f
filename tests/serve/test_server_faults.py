"""A server's run side: readiness checks send the API key the server was started with (`-- --api-key
KEY` or VLLM_API_KEY), against a real HTTP server that guards /v1 as vLLM's AuthenticationMiddleware
does (/health is open); a server that died mid-run is told with its exit code and its log's reason.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ropeguard.errors import ServeExited, ServerGone, ServeTimeout
from ropeguard.redaction import redact_text
from ropeguard.serve import LaunchSpec, Runtime, Server, build_launch

KEY = "vk-ready-58c1d2e9"


@pytest.fixture
def guarded() -> Iterator[int]:
    """A server that answers /v1/models only with `Authorization: Bearer KEY`; yields its port."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            if self.path == "/health":
                status, body = 200, b""
            elif self.headers.get("Authorization") != f"Bearer {KEY}":
                status, body = 401, b'{"error": "Unauthorized"}'
            else:
                entry = {"id": "tiny", "max_model_len": 8192}
                status, body = 200, json.dumps({"data": [entry]}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _waiting(spec: LaunchSpec, run_dir: Path, timeout: float) -> Server:
    """A Server whose process is a stand-in child (the HTTP side is the fixture's server)."""
    server = Server(spec, run_dir, runtime=Runtime.detect(), ready_timeout=timeout, stop_grace=2.0)
    server.process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    server.started_at = time.monotonic()
    return server


@pytest.mark.parametrize("args", [["--api-key", KEY], [f"--api-key={KEY}"], ["--api_key", KEY, "other-key"]])
def test_readiness_sends_the_key_from_the_engine_args(guarded: int, tmp_path: Path, args: list[str]) -> None:
    server = _waiting(LaunchSpec(model="m", port=guarded, extra_args=args), tmp_path, timeout=20)
    try:
        server.wait_ready()
    finally:
        server.stop()
    assert server.served_model == "tiny" and server.api_key == KEY


def test_a_repeated_api_key_flag_counts_as_vllm_counts_it(tmp_path: Path) -> None:
    # vLLM's api_key is `list[str] | None` on an nargs="+" option (vllm/entrypoints/launchers/
    # cli_args.py, 0.32): argparse keeps only the last --api-key, so a key given before it is refused.
    spec = LaunchSpec(model="m", extra_args=["--api-key", "old-key-0", "--seed", "1", "--api-key", KEY])
    assert Server(spec, tmp_path, runtime=Runtime.detect()).api_key == KEY


def test_readiness_sends_vllm_api_key_from_the_environment(
    guarded: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_API_KEY", KEY)
    server = _waiting(LaunchSpec(model="m", port=guarded), tmp_path, timeout=20)
    try:
        server.wait_ready()
    finally:
        server.stop()
    assert server.served_model == "tiny"


def test_without_the_key_the_server_never_counts_as_ready(
    guarded: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    server = _waiting(LaunchSpec(model="m", port=guarded), tmp_path, timeout=1.5)
    with pytest.raises(ServeTimeout):
        server.wait_ready()


def test_the_launch_keys_are_redacted_everywhere(tmp_path: Path) -> None:
    spec = LaunchSpec(model="m", extra_args=["--api-key", "first-key-1", "second-key-2", "--seed", "1"])
    Server(spec, tmp_path, runtime=Runtime.detect())
    assert redact_text("401: bad key second-key-2 (first-key-1)") == "401: bad key *** (***)"
    shell = build_launch(spec, Runtime.detect()).shell()
    assert "first-key-1" not in shell and "second-key-2" not in shell and "--seed 1" in shell


def test_a_run_that_lost_its_server_says_how_the_server_died(tmp_path: Path) -> None:
    server = Server(LaunchSpec(model="m"), tmp_path, runtime=Runtime.detect())
    server.log_path.write_text(
        "INFO started\nRuntimeError: Engine core proc EngineCore_0 died unexpectedly\n"
    )
    server.process = subprocess.Popen(["sh", "-c", "exit 3"], start_new_session=True)
    gone = ServerGone("the server at http://127.0.0.1:8000 stopped answering", results=tmp_path / "run")
    told = server.explain(gone)
    assert isinstance(told, ServeExited) and told.returncode == 3
    assert told.message == (
        "vLLM exited with code 3 while serving: RuntimeError: Engine core proc EngineCore_0 died "
        f"unexpectedly; the results so far are in {tmp_path / 'run'}"
    )
    # Still running (the network, not the process, failed): the run's own words stand.
    alive = Server(LaunchSpec(model="m"), tmp_path, runtime=Runtime.detect(), stop_grace=2.0)
    alive.process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert alive.death() is None
    finally:
        alive.stop()


def test_ctrl_c_in_serve_exits_130_and_says_the_server_was_stopped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import signal

    import ropeguard.serve
    from ropeguard.cli import main
    from ropeguard.demo import model_dir

    def interrupted(*args: object, **kwargs: object) -> Server:
        raise KeyboardInterrupt

    monkeypatch.setattr(signal, "signal", lambda *args: None)  # keep pytest's own SIGTERM handling
    monkeypatch.setattr(ropeguard.serve, "start_server", interrupted)
    run_dir = tmp_path / "serve"
    argv = ["serve", str(model_dir()), "--target", "8k", "--native", "2k", "--run-dir", str(run_dir)]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"interrupted; the server was stopped; its log is {run_dir / 'server.log'}"
