"""The HTTP client factory: URL roots, the API key (explicit, environment, a server's argv), transports."""

from __future__ import annotations

import httpx
import pytest

from ropeguard import http_client
from ropeguard.probe.sources import open_http_source


@pytest.mark.parametrize(
    ("base_url", "root"),
    [
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://host/proxy/v1", "https://host/proxy"),
        ("http://host/v10", "http://host/v10"),
    ],
)
def test_server_root(base_url: str, root: str) -> None:
    assert http_client.server_root(base_url) == root


def _recording() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [{"id": "served-model"}]})

    return httpx.MockTransport(handle), seen


def test_client_sends_the_key_it_is_given_else_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ROPEGUARD_API_KEY", "sk-env")
    transport, seen = _recording()
    with http_client.client(transport=transport) as client:
        client.get("http://fake/v1/models")
    with http_client.client(api_key="sk-given", transport=transport) as client:
        client.get("http://fake/v1/models")
    with http_client.client(headers={}, transport=transport) as client:
        client.get("http://fake/v1/models")
    assert [r.headers.get("authorization") for r in seen] == ["Bearer sk-env", "Bearer sk-given", None]


def test_client_without_a_key_sends_no_header(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in http_client.API_KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    transport, seen = _recording()
    with http_client.client(transport=transport, timeout=3.0) as client:
        assert client.timeout.read == 3.0
        client.get("http://fake/v1/models")
    assert "authorization" not in seen[0].headers


def test_the_probe_sends_the_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROPEGUARD_API_KEY", "sk-probe")
    transport, seen = _recording()
    source = open_http_source("http://fake/v1", transport=transport)
    assert source.model == "served-model"
    assert seen[0].url == "http://fake/v1/models"
    assert seen[0].headers["authorization"] == "Bearer sk-probe"
