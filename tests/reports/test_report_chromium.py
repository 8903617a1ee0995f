"""Render the HTML report in a real headless Chromium and look at the pixels."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from reports_probefiles import synthetic_probe
from reports_runfiles import collapsing, write_run

from ropeguard.probe.runner import write_probe
from ropeguard.reports.html import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(html: Path, out: Path, width: int = 1100, height: int = 2200) -> None:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="ropeguard-chromium-") as profile:
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--screenshot={out}",
                f"--window-size={width},{height}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/test.sh installs it with apt-get as root)"
)
def test_report_renders_in_chromium_with_its_heatmap(tmp_path: Path) -> None:
    import matplotlib.image

    run_dir = write_run(tmp_path / "run", collapsing, model="tiny <b>bold</b>")
    write_probe(run_dir, synthetic_probe())
    html = write_report(run_dir).html
    shot = tmp_path / "report.png"
    screenshot(html, shot)
    pixels = matplotlib.image.imread(shot)[:, :, :3]
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    # Not blank: a white page has no variance.
    assert float(pixels.std()) > 0.05

    def count(rgb: tuple[int, int, int], tolerance: float = 0.02) -> int:
        target = [c / 255 for c in rgb]
        return int(((abs(pixels - target) < tolerance).all(axis=2)).sum())

    # The heatmap's cells: 6 green (lengths 1024, 2048) and 3 red (4096), each about 62 x 28 px.
    green, red = count((26, 152, 80)), count((215, 48, 39))
    assert green > 6 * 62 * 28 * 0.6, green
    assert red > 3 * 62 * 28 * 0.6, red
    # The heatmap sits above the other charts: the first green cell row is in the page's top third.
    rows = ((abs(pixels - [26 / 255, 152 / 255, 80 / 255]) < 0.02).all(axis=2)).any(axis=1).nonzero()[0]
    assert rows.min() < pixels.shape[0] / 3
    # The probe curve is drawn in the first curve colour (#4c78a8).
    assert count((0x4C, 0x78, 0xA8), 0.06) > 200


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/test.sh installs it with apt-get as root)"
)
def test_verdict_and_headline_boxes_are_whole_blocks_in_a_narrow_window(tmp_path: Path) -> None:
    """A verdict box drawn inline (a <span> with a background inside a sentence) starts mid-line and
    breaks into pieces where the line wraps; as a block, every row of its background starts at the
    same left edge, the page margin."""
    import matplotlib.image
    from reports_runfiles import all_right

    baseline = write_run(tmp_path / "unscaled", collapsing)
    scaled = write_run(tmp_path / "a-long-run-folder-name-that-makes-the-comparison-sentence-wrap", all_right)
    html = write_report(scaled, baseline=baseline).html
    unscaled_html = write_report(baseline).html  # served 8192, fails at 4096: it has a headline
    for page, colour in ((html, (0xE8, 0xEE, 0xF5)), (unscaled_html, (0xFF, 0xF3, 0xE0))):
        shot = tmp_path / f"{page.parent.name[:8]}.png"
        screenshot(page, shot, width=520, height=3600)
        pixels = matplotlib.image.imread(shot)[:, :, :3]
        inside = (abs(pixels - [c / 255 for c in colour]) < 0.01).all(axis=2)
        rows = inside.any(axis=1).nonzero()[0]
        assert len(rows) > 20, page  # the boxes are there
        left_edges = {int(inside[row].nonzero()[0].min()) for row in rows}
        # Text inside a box cuts its background, so a row's first box pixel may sit a little right
        # of the edge; a box fragment that starts mid-line would sit far right of it.
        assert max(left_edges) - min(left_edges) < 20, sorted(left_edges)
