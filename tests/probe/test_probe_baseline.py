"""The default baseline follows the bucket size and the native window; the claimed window is checked."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ropeguard.cli import main
from ropeguard.probe import analyse, probe_source
from ropeguard.probe.detection import BASELINE_SKIP, default_baseline
from ropeguard.probe.results import ProbeMethod

WINDOW = 8192


@dataclass
class SyntheticSource:
    """One token per character; an NLL curve flat at 2 nats (noisy), high over the first 64 tokens
    (little context), rising linearly past `window` by 6 nats over the next `window` tokens."""

    window: int = WINDOW
    rise: float = 6.0
    method: ProbeMethod = "transformers"
    model: str = "synthetic"
    calls: list[int] = field(default_factory=list)

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def prompt_nll(self, token_ids: Sequence[int]) -> list[float | None]:
        self.calls.append(len(token_ids))
        noise = random.Random(0)
        out: list[float | None] = [None]
        for position in range(1, len(token_ids)):
            value = 2.0 + noise.gauss(0.0, 0.2) + (3.0 if position < 64 else 0.0)
            if position >= self.window:
                value += self.rise * (position - self.window) / self.window
            out.append(value)
        return out

    def close(self) -> None:
        return None


DOCUMENT = "x" * (2 * WINDOW)


@pytest.mark.parametrize("bucket", [128, 256, 1024, 2048])
def test_any_bucket_size_finds_a_rise_of_6_nats_past_the_window(bucket: int) -> None:
    result = probe_source(SyntheticSource(), [2 * WINDOW], document=DOCUMENT, bucket=bucket)
    assert result.baseline is not None and result.baseline.buckets >= 2
    assert result.baseline.start >= BASELINE_SKIP and result.baseline.end <= WINDOW
    curve = result.curves[0]
    assert curve.degradation_start is not None
    # The rise begins at the window: the bucket holding it, or (for small buckets, where the first
    # few hundred risen tokens stay under the threshold) one of the next few.
    assert WINDOW - bucket <= curve.degradation_start <= WINDOW + max(bucket, 512)
    assert curve.max_rise is not None and curve.max_rise > 5.0


def test_the_old_fixed_baseline_found_nothing_with_1024_token_buckets() -> None:
    """What issue 10 saw: 512:1536 holds no whole 1024-token bucket, so nothing could be detected."""
    result = probe_source(
        SyntheticSource(), [2 * WINDOW], document=DOCUMENT, bucket=1024, baseline_region=(512, 1536)
    )
    assert result.baseline is None and result.curves[0].degradation_start is None
    assert any(w.startswith("baseline: no curve covers") for w in result.warnings)
    # Re-analysed with the default region (what `probe` now uses), the rise is found.
    again = analyse(result.model_copy(update={"baseline": None}))
    assert again.curves[0].degradation_start == WINDOW


def test_default_baseline_values() -> None:
    assert default_baseline(256) == (512, 1536)
    assert default_baseline(128) == (512, 1536)
    assert default_baseline(1024) == (1024, 3072)
    assert default_baseline(2048) == (2048, 6144)
    assert default_baseline(300) == (600, 1800)
    # A 2048 native window with 1024-token buckets: one bucket fits past the first 512 tokens.
    assert default_baseline(1024, native=2048) == (1024, 2048)
    # The longest curve limits it too.
    assert default_baseline(256, longest=1300) == (512, 1280)


@given(bucket=st.integers(2, 8192), native=st.integers(1024, 1 << 20) | st.none())
def test_default_baseline_holds_two_buckets_inside_the_window_when_there_is_room(
    bucket: int, native: int | None
) -> None:
    start, end = default_baseline(bucket, native)
    assert BASELINE_SKIP <= start < BASELINE_SKIP + bucket and start % bucket == 0 and end % bucket == 0
    if native is None:
        assert end - start >= max(1024, 2 * bucket)
    elif native // bucket * bucket >= start + 2 * bucket:
        assert end <= native and (end - start) // bucket >= 2
    else:  # no room for two: one bucket, the first past the skipped context
        assert end - start == bucket


def test_one_bucket_baseline_is_said() -> None:
    result = probe_source(
        SyntheticSource(window=2048),
        [4096],
        document=DOCUMENT,
        bucket=1024,
        native=(2048, "given with --native"),
    )
    assert result.baseline is not None and (result.baseline.start, result.baseline.end) == (1024, 2048)
    assert any("only 1 bucket of 1024 tokens" in w for w in result.warnings)


def test_a_claimed_window_well_past_the_rise_is_called_overstated() -> None:
    """A model trained at 8192 whose config claims 32768: the rise at ~8K is far before the claim."""
    result = probe_source(
        SyntheticSource(),
        [2 * WINDOW],
        document=DOCUMENT,
        native=(32768, "config.json max_position_embeddings 32768"),
    )
    assert result.native is not None
    assert result.native.overstated and result.native.suggested_native == 8192
    assert result.native.degradation_start == result.curves[0].degradation_start
    assert result.native.message == (
        "config says 32768, perplexity rises from ~8K: the config probably overstates the trained "
        "window; plan with --native 8k (or the trained length the model card gives)"
    )
    # Claimed right (8192): the rise starts where it should, no complaint.
    right = probe_source(
        SyntheticSource(), [2 * WINDOW], document=DOCUMENT, native=(8192, "given with --native")
    )
    assert right.native is not None and not right.native.overstated and right.native.message is None
    # Given with --native, the sentence names the flag, not the config.
    given_wrong = probe_source(
        SyntheticSource(), [2 * WINDOW], document=DOCUMENT, native=(16384, "given with --native")
    )
    assert given_wrong.native is not None and given_wrong.native.message is not None
    assert given_wrong.native.message.startswith("--native says 16384, perplexity rises from ~8K")


def test_in_process_tiny_model_is_caught_overstating_its_window(tmp_path: Path) -> None:
    """The bundled model's config says 8192; it was trained at 2048 (demo/model/training.json)."""
    pytest.importorskip("transformers")
    from ropeguard.demo import NATIVE_CONTEXT, model_dir

    out = tmp_path / "run"
    code = main(
        [
            "probe",
            "--backend",
            "transformers",
            "--model",
            str(model_dir()),
            "--lengths",
            "4k",
            "--bucket",
            "1024",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    data = json.loads((out / "probe.json").read_text())
    native = data["native"]
    assert native["claimed"] == 8192 and "max_position_embeddings 8192" in native["source"]
    # With 1024-token buckets the default baseline is 1024-3072 (the old 512:1536 found none).
    assert (data["baseline"]["start"], data["baseline"]["end"]) == (1024, 3072)
    assert native["overstated"] and native["suggested_native"] == NATIVE_CONTEXT
    assert native["degradation_start"] < 0.75 * 8192
    assert "plan with --native 2k" in native["message"]
