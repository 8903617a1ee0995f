"""A small HTTP proxy in front of a real vLLM server that injects faults on chosen requests.

Everything is forwarded to the real server unless a rule says otherwise, so the trials that get
through are real answers. Rules see the n-th completion request (1-based) and may answer 429/500,
stall past the client's timeout, or rewrite `usage.prompt_tokens` (a server that cut the prompt).
Every request's Authorization header is recorded so tests can check what the client sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

# A rule gets (n-th completion request, parsed JSON body) and returns None to forward, or an action.
Rule = Callable[[int, dict[str, object]], "Fault | None"]


@dataclass
class Fault:
    status: int | None = None  # answer this status without forwarding
    stall_s: float = 0.0  # sleep first (past the client's timeout)
    usage_prompt_tokens_delta: int = 0  # forward, then shift usage.prompt_tokens by this much


@dataclass
class FaultProxy:
    upstream: str  # http://127.0.0.1:PORT (server root, no /v1)
    rule: Rule = lambda n, body: None
    authorizations: list[str] = field(default_factory=list)
    completions: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.authorizations.append(self.headers.get("Authorization") or "")
                fault = None
                if self.path.endswith("/completions"):
                    with proxy._lock:
                        proxy.completions += 1
                        n = proxy.completions
                    fault = proxy.rule(n, json.loads(body or b"{}"))
                if fault is not None and fault.stall_s:
                    time.sleep(fault.stall_s)
                if fault is not None and fault.status is not None:
                    self._reply(fault.status, json.dumps({"error": "injected"}).encode())
                    return
                headers = {"Content-Type": self.headers.get("Content-Type") or "application/json"}
                response = httpx.request(
                    method, proxy.upstream + self.path, content=body, headers=headers, timeout=600
                )
                content = response.content
                if fault is not None and fault.usage_prompt_tokens_delta:
                    data = response.json()
                    data["usage"]["prompt_tokens"] += fault.usage_prompt_tokens_delta
                    content = json.dumps(data).encode()
                self._reply(response.status_code, content)

            def _reply(self, status: int, content: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): fine

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def v1_url(url: str) -> str:
    """The fixtures' server URL as an OpenAI base URL (ending in /v1)."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def root_url(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url
