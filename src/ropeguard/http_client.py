"""The one way ropeguard makes an HTTP client for a served model (eval, probe, serve's readiness check).

- URLs: users pass the OpenAI base URL (`http://host:8000/v1`); vLLM serves `/tokenize`, `/version`,
  `/metrics` and `/health` at the server root, which `server_root` gives.
- Auth: an API key is sent as a Bearer header, never as part of a URL, a record or a log line. It is
  given explicitly (serve knows the key it started vLLM with) or read from the environment
  (ROPEGUARD_API_KEY, else OPENAI_API_KEY).
- Timeouts are always set (httpx's default of 5 s is too short for a long prefill, and no timeout
  at all would hang a run on a dead server).
- Tests inject an `httpx.MockTransport` instead of patching internals.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import httpx

API_KEY_VARIABLES = ("ROPEGUARD_API_KEY", "OPENAI_API_KEY")
DEFAULT_TIMEOUT_S = 60.0


def server_root(base_url: str) -> str:
    """http://host:8000/v1 -> http://host:8000 (a URL without /v1 is already the root)."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def api_key_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The first non-empty of ROPEGUARD_API_KEY, OPENAI_API_KEY."""
    source = os.environ if env is None else env
    for name in API_KEY_VARIABLES:
        value = source.get(name)
        if value:
            return value
    return None


def api_key_from_argv(
    argv: Sequence[str], env: Mapping[str, str], *, variable: str = "VLLM_API_KEY"
) -> str | None:
    """The key a vLLM server was started with: `--api-key KEY` / `--api-key=KEY`, else $VLLM_API_KEY."""
    for index, word in enumerate(argv):
        if word == "--api-key" and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith("--api-key="):
            return word.split("=", 1)[1]
    return env.get(variable) or None


def auth_headers(api_key: str | None = None) -> dict[str, str]:
    """The Authorization header for `api_key`, else for the key in the environment (none: {})."""
    key = api_key if api_key is not None else api_key_from_env()
    return {"Authorization": f"Bearer {key}"} if key else {}


def client(
    *,
    api_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A synchronous client; `headers` given replace the auth lookup (the caller already chose them)."""
    chosen = dict(headers) if headers is not None else auth_headers(api_key)
    return httpx.Client(headers=chosen, timeout=timeout, transport=transport)


def async_client(
    *,
    api_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    transport: httpx.AsyncBaseTransport | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.AsyncClient:
    """The asynchronous twin of `client`, for many requests in flight."""
    chosen = dict(headers) if headers is not None else auth_headers(api_key)
    return httpx.AsyncClient(
        headers=chosen, timeout=timeout, transport=transport, limits=limits or httpx.Limits()
    )
