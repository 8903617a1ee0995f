"""Rotary inverse frequencies pair by pair, in plain Python floats (no numpy).

The per-dimension table (rope/table.py) needs one number per rotary pair, at most a few hundred:
plain `math` computes them in microseconds, while importing numpy costs ~0.1 s, more than the rest of
`ropeguard plan` together. So the table reads its frequencies from here, and numpy stays for the
array work (rope/frequencies.py: cos/sin caches, the probe).

The formulas (listed in rope/frequencies.py's docstring) are written here once; rope/frequencies.py
gives them as numpy arrays, and tests/rope/test_*_parity.py check them against transformers and vLLM.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ropeguard.errors import UnsupportedLayoutError
from ropeguard.rope.scaling import original_length, rope_type_of, scaling_factor

YARN_BETA_FAST = 32.0
YARN_BETA_SLOW = 1.0


def base_pair_freqs(rope_theta: float, rotary_dim: int) -> list[float]:
    """Unscaled inverse frequencies theta ** (-2i/d), one per rotary pair."""
    if rotary_dim <= 0 or rotary_dim % 2:
        raise ValueError(f"rotary_dim must be a positive even number, got {rotary_dim}")
    if rope_theta <= 1.0:
        raise ValueError(f"rope_theta must be > 1, got {rope_theta}")
    theta = float(rope_theta)
    return [1.0 / (theta ** (i / rotary_dim)) for i in range(0, rotary_dim, 2)]


def yarn_correction_dim(rotations: float, rotary_dim: int, rope_theta: float, original: int) -> float:
    """The (fractional) pair index whose wavelength fits `rotations` times into `original` tokens."""
    return (rotary_dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(rope_theta))


def yarn_correction_range(
    rotary_dim: int,
    rope_theta: float,
    original: int,
    *,
    beta_fast: float = YARN_BETA_FAST,
    beta_slow: float = YARN_BETA_SLOW,
    truncate: bool = True,
) -> tuple[float, float]:
    """(low, high): pairs below `low` are extrapolated (kept), above `high` interpolated (/factor)."""
    low = yarn_correction_dim(beta_fast, rotary_dim, rope_theta, original)
    high = yarn_correction_dim(beta_slow, rotary_dim, rope_theta, original)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    return max(low, 0), min(high, rotary_dim - 1)


def yarn_pair_ramp(low: float, high: float, pairs: int) -> list[float]:
    """0 up to `low`, rising linearly to 1 at `high`, per pair index (1 = fully interpolated)."""
    if low == high:
        high += 0.001  # the same guard against a zero-width ramp as transformers and vLLM
    return [min(max((float(i) - low) / (high - low), 0.0), 1.0) for i in range(pairs)]


def yarn_options(rope_params: Mapping[str, Any]) -> tuple[float, float, bool]:
    """(beta_fast, beta_slow, truncate) of a yarn dict, with transformers' and vLLM's defaults."""
    # `or` as transformers does: a 0 / null beta means the default.
    beta_fast = float(rope_params.get("beta_fast") or YARN_BETA_FAST)
    beta_slow = float(rope_params.get("beta_slow") or YARN_BETA_SLOW)
    truncate = rope_params.get("truncate", True)
    if rope_type_of(rope_params) == "deepseek_yarn":
        truncate = True  # vLLM's DeepSeek rotary always truncates
    return beta_fast, beta_slow, bool(truncate)


def rope_theta_of(rope_params: Mapping[str, Any], rope_theta: float | None) -> float:
    """The base: `rope_theta` when given, else the dict's own."""
    if rope_theta is not None:
        return float(rope_theta)
    if rope_params.get("rope_theta") is None:
        raise ValueError("rope_theta is neither given nor in rope_params")
    return float(rope_params["rope_theta"])


def pair_freqs(
    rope_params: Mapping[str, Any],
    rope_theta: float | None,
    rotary_dim: int,
    *,
    max_position_embeddings: int | None = None,
    seq_len: int | None = None,
) -> list[float]:
    """Inverse frequencies (rotary_dim // 2 floats) of a rope dict; rope/frequencies.py's `inv_freq`
    (same arguments, documented there) is this as a numpy array."""
    kind = rope_type_of(rope_params)
    theta = rope_theta_of(rope_params, rope_theta)
    base = base_pair_freqs(theta, rotary_dim)
    if kind == "default":
        return base
    if kind == "linear":
        factor = scaling_factor(rope_params)
        return [value / factor for value in base]
    if kind == "dynamic":
        if max_position_embeddings is None:
            raise ValueError("dynamic rope needs max_position_embeddings")
        factor = scaling_factor(rope_params)
        length = max(seq_len or max_position_embeddings, max_position_embeddings)
        new_theta = theta * ((factor * length / max_position_embeddings) - (factor - 1)) ** (
            rotary_dim / (rotary_dim - 2)
        )
        return base_pair_freqs(new_theta, rotary_dim)
    if kind in ("yarn", "deepseek_yarn"):
        factor = scaling_factor(rope_params, max_position_embeddings)
        original = original_length(rope_params, max_position_embeddings)
        beta_fast, beta_slow, truncate = yarn_options(rope_params)
        low, high = yarn_correction_range(
            rotary_dim, theta, original, beta_fast=beta_fast, beta_slow=beta_slow, truncate=truncate
        )
        keeps = [1.0 - ramp for ramp in yarn_pair_ramp(low, high, rotary_dim // 2)]
        return [
            (value / factor) * (1.0 - keep) + value * keep for value, keep in zip(base, keeps, strict=True)
        ]
    if kind == "llama3":
        factor = scaling_factor(rope_params)
        low_freq_factor = float(rope_params["low_freq_factor"])
        high_freq_factor = float(rope_params["high_freq_factor"])
        original = original_length(rope_params, max_position_embeddings)
        low_freq_wavelen = original / low_freq_factor
        high_freq_wavelen = original / high_freq_factor
        result = []
        for value in base:
            wavelen = 2.0 * math.pi / value
            scaled = value / factor if wavelen > low_freq_wavelen else value
            medium = high_freq_wavelen <= wavelen <= low_freq_wavelen
            if medium and high_freq_factor != low_freq_factor:
                # Llama 4 sets both factors to 1: no band to blend across (the smooth factor divides by 0).
                smooth = (original / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
                scaled = (1.0 - smooth) * scaled / factor + smooth * scaled
            result.append(scaled)
        return result
    if kind == "longrope":
        original = original_length(rope_params, max_position_embeddings)
        use_long = seq_len is not None and seq_len > original
        ext = [float(value) for value in rope_params["long_factor" if use_long else "short_factor"]]
        if len(ext) != len(base):
            raise ValueError(
                f"longrope {'long' if use_long else 'short'}_factor has {len(ext)} values, "
                f"rotary dim {rotary_dim} needs {len(base)}"
            )
        return [value / divisor for value, divisor in zip(base, ext, strict=True)]
    raise UnsupportedLayoutError(f"unsupported layout: rope type {kind!r}")
