"""The report's headline (recall failing inside the length the server accepts), its title, the command
that really launched the server, and `report --json`."""

from __future__ import annotations

import html as html_lib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from reports_runfiles import all_right, collapsing, write_run

from ropeguard.cli import main
from ropeguard.reports.html import LAUNCH_MARK, SERVER_LOG, launched_command, write_report


def _text(html: str) -> list[str]:
    """The page's visible text, one entry per block element (what a reader sees, in order)."""
    body = html.split("<body>", 1)[1]
    blocks = re.split(r"</?(?:p|h1|h2|h3|li|tr|pre)[^>]*>", body)
    texts = (html_lib.unescape(re.sub(r"<[^>]+>", "", block)).strip() for block in blocks)
    return [text for text in texts if text]


def test_the_unscaled_report_leads_with_the_served_length_mismatch(tmp_path: Path) -> None:
    # Served 8192 (run.json), right to 2048, wrong at 4096: the silent failure.
    files = write_report(write_run(tmp_path / "unscaled", collapsing), title="demo run 1 of 2 (unscaled)")
    html = files.html.read_text()
    first = _text(html)[0]
    assert first.startswith("Warning: Served max length 8k (8192 tokens), but recall holds (>= 0.90) only to")
    assert "2k (2048 tokens)" in first
    assert files.headline is not None and files.headline in first
    warnings = html_lib.unescape(html.split("<h2>Warnings</h2>", 1)[1])
    assert "<p>None.</p>" not in warnings and files.headline in warnings
    assert "recall beyond it is unknown" not in warnings  # a measured failure says more


def test_no_headline_when_recall_holds_or_was_not_measured_past_it(tmp_path: Path) -> None:
    files = write_report(write_run(tmp_path / "planned", all_right))
    html = files.html.read_text()
    assert files.headline is None and "Served max length" not in html
    # The grid stopped at 4096 of the 8192 served: unknown beyond, which is a note, not the headline.
    assert "measured up to 4k (4096 tokens) of the served max length 8k (8192 tokens)" in html
    # A server that accepts only what was measured: nothing to warn about.
    short = write_report(write_run(tmp_path / "short", all_right), served_max=4096)
    assert "<h2>Warnings</h2><p>None.</p>" in short.html.read_text()


def test_two_configurations_get_distinct_titles_in_the_page_and_the_heatmap(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", all_right)
    first = write_report(run, html=tmp_path / "a.html", png=tmp_path / "a.png", title="run 1 (unscaled)")
    second = write_report(run, html=tmp_path / "b.html", png=tmp_path / "b.png", title="run 2 (YaRN x4)")
    for files, title in ((first, "run 1 (unscaled)"), (second, "run 2 (YaRN x4)")):
        html = files.html.read_text()
        assert f"<title>{title}: tiny</title>" in html.replace("&quot;", '"')
        assert f"<h1>{title}</h1>" in html
    assert first.png is not None and second.png is not None
    assert first.png.read_bytes() != second.png.read_bytes()  # same data, different titles


def test_the_report_shows_the_command_that_ran_not_the_plans(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", all_right)
    plan_command = ["vllm", "serve", "m", "--port", "8000"]
    (run / "plan.json").write_text(json.dumps({"command": plan_command, "factor": 4.0}))
    html = write_report(run).html.read_text()
    assert "from the plan; no launch of this run was recorded" in html and "--port 8000" in html
    (run / SERVER_LOG).write_text(
        f"{LAUNCH_MARK}vllm serve m --port 40001\nINFO first start\n"
        f"{LAUNCH_MARK}vllm serve m --port 40002 --max-model-len 8192\nINFO started again\n"
    )
    html = write_report(run).html.read_text()
    assert "as launched, from server.log" in html
    assert "vllm serve m --port 40002 --max-model-len 8192" in html  # the last start
    assert "--port 8000" not in html and "--port 40001" not in html


def test_the_launch_line_the_report_reads_is_the_one_the_server_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ropeguard.serve import LaunchSpec, Runtime, Server, free_port

    class Process:
        pid = 4242424

    def popen(*args: Any, **kwargs: Any) -> Process:
        return Process()

    runtime = Runtime.detect()
    if runtime.distribution is None:
        pytest.skip("no vLLM installed: Server.start refuses before it logs")
    monkeypatch.setattr(subprocess, "Popen", popen)
    server = Server(LaunchSpec(model="m", port=free_port(), max_model_len=8192), tmp_path, runtime=runtime)
    try:
        server.start()
    finally:
        server.process = None  # nothing to signal: the process was never real (and its pid is
        server.stop()  # above Linux's pid_max); stop() only takes it off the exit-time list
    launched = launched_command(tmp_path)
    assert launched == server.command
    assert f"--port {server.spec.port}" in launched


def test_report_json_is_one_document_with_the_headline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path / "unscaled", collapsing)
    assert main(["report", str(run), "--json", "--title", "unscaled"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["title"] == "unscaled"
    assert document["html"] == str(run / "report.html") and Path(document["png"]).exists()
    assert document["headline"].startswith("Served max length 8k (8192 tokens)")
    assert document["effective_context"] == 2048 and document["served_max_length"] == 8192
    assert document["effective_context_text"][0].startswith("effective context: 2k")
    # Without --json the terminal report leads with the same headline.
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"warning: {document['headline']}"
    assert out[-2:] == [f"wrote {run / 'report.html'}", f"wrote {run / 'heatmap.png'}"]


def test_the_verdict_box_is_a_block_of_its_own(tmp_path: Path) -> None:
    # An inline box (a <span> with padding and a background) breaks into pieces when its line wraps.
    baseline = write_run(tmp_path / "unscaled", collapsing)
    html = write_report(write_run(tmp_path / "scaled", all_right), baseline=baseline).html.read_text()
    assert html.count('class="verdict"') >= 2
    assert not re.search(r'<span[^>]*class="verdict"', html)
    assert re.search(r"\.verdict\{display:block", html)
