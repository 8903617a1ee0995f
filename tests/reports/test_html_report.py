from __future__ import annotations

import re
from pathlib import Path

import pytest
from reports_probefiles import synthetic_probe
from reports_runfiles import collapsing, write_run

from ropeguard.cli import main
from ropeguard.evals.loader import load_run
from ropeguard.evals.results import TrialStatus
from ropeguard.probe.runner import write_probe
from ropeguard.reports.html import render_html, write_report

SCRIPT = "<script>alert(1)</script>"


def test_strings_from_models_servers_and_configs_are_escaped(tmp_path: Path) -> None:
    run_dir = write_run(
        tmp_path / "run",
        collapsing,
        model=f"evil{SCRIPT}",
        answer=f"the key is {SCRIPT}",
        hf_overrides={"rope_parameters": {"rope_type": SCRIPT}},
    )
    write_probe(run_dir, synthetic_probe(model=f"probe{SCRIPT}"))
    (run_dir / "plan.json").write_text(
        '{"command": ["python", "-m", "vllm", "--model", "<script>x</script>"], "warnings": ["<script>w"]}'
    )
    html = write_report(run_dir).html.read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text
    assert "evil&lt;script&gt;" in html
    # No external requests: nothing is fetched over the network or from files.
    assert not re.search(r"(src|href)\s*=", html, re.IGNORECASE)
    assert "http://127.0.0.1" not in re.sub(r"<pre>.*?</pre>|<td[^>]*>[^<]*</td>", "", html)


def test_report_has_heatmap_intervals_probe_settings_versions_and_warnings(tmp_path: Path) -> None:
    def some_broken(length: int, depth: float, index: int) -> TrialStatus:
        if length == 4096 and index == 0:
            return "invalid" if depth == 0.0 else "error"
        return collapsing(length, depth, index)

    run_dir = write_run(tmp_path / "run", some_broken, hf_overrides={"rope_parameters": {"factor": 4.0}})
    write_probe(run_dir, synthetic_probe())
    html = render_html(
        load_run(run_dir), synthetic_probe(), {"command": ["vllm", "serve", "m"], "factor": 4.0}
    )
    assert html.count('class="heatmap"') == 1
    assert html.count('class="intervals"') == 1
    assert html.count('class="nll"') == 1
    # 3 lengths x 3 depths cells; the 1024 row is all right (green), the 4096 row all wrong (red).
    assert html.count("<rect ") == 9
    assert len(re.findall(r'<rect [^>]*fill="#1a9850"', html)) == 6
    assert len(re.findall(r'<rect [^>]*fill="#d73027"', html)) == 3
    assert "degradation starts near" in html
    assert "&quot;factor&quot;: 4.0" in html
    assert "vllm serve m" in html
    assert "1 invalid trial(s)" in html and "2 trial(s) failed with an error" in html
    assert "0.32.0" in html


def test_png_heatmap_has_the_scale_colours(tmp_path: Path) -> None:
    import matplotlib.image

    files = write_report(write_run(tmp_path / "run", collapsing))
    assert files.png is not None
    pixels = matplotlib.image.imread(files.png)[:, :, :3]
    red = ((abs(pixels - [215 / 255, 48 / 255, 39 / 255]) < 0.03).all(axis=2)).sum()
    green = ((abs(pixels - [26 / 255, 152 / 255, 80 / 255]) < 0.03).all(axis=2)).sum()
    assert red > 500 and green > 1000


def test_probe_only_directory_renders_without_heatmap(tmp_path: Path) -> None:
    write_probe(tmp_path, synthetic_probe())
    files = write_report(tmp_path)
    html = files.html.read_text()
    assert files.png is None
    assert 'class="nll"' in html and 'class="heatmap"' not in html


def test_report_cli_writes_files_and_refuses_an_empty_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = write_run(tmp_path / "run", collapsing)
    assert (
        main(["report", str(run_dir), "--html", str(tmp_path / "r.html"), "--png", str(tmp_path / "h.png")])
        == 0
    )
    assert (tmp_path / "r.html").stat().st_size > 2000 and (tmp_path / "h.png").stat().st_size > 2000
    capsys.readouterr()
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "neither an eval run" in capsys.readouterr().err


def test_report_with_a_baseline_shows_the_paired_verdict_both_curves_and_the_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ropeguard.evals.results import TrialStatus as Status

    def all_right(length: int, depth: float, index: int) -> Status:
        return "ok"

    baseline = write_run(tmp_path / "unscaled", collapsing, model="tiny-unscaled")
    write_probe(baseline, synthetic_probe(rise_from=2600, floor=0.10))
    scaled = write_run(tmp_path / "scaled", all_right, model="tiny-yarn")
    write_probe(scaled, synthetic_probe(rise_from=None, floor=0.12))
    assert main(["report", str(scaled), "--baseline", str(baseline), "--within", "2k"]) == 0
    html = (scaled / "report.html").read_text()
    assert "B vs A: <b>better</b>" in html
    assert html.count("<polyline") == 2
    assert "measured cost of the scaling on inputs &lt;= 2048 tokens: +0.020 nats/token" in html
    assert "recall 1024: 1.00 vs 1.00, 2048: 1.00 vs 1.00" in html
