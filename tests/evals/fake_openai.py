"""A small OpenAI-compatible server for run-side tests that need no vLLM.

It serves /v1/models, /version, /tokenize (counted with a real tokenizer: the bundled model's
character tokenizer through transformers, so prompt fitting is exact) and /v1/chat/completions, whose
answer reads the pass key back out of the prompt (a model with perfect recall). Knobs let a test:

- `fault(n, body)`: answer the n-th completion (1-based) with (status, text) instead;
- `hold`: an Event every completion waits on (a run that is still busy);
- `die_after`: after that many completions, close the listening socket (the server died: every
  later connection is refused);
- `required_key`: answer 401 to /v1 requests without `Authorization: Bearer KEY`;
- `tokenize_fault(n)`: answer the n-th /tokenize call (1-based) with (status, text) instead;
- `model`: the name it serves;
- `nll`: position -> NLL (nats) of the prompt token there: /v1/completions then answers vLLM's
  `prompt_logprobs` with that curve (the probe's server path); /tokenize always returns the ids.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ropeguard.evals.tokenization import LocalTokenizer

MODEL = "tiny-fake"
PASS_KEY = re.compile(r"The pass key is (\d+)\.")
Fault = Callable[[int, dict[str, Any]], "tuple[int, str] | None"]


@dataclass
class FakeOpenAI:
    tokenizer: LocalTokenizer
    max_model_len: int = 16384
    fault: Fault = lambda n, body: None
    hold: threading.Event | None = None
    die_after: int | None = None
    required_key: str | None = None
    tokenize_fault: Callable[[int], tuple[int, str] | None] = lambda n: None
    model: str = MODEL
    nll: Callable[[int], float] | None = None
    completions: int = 0
    tokenizes: int = 0
    dead: bool = False
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _count(self, body: dict[str, Any]) -> int:
        with self._lock:  # one tokenizer shared by the handler threads
            if "messages" in body:
                return self.tokenizer.count_chat(body["messages"], body.get("chat_template_kwargs"))
            return self.tokenizer.count_text(str(body.get("prompt", "")))

    def _tokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        if "messages" in body:
            return {"count": self._count(body)}
        with self._lock:
            ids = self.tokenizer.text_ids(str(body.get("prompt", "")))
        return {"count": len(ids), "tokens": ids}

    def _prompt_logprobs(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.nll is not None
        ids = body["prompt"]
        # vLLM's shape: no prediction for position 0, then {token id: {logprob}} per prompt token.
        logprobs = [None] + [{str(t): {"logprob": -self.nll(i), "rank": 1}} for i, t in enumerate(ids) if i]
        return {"choices": [{"text": "x", "index": 0, "prompt_logprobs": logprobs}]}

    def _completion(self, body: dict[str, Any]) -> tuple[int, str]:
        with self._lock:
            self.completions += 1
            n = self.completions
        if self.hold is not None:
            self.hold.wait(timeout=60)
        injected = self.fault(n, body)
        if injected is not None:
            return injected
        prompt = json.dumps(body.get("messages") or body.get("prompt"))
        found = PASS_KEY.search(prompt)
        answer = found.group(1) if found else "I do not know."
        reply = {
            "choices": [{"message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": self._count(body), "completion_tokens": 3},
        }
        if self.die_after is not None and n >= self.die_after:
            self.kill()  # this answer still goes out; nothing after it does
        return 200, json.dumps(reply)

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _reply(self, status: int, text: str) -> None:
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _authorized(self) -> bool:
                if fake.required_key is None or not self.path.startswith("/v1"):
                    return True
                return self.headers.get("Authorization") == f"Bearer {fake.required_key}"

            def _dropped(self) -> bool:
                if fake.dead:
                    self.close_connection = True  # hang up without an answer, as a dead process does
                return fake.dead

            def do_GET(self) -> None:
                if self._dropped():
                    return
                if not self._authorized():
                    self._reply(401, json.dumps({"error": "Unauthorized"}))
                elif self.path == "/v1/models":
                    entry = {"id": fake.model, "object": "model", "max_model_len": fake.max_model_len}
                    self._reply(200, json.dumps({"object": "list", "data": [entry]}))
                elif self.path == "/health":
                    self._reply(200, "")
                elif self.path == "/version":
                    self._reply(200, json.dumps({"version": "0.0-fake"}))
                else:
                    self._reply(404, json.dumps({"error": "not found"}))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self._dropped():
                    return
                if not self._authorized():
                    self._reply(401, json.dumps({"error": "Unauthorized"}))
                elif self.path == "/tokenize":
                    with fake._lock:
                        fake.tokenizes += 1
                        n = fake.tokenizes
                    injected = fake.tokenize_fault(n)
                    if injected is not None:
                        self._reply(*injected)
                    else:
                        self._reply(200, json.dumps(fake._tokenize(body)))
                elif self.path == "/v1/chat/completions":
                    self._reply(*fake._completion(body))
                elif self.path == "/v1/completions" and fake.nll is not None:
                    self._reply(200, json.dumps(fake._prompt_logprobs(body)))
                else:
                    self._reply(404, json.dumps({"error": "not found"}))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def kill(self) -> None:
        """Die (from any thread, the handlers' included): open connections are dropped unanswered,
        and once the listener is closed new ones are refused."""
        self.dead = True
        server, self._server = self._server, None
        if server is not None:

            def close() -> None:
                server.shutdown()
                server.server_close()

            threading.Thread(target=close, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
