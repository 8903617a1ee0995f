"""Plain-text rendering of a probe result (the terminal table `probe` prints)."""

from __future__ import annotations

from ropeguard.probe.results import ProbeResult


def render_probe_text(result: ProbeResult) -> str:
    """One line per length ("degradation starts near token P"), then the bucket means side by side."""
    lines = [
        f"probe of {result.source.model} ({result.source.method}), document: {result.document.name}",
    ]
    if result.baseline is not None:
        lines.append(
            f"baseline {result.baseline.mean_nll:.3f} nats over tokens {result.baseline.start}-"
            f"{result.baseline.end}; threshold +{result.threshold:.3f} ({result.threshold_rule})"
        )
    for curve in result.curves:
        where = (
            f"degradation starts near token {curve.degradation_start}"
            if curve.degradation_start is not None
            else "no degradation"
        )
        rise = f", max rise {curve.max_rise:+.3f}" if curve.max_rise is not None else ""
        lines.append(f"  length {curve.length:>7}: {where}{rise} ({curve.latency_s:.1f} s)")
    longest = max(result.curves, key=lambda c: c.prompt_tokens, default=None)
    if longest is not None:
        lines.append(f"mean NLL per {result.bucket} tokens (length {longest.length}):")
        cells = [f"{b.start:>6}: {b.mean_nll:6.3f}" for b in longest.buckets]
        for row in range(0, len(cells), 6):
            lines.append("  " + "   ".join(cells[row : row + 6]))
    native = result.native
    if native is not None and native.message is not None:
        lines.append(f"native window: {native.message}")
    elif native is not None:
        seen = (
            f"degradation starts near token {native.degradation_start}"
            if native.degradation_start is not None
            else "no degradation seen"
        )
        lines.append(f"native window: {native.claimed} ({native.source}); {seen}")
    lines.extend(f"warning: {w}" for w in result.warnings)
    return "\n".join(lines)
