"""`eval` with two `--base-url` replicas spreads its requests over two real vLLM CPU servers.

The two session servers serve the same model folder (one with a rope override, which does not matter
for load spreading), so they stand in for two replicas without starting more servers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

SRC = Path(__file__).resolve().parents[2] / "src"


def _finished_requests(base_url: str) -> float:
    """vLLM's own count of finished requests (Prometheus `vllm:request_success_total`, all reasons)."""
    text = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("vllm:request_success_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_two_replicas_share_the_grid(
    vllm_unscaled: str, vllm_yarn4: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    before = [_finished_requests(url) for url in (vllm_unscaled, vllm_yarn4)]
    model = httpx.get(f"{vllm_unscaled}/models", timeout=10).json()["data"][0]["id"]
    out = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable, "-m", "ropeguard", "eval",
            "--base-url", vllm_unscaled, "--base-url", vllm_yarn4, "--model", model,
            "--lengths", "1k", "--depths", "0,0.25,0.5,0.75,1", "--trials", "2",
            "--out", str(out), "--json",
        ],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(SRC)},
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    summary = json.loads(done.stdout)
    assert summary["lengths"]["1024"]["errors"] == 0
    after = [_finished_requests(url) for url in (vllm_unscaled, vllm_yarn4)]
    served = [a - b for a, b in zip(after, before, strict=True)]
    assert all(count >= 1 for count in served), served
    replicas = [json.loads(line)["replica"] for line in (out / "trials.jsonl").read_text().splitlines()]
    assert len(replicas) == 10
    assert set(replicas) == {0, 1}
    assert sum(served) >= 10
