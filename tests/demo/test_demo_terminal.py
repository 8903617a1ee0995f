"""What `ropeguard demo` prints and writes, on stored runs (demo_runfiles) in place of the two vLLM
servers: the story at 80 columns, every sentence from the measured numbers, distinct report titles,
the headline on the unscaled report, the launched commands, and a next step."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from demo_runfiles import PLANNED, UNSCALED, fake_backend
from rich.console import Console

from ropeguard.cli import main
from ropeguard.demo import story


@pytest.fixture
def stored_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    def popen(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo started a process")

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(story, "choose_backend", lambda backend: "vllm")
    monkeypatch.setattr(story, "choose_is_cpu", lambda: True)
    monkeypatch.setattr(story, "_run_vllm", fake_backend())


def _printed(result: story.DemoResult, width: int = 80) -> list[str]:
    out = io.StringIO()
    story.render_demo(result, Console(width=width, file=out, color_system=None))
    return out.getvalue().splitlines()


def test_the_story_at_80_columns(stored_demo: None, tmp_path: Path) -> None:
    result = story.run_demo(tmp_path / "demo", echo=None)
    lines = _printed(result)
    text = "\n".join(lines)
    # Paths (one word each, on lines of their own) are printed whole, to copy; nothing else passes 80.
    assert all(len(line) <= 80 or len(line.split()) == 1 for line in lines), text
    assert sum(len(line) > 80 for line in lines) <= 3  # the two reports and the output folder
    flat = " ".join(text.split())
    assert "recall of a passkey (a number hidden once in long filler text" in flat
    assert text.count("needle depth (% into the prompt)") == 2 and text.count("prompt length") >= 2
    # The 200-OK sentence, with the numbers of the stored runs (10 prompts per length).
    assert (
        "every one of the 40 requests got 200 OK, yet recall stays >= 0.90 up to 2k, then falls: "
        f"{UNSCALED[4096] / 10:.2f} at 4k, {UNSCALED[8192] / 10:.2f} at 8k" in flat
    )
    assert f"recall {PLANNED[8192] / 10:.2f} at 8192 tokens (vs {UNSCALED[8192] / 10:.2f} unscaled)" in flat
    # The passing run's range does not read as a failure.
    assert "none .." not in flat and "not proven with 10 prompts per length" in flat
    assert "warning: Served max length 8k (8192 tokens), but recall holds (>= 0.90) only to 2k" in flat
    assert flat.count("warning:") == 1  # the planned server has nothing to warn about
    # Both launches, as they ran, and the next commands for the reader's own model.
    assert "--port 41234" in flat and "--port 41235" in flat
    assert "ropeguard certify YOUR_MODEL --target" in text and "ropeguard plan YOUR_MODEL" in text
    assert lines[-1].lstrip().startswith("ropeguard certify YOUR_MODEL")


@pytest.mark.parametrize(
    ("unscaled", "expected"),
    [
        ({1024: 10, 2048: 10, 4096: 10, 8192: 3}, "recall stays >= 0.90 up to 4k, then falls: 0.30 at 8k"),
        ({1024: 10, 2048: 7, 4096: 9, 8192: 0}, "up to 1k, then falls: 0.70 at 2k, 0.90 at 4k, 0.00 at 8k"),
        ({1024: 10, 2048: 10, 4096: 10, 8192: 10}, "and recall held this time (1.00 at 8192)"),
    ],
)
def test_where_recall_fails_is_said_from_the_measured_table(
    unscaled: dict[int, int], expected: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(story, "choose_backend", lambda backend: "vllm")
    monkeypatch.setattr(story, "choose_is_cpu", lambda: True)
    monkeypatch.setattr(story, "_run_vllm", fake_backend(unscaled=unscaled))
    result = story.run_demo(tmp_path / "demo", echo=None)
    flat = " ".join(" ".join(_printed(result, width=200)).split())
    assert expected in flat
    assert "past 2048" not in flat


def test_the_two_reports_are_told_apart_and_the_unscaled_one_leads_with_the_mismatch(
    stored_demo: None, tmp_path: Path
) -> None:
    result = story.run_demo(tmp_path / "demo", echo=None)
    unscaled = Path(result.unscaled.report_html or "").read_text()
    planned = Path(result.planned.report_html or "").read_text()
    assert "<h1>ropeguard demo, run 1 of 2 (unscaled): as the config invites" in unscaled
    assert "<h1>ropeguard demo, run 2 of 2 (YaRN x4): as ropeguard plans it" in planned
    body = unscaled.split("<body>", 1)[1]
    assert body.startswith('<p class="headline"><b>Warning: Served max length 8k (8192 tokens)')
    assert 'class="headline"' not in planned
    # The command each server really ran (its own port), not the plan's example on port 8000.
    assert "--port 41234" in unscaled and "--port 41235" in planned and "--port 8000" not in planned
    stored = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert stored["unscaled"]["report_headline"].startswith("Served max length 8k")
    assert stored["planned"]["report_headline"] is None


def test_demo_json_is_one_document(
    stored_demo: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path / "demo"), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["unscaled"]["answered"] == 40 and document["unscaled"]["refused"] == 0


def test_refused_prompts_are_not_counted_as_200_ok(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from demo_runfiles import write_side

    from ropeguard.evals.loader import load_run

    def run_vllm(model: Path, plan: object, out: Path, echo: object, name: object) -> tuple:
        first = write_side(out / "unscaled", UNSCALED, refused_at=8192)
        second = write_side(out / "planned", PLANNED, port=41235)
        return load_run(first), load_run(second), "vllm serve a", "vllm serve b"

    monkeypatch.setattr(story, "choose_backend", lambda backend: "vllm")
    monkeypatch.setattr(story, "choose_is_cpu", lambda: True)
    monkeypatch.setattr(story, "_run_vllm", run_vllm)
    result = story.run_demo(tmp_path / "demo", echo=None)
    assert (result.unscaled.answered, result.unscaled.refused) == (30, 10)
    flat = " ".join(" ".join(_printed(result, width=200)).split())
    assert "30 of 40 prompts answered with 200 OK, 10 refused, 0 errors" in flat
    assert "every one of" not in flat and "30 of the 40 requests got 200 OK" in flat


def test_demo_where_json_is_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    from ropeguard.demo import model_dir

    assert main(["demo", "--where", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"model_dir": str(model_dir())}
    assert main(["demo", "--where"]) == 0
    assert capsys.readouterr().out == f"{model_dir()}\n"
