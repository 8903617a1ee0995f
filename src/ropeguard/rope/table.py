"""The per-dimension table: what a rope scaling does to each rotary pair.

For each pair i (dims 2i, 2i+1): its wavelength before scaling against the native window, and what
the scaling does to it:

- "extrapolate": left as trained (YaRN's high-frequency pairs, which rotate beta_fast+ times
  inside the native window and so have seen every phase);
- "interpolate": divided by the factor (low-frequency pairs that never completed a rotation in
  the native window, so longer positions would give phases never seen);
- "ramp": in between, blended by `ramp` (0 = kept, 1 = fully divided).

YaRN rows take `ramp` from the YaRN formula itself; for other types (linear, llama3, longrope,
dynamic) the regime is read from how much each frequency changed. Pure: no I/O, and no numpy (the
frequencies come pair by pair from rope/pairs.py), so that `ropeguard plan`, which prints this table,
does not pay numpy's import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ropeguard.rope.pairs import (
    base_pair_freqs,
    pair_freqs,
    yarn_correction_range,
    yarn_options,
    yarn_pair_ramp,
)
from ropeguard.rope.scaling import attention_factor, original_length, rope_type_of, scaling_factor

Regime = Literal["extrapolate", "interpolate", "ramp"]
# Relative tolerance for calling a non-YaRN frequency "unchanged" or "divided by the factor".
_SAME = 1e-9


class DimensionRow(BaseModel):
    """One rotary pair."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pair: int  # i: rotary dims 2i and 2i+1
    inv_freq: float  # before scaling
    wavelength: float  # tokens per rotation before scaling
    rotations_in_native: float  # native window / wavelength
    regime: Regime
    ramp: float  # 0 = kept as trained, 1 = fully interpolated
    scale: float  # scaled wavelength / original wavelength (1 kept, factor interpolated)
    scaled_inv_freq: float
    scaled_wavelength: float


class DimensionTable(BaseModel):
    """The whole table plus the numbers that decide it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rope_type: str
    rope_theta: float
    rotary_dim: int
    native_context: int
    factor: float
    attention_factor: float
    # YaRN only: the correction range (pairs below low kept, above high interpolated) and betas.
    low: float | None = None
    high: float | None = None
    beta_fast: float | None = None
    beta_slow: float | None = None
    truncate: bool | None = None
    rows: list[DimensionRow]

    def count(self, regime: Regime) -> int:
        return sum(1 for row in self.rows if row.regime == regime)


def dimension_table(
    rope_params: Mapping[str, Any],
    rope_theta: float | None,
    rotary_dim: int,
    *,
    native_context: int | None = None,
    max_position_embeddings: int | None = None,
    seq_len: int | None = None,
) -> DimensionTable:
    """Describe, pair by pair, what `rope_params` does to the rotary frequencies.

    rope_params / rope_theta / rotary_dim / max_position_embeddings / seq_len: as for `inv_freq`.
    native_context: the window the model was trained on, that wavelengths are compared with;
    defaults to the dict's original_max_position_embeddings (else max_position_embeddings).
    """
    kind = rope_type_of(rope_params)
    theta = float(rope_theta if rope_theta is not None else rope_params["rope_theta"])
    base = base_pair_freqs(theta, rotary_dim)
    scaled = pair_freqs(
        rope_params, theta, rotary_dim, max_position_embeddings=max_position_embeddings, seq_len=seq_len
    )
    if native_context is None:
        native_context = (
            original_length(rope_params, max_position_embeddings)
            if kind != "default"
            else max_position_embeddings
        )
    if native_context is None:
        raise ValueError("native_context is needed for an unscaled rope dict")
    factor = scaling_factor(rope_params, max_position_embeddings)
    pairs = rotary_dim // 2
    extra: dict[str, Any] = {}
    if kind in ("yarn", "deepseek_yarn"):
        beta_fast, beta_slow, truncate = yarn_options(rope_params)
        original = original_length(rope_params, max_position_embeddings)
        low, high = yarn_correction_range(
            rotary_dim, theta, original, beta_fast=beta_fast, beta_slow=beta_slow, truncate=truncate
        )
        ramps = yarn_pair_ramp(low, high, pairs)
        extra = {
            "low": low,
            "high": high,
            "beta_fast": beta_fast,
            "beta_slow": beta_slow,
            "truncate": truncate,
        }
    else:
        # How far each frequency moved towards base / factor, on a log scale (0 kept, 1 divided).
        ramps = (
            [
                min(max(math.log(b / s) / math.log(factor), 0.0), 1.0)
                for b, s in zip(base, scaled, strict=True)
            ]
            if factor > 1.0
            else [0.0] * pairs
        )
    rows = []
    for i in range(pairs):
        ramp = ramps[i]
        if ramp <= _SAME:
            regime: Regime = "extrapolate"
        elif ramp >= 1.0 - _SAME:
            regime = "interpolate"
        else:
            regime = "ramp"
        wavelength = 2 * math.pi / base[i]
        scaled_wavelength = 2 * math.pi / scaled[i]
        rows.append(
            DimensionRow(
                pair=i,
                inv_freq=base[i],
                wavelength=wavelength,
                rotations_in_native=native_context / wavelength,
                regime=regime,
                ramp=ramp,
                scale=scaled_wavelength / wavelength,
                scaled_inv_freq=scaled[i],
                scaled_wavelength=scaled_wavelength,
            )
        )
    return DimensionTable(
        rope_type=kind,
        rope_theta=theta,
        rotary_dim=rotary_dim,
        native_context=native_context,
        factor=factor,
        attention_factor=attention_factor(rope_params, max_position_embeddings=max_position_embeddings),
        rows=rows,
        **extra,
    )
