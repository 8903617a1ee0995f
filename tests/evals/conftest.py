"""Fixtures shared by the certify tests that run against fake OpenAI-compatible servers."""

from __future__ import annotations

import subprocess

import pytest

from ropeguard.demo.tokenizer import write_tokenizer
from ropeguard.evals.tokenization import LocalTokenizer
from ropeguard.serve.server import Server


@pytest.fixture(scope="module")
def char_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> LocalTokenizer:
    """The bundled model's character tokenizer, through transformers (what the fakes count with)."""
    folder = tmp_path_factory.mktemp("tok")
    write_tokenizer(folder, model_max_length=65536)
    return LocalTokenizer(str(folder))


@pytest.fixture
def nothing_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """No API key in the environment unless a test sets one; starting a server or a process fails."""
    for name in ("ROPEGUARD_API_KEY", "OPENAI_API_KEY", "VLLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    def start(self: Server) -> Server:
        raise AssertionError("certify started a server")

    def popen(*args: object, **kwargs: object) -> None:
        raise AssertionError("certify started a process")

    monkeypatch.setattr(Server, "start", start)
    monkeypatch.setattr(subprocess, "Popen", popen)
