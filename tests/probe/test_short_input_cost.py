from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
from reports_probefiles import synthetic_probe
from reports_runfiles import all_right, collapsing, write_run

from ropeguard.errors import UsageError
from ropeguard.evals.loader import load_run
from ropeguard.probe import compare_short_input_cost


def test_cost_is_the_nll_difference_below_the_native_window() -> None:
    scaled = synthetic_probe(rise_from=None, floor=0.13)
    unscaled = synthetic_probe(rise_from=2600, floor=0.10)
    cost = compare_short_input_cost(scaled, unscaled, within=2048, factor=4.0)
    # Same synthetic wobble on both: the per-token difference is exactly 0.03 nats everywhere below 2048.
    assert cost.delta_nll == pytest.approx(0.03, abs=1e-6)
    assert cost.perplexity_ratio == pytest.approx(math.exp(0.03), abs=1e-6)
    assert [b.start for b in cost.buckets] == list(range(0, 2048, 256))
    assert cost.tokens == 2047
    assert "factor 4 on inputs <= 2048 tokens: +0.030 nats/token (+3.0% perplexity" in cost.describe()


def test_cost_includes_recall_at_lengths_within_the_window(tmp_path: Path) -> None:
    scaled_run = load_run(write_run(tmp_path / "s", all_right))
    unscaled_run = load_run(write_run(tmp_path / "u", collapsing))
    cost = compare_short_input_cost(
        synthetic_probe(rise_from=None),
        synthetic_probe(rise_from=2600),
        within=2048,
        scaled_summary=scaled_run.summary,
        unscaled_summary=unscaled_run.summary,
    )
    assert [(r.length, r.delta) for r in cost.recall] == [(1024, 0.0), (2048, 0.0)]
    assert "recall 1024: 1.00 vs 1.00, 2048: 1.00 vs 1.00" in cost.describe()


def test_cost_refuses_different_documents_and_short_probes() -> None:
    with pytest.raises(UsageError, match="different documents"):
        compare_short_input_cost(synthetic_probe(sha="a" * 64), synthetic_probe(sha="b" * 64), within=2048)
    with pytest.raises(UsageError, match="less than --within 16384"):
        compare_short_input_cost(synthetic_probe(), synthetic_probe(), within=16384)
