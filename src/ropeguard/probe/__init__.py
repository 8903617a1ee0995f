"""Position-resolved perplexity: where, token by token, a served model's predictions start to degrade.

    from ropeguard.probe import probe
    result = probe([2048, 4096, 8192], base_url="http://127.0.0.1:8000/v1", out=Path("runs/probe"))
    result.curve(8192).degradation_start   # e.g. 2816, or None

`compare_short_input_cost(scaled, unscaled, within=native)` measures what a static YaRN factor costs
on inputs that already fit the native window.
"""

from __future__ import annotations

from ropeguard.probe.cost import ShortInputCost, compare_short_input_cost
from ropeguard.probe.results import ProbeCurve, ProbeResult
from ropeguard.probe.runner import analyse, probe, probe_source, read_probe, write_probe

__all__ = [
    "ProbeCurve",
    "ProbeResult",
    "ShortInputCost",
    "analyse",
    "compare_short_input_cost",
    "probe",
    "probe_source",
    "read_probe",
    "write_probe",
]
