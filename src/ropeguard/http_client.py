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
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx

from ropeguard.redaction import remember_secret

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


def auth_headers(api_key: str | None = None) -> dict[str, str]:
    """The Authorization header for `api_key`, else for the key in the environment (none: {}).

    The key is remembered as a secret, so whatever a server echoes back is redacted of it."""
    key = api_key if api_key is not None else api_key_from_env()
    if key:
        remember_secret(key)
    return {"Authorization": f"Bearer {key}"} if key else {}


def public_url(url: str) -> str:
    """The URL as it may be stored or printed: no user:password@, no query string, no fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


# Transport errors that mean nothing answers at the other end (as opposed to a slow answer).
_GONE: tuple[tuple[type[httpx.TransportError], str], ...] = (
    (httpx.ConnectError, "connection refused"),
    (httpx.ReadError, "connection reset"),
    (httpx.WriteError, "connection reset"),
    (httpx.RemoteProtocolError, "connection closed mid-answer"),
)


def connection_lost(error: httpx.HTTPError) -> str | None:
    """'connection refused' / 'connection reset' / ... when `error` says the server is not there."""
    for kind, words in _GONE:
        if isinstance(error, kind):
            return words
    return None


def stopped_answering(url: str, how: str) -> str:
    """The one line that says a server died, naming it (credentials and query dropped)."""
    return f"the server at {public_url(server_root(url))} stopped answering ({how})"


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
