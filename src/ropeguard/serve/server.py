"""Starting, watching, verifying and stopping one vLLM server process.

The server runs in its own session (so its own process group): a Ctrl-C in the terminal reaches
ropeguard only, and ropeguard stops the whole group (vLLM's API server plus its engine-core workers)
with SIGTERM, then SIGKILL after a grace period. While waiting for readiness the child's exit is polled
on every tick, so a crash is reported at once with the log's reason, not after a timeout.

After `/health` and `/v1/models` answer, the launch is verified against the plan: the served
`max_model_len` and the startup log's `non-default args: {...}` line (vLLM echoes the parsed arguments
there, including `hf_overrides`). Any difference stops the server and raises ServeError naming it.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import httpx

from ropeguard.errors import RopeguardError, ServeError, ServeExited, ServerGone, ServeTimeout
from ropeguard.files import write_atomic
from ropeguard.http_client import client as http_client
from ropeguard.redaction import remember_secret
from ropeguard.serve.failures import Finding, diagnose, last_error_line
from ropeguard.serve.launch import (
    Launch,
    LaunchSpec,
    PlanLike,
    api_key_of,
    build_launch,
    is_headless,
    is_secret_env,
    secret_values,
    spec_from_plan,
)
from ropeguard.serve.runtime import CPU_KV_CACHE_GIB, Runtime

READY_TIMEOUT_S = 900.0
STOP_GRACE_S = 15.0
POLL_S = 0.5
PR_SET_PDEATHSIG = 1  # linux/prctl.h

_NON_DEFAULT = re.compile(r"non-default args: (\{.*\})\s*$", re.MULTILINE)

_LIVE: set[Server] = set()


@atexit.register
def _stop_leftovers() -> None:
    # A Python exit that skipped `stop()` (an uncaught error in a caller) must not leave a server behind.
    for server in list(_LIVE):
        server.stop()


def _die_with_parent() -> Callable[[], None] | None:
    """Linux: have the kernel SIGTERM the server when ropeguard dies, even by SIGKILL (no clean-up
    of ours runs then); vLLM's API server then stops its own workers. None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, read from /proc (Linux); [] when none."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid pgrp ...
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def parse_non_default_args(log: str) -> dict[str, Any] | None:
    """The dict vLLM logs as `non-default args: {...}` at startup, or None when absent."""
    match = _NON_DEFAULT.search(log)
    if not match:
        return None
    try:
        value = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, dict) else None


class Server:
    """One vLLM server process: `start()`, `wait_ready()`, `verify()`, `stop()`; a context manager."""

    def __init__(
        self,
        spec: LaunchSpec,
        run_dir: Path | str,
        *,
        runtime: Runtime | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
        stop_grace: float = STOP_GRACE_S,
        echo: TextIO | None = None,
    ) -> None:
        self.spec = spec
        self.runtime = runtime or Runtime.detect()
        self.launch: Launch = build_launch(spec, self.runtime)
        # The key vLLM will require on /v1 (readiness checks and evals must send it), and every
        # secret of the launch: redacted wherever a log excerpt or an answer is stored or printed.
        self.api_key: str | None = api_key_of(self.launch, dict(os.environ))
        remember_secret(self.api_key)
        for secret in secret_values(self.launch.argv):
            remember_secret(secret)
        for name, value in self.launch.env.items():
            if is_secret_env(name):
                remember_secret(value)
        self.run_dir = Path(run_dir)
        self.log_path = self.run_dir / "server.log"
        self.ready_timeout = ready_timeout
        self.stop_grace = stop_grace
        self.echo = echo
        self.process: subprocess.Popen[bytes] | None = None
        self.served_model: str | None = None
        self.served_max_model_len: int | None = None
        self.started_at: float | None = None
        self.ready_seconds: float | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.spec.host}]" if ":" in self.spec.host else self.spec.host
        return f"http://{host}:{self.spec.port}/v1"

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    @property
    def command(self) -> str:
        return self.launch.shell()

    def _say(self, text: str) -> None:
        if self.echo is not None:
            print(text, file=self.echo, flush=True)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Server:
        if self.runtime.distribution is None:
            raise ServeError(
                "no vLLM is installed in this Python environment",
                hint="pip install 'ropeguard[cpu]' (CPU build) or 'ropeguard[serve]' (GPU build)",
            )
        if not port_is_free(self.spec.host, self.spec.port):
            raise ServeError(
                f"port {self.spec.port} on {self.spec.host} is already in use",
                hint="choose another --port, or stop the server that holds it",
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._say(f"$ {self.command}")
        env = {**os.environ, **self.launch.env}
        with self.log_path.open("ab") as log:
            log.write(f"# ropeguard: {self.command}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.launch.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        self.started_at = time.monotonic()
        _LIVE.add(self)
        # The process group id, for whoever must stop it from outside (`kill -TERM -- -PGID`).
        write_atomic(self.run_dir / "server.pid", f"{self.process.pid}\n")
        return self

    def diagnose(self, log: str) -> Finding | None:
        """The known failure in `log`, told with this launch's numbers (CPU: the KV cache size given)."""
        spec = self.spec
        if self.runtime.is_cpu_build and spec.cpu_kv_cache_gib is None:
            spec = spec.model_copy(update={"cpu_kv_cache_gib": float(CPU_KV_CACHE_GIB)})
        return diagnose(log, spec)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _exited(self) -> ServeExited:
        assert self.process is not None
        code = self.process.returncode
        log = self.log_text()
        finding = self.diagnose(log)
        self.stop()
        if finding is not None:
            return ServeExited(finding.message, returncode=code, hint=finding.hint)
        last = last_error_line(log) or "no error line in the log"
        return ServeExited(
            f"vLLM exited with code {code} before it was ready: {last}",
            returncode=code,
            hint=f"the whole log is in {self.log_path}",
        )

    def wait_ready(self) -> None:
        """Block until /health and /v1/models answer; raise at once if the process dies."""
        assert self.process is not None and self.started_at is not None
        deadline = self.started_at + self.ready_timeout
        # The readiness check sends the key vLLM was started with (`--api-key`, else $VLLM_API_KEY).
        with http_client(api_key=self.api_key, timeout=5.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise self._exited()
                if self._probe(client):
                    break
                if time.monotonic() > deadline:
                    finding = self.diagnose(self.log_text())
                    self.stop()
                    raise ServeTimeout(
                        f"vLLM did not become ready within {self.ready_timeout:.0f} s"
                        + (f": {finding.message}" if finding else ""),
                        hint=finding.hint if finding else f"see {self.log_path}",
                    )
                time.sleep(POLL_S)
        self.ready_seconds = time.monotonic() - self.started_at

    def _probe(self, client: httpx.Client) -> bool:
        try:
            health = client.get(f"{self.root_url}/health")
            if health.status_code != 200:
                return False
            models = client.get(f"{self.base_url}/models")
        except httpx.HTTPError:
            return False
        if models.status_code != 200:
            return False
        data = models.json().get("data") or []
        if not data:
            return False
        first = data[0]
        self.served_model = str(first.get("id"))
        length = first.get("max_model_len")
        self.served_max_model_len = int(length) if length is not None else None
        return True

    def death(self, wait: float = 0.0) -> ServeExited | None:
        """Why the process ended while serving (its exit code and the log's reason), or None while it
        runs; `wait` gives a process that is going down that long to finish."""
        process = self.process
        if process is None:
            return None
        deadline = time.monotonic() + wait
        while process.poll() is None:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)
        log = self.log_text()
        finding = self.diagnose(log)
        last = finding.message if finding else (last_error_line(log) or "no error line in the log")
        return ServeExited(
            f"vLLM exited with code {process.returncode} while serving: {last}",
            returncode=process.returncode,
            hint=finding.hint if finding else f"the whole log is in {self.log_path}",
        )

    def explain(self, gone: ServerGone) -> RopeguardError:
        """A run's `ServerGone` told as what happened to this server: it exited (code and reason from
        its log), or, still running, the run's own words."""
        death = self.death(wait=5.0)
        if death is None:
            return gone
        where = f"; the results so far are in {gone.results}" if gone.results else ""
        return ServeExited(death.message + where, returncode=death.returncode, hint=death.hint)

    def differences(self) -> list[str]:
        """What the running server does differently from the planned launch (empty when as planned)."""
        problems: list[str] = []
        planned_len = self.spec.max_model_len
        if planned_len is not None and self.served_max_model_len != planned_len:
            problems.append(
                f"the server reports max_model_len {self.served_max_model_len}, the plan says {planned_len}"
            )
        args = parse_non_default_args(self.log_text())
        if args is None:
            problems.append("the startup log has no `non-default args` line to check the overrides against")
            return problems
        if planned_len is not None and args.get("max_model_len") != planned_len:
            problems.append(
                f"vLLM parsed max_model_len {args.get('max_model_len')!r}, the plan says {planned_len}"
            )
        planned_overrides = self.spec.hf_overrides or None
        got = args.get("hf_overrides") or None
        if planned_overrides != got:
            problems.append(f"vLLM parsed hf_overrides {got!r}, the plan says {planned_overrides!r}")
        # The parallel layout (absent from the line when it is vLLM's default of 1).
        for name in ("tensor_parallel_size", "pipeline_parallel_size"):
            planned_size, parsed = getattr(self.spec, name), args.get(name, 1)
            if parsed != planned_size:
                problems.append(f"vLLM parsed {name} {parsed!r}, the plan says {planned_size}")
        return problems

    def verify(self) -> None:
        problems = self.differences()
        if problems:
            self.stop()
            raise ServeError(
                "the server did not come up as planned: " + "; ".join(problems),
                hint=f"the command was: {self.command}; its log is {self.log_path}",
            )

    def stop(self) -> int | None:
        """SIGTERM the process group, SIGKILL what is left after the grace period; reap the child."""
        _LIVE.discard(self)
        process = self.process
        if process is None:
            return None
        pgid = process.pid  # start_new_session makes the child its group's leader
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while time.monotonic() < deadline:
            process.poll()
            if process.returncode is not None and not group_members(pgid):
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        try:
            process.wait(timeout=self.stop_grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            process.wait()
        # Workers that outlived the leader still carry its group id.
        end = time.monotonic() + 5.0
        while group_members(pgid) and time.monotonic() < end:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            time.sleep(0.1)
        return process.returncode

    @property
    def pgid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


def start_server(
    what: LaunchSpec | PlanLike,
    run_dir: Path | str,
    *,
    runtime: Runtime | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
    verify: bool = True,
    echo: TextIO | None = sys.stderr,
) -> Server:
    """Start vLLM for a launch spec (or a plan: then on a free port of 127.0.0.1), wait until it
    serves, check it came up as planned; return the handle.

    Use it as a context manager (`with start_server(...) as server:`) so that it is always stopped.
    Raises ServeExited / ServeTimeout / ServeError with an actionable message when it does not come up.
    """
    spec = what if isinstance(what, LaunchSpec) else spec_from_plan(what, port=free_port())
    server = Server(spec, run_dir, runtime=runtime, ready_timeout=ready_timeout, echo=echo)
    server.start()
    if is_headless(spec):
        return server  # a worker node: nothing listens here; node 0's server is the one to check
    try:
        server.wait_ready()
        if verify:
            server.verify()
    except BaseException:
        server.stop()
        raise
    return server


def run_until_stopped(server: Server, poll: float = 1.0) -> None:
    """Block while the server runs; raise ServeExited when it dies. Ctrl-C / SIGTERM end the wait.

    The caller stops the server (`with server:`) when this returns or raises.
    """
    process = server.process
    if process is None:
        raise ServeError("the server was never started")
    while process.poll() is None:
        time.sleep(poll)
    death = server.death()
    assert death is not None
    raise death
