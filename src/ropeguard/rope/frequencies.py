"""Rotary inverse frequencies and attention factors for every rope type ropeguard covers.

numpy arrays (float64), no I/O. The formulas are those of transformers' `modeling_rope_utils` and
vLLM's rotary embeddings (tests/rope compares against both, installed); they are written once, pair by
pair in plain Python, in rope/pairs.py (so the plan's per-dimension table needs no numpy), and this
module gives them as arrays for the cos/sin caches and the probe:

    default   inv_freq_i = theta ** (-2i / d)                        i = 0 .. d/2 - 1, d = rotary dim
    linear    inv_freq_i / factor
    dynamic   default with theta' = theta * (factor * L / max_pos - (factor - 1)) ** (d / (d - 2)),
              L = max(seq_len, max_pos) (transformers recomputes this as the sequence grows)
    yarn      interp * (1 - mask) + extrap * mask, interp = extrap / factor, mask = 1 - ramp;
              ramp rises linearly from 0 at `low` to 1 at `high`, the dims where a wavelength fits
              beta_fast (32) and beta_slow (1) times in the original window; floored / ceiled
              unless truncate is false; clamped to [0, d - 1]
    llama3    wavelengths over original / low_freq_factor divided by factor, under
              original / high_freq_factor kept, smooth blend in between
    longrope  inv_freq_i / ext_i, ext = long_factor when seq_len > original else short_factor
    deepseek_yarn   yarn's frequencies (always truncated); attention factor from mscale / mscale_all_dim

`rope_params` is a rope dict as a config or an override carries it: `rope_type` (or the legacy
`type`), `factor`, `original_max_position_embeddings`, ..., optionally `rope_theta` (used when the
`rope_theta` argument is None). `max_position_embeddings` is the model's config value: transformers
uses it for dynamic, for a missing yarn/llama3/longrope original length, and for a missing factor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ropeguard.models.spec import RopeSpec
from ropeguard.rope.pairs import base_pair_freqs, pair_freqs, yarn_pair_ramp
from ropeguard.rope.scaling import (
    attention_factor,
)

FloatArray = NDArray[np.float64]


def rope_dict(rope: RopeSpec) -> dict[str, Any]:
    """A model's rope as one dict, the way transformers 5 stores `rope_parameters`:
    `{"rope_type": ..., "rope_theta": ..., **params}` (plus partial_rotary_factor when not 1)."""
    result: dict[str, Any] = {"rope_type": rope.rope_type, "rope_theta": rope.rope_theta, **rope.params}
    if rope.partial_rotary_factor != 1.0:
        result["partial_rotary_factor"] = rope.partial_rotary_factor
    return result


def base_inv_freq(rope_theta: float, rotary_dim: int) -> FloatArray:
    """Unscaled inverse frequencies theta ** (-2i/d), one per rotary pair."""
    return np.asarray(base_pair_freqs(rope_theta, rotary_dim), dtype=np.float64)


def wavelengths(inv_freq: FloatArray) -> FloatArray:
    """Tokens per full rotation of each pair: 2*pi / inv_freq."""
    result: FloatArray = 2.0 * math.pi / inv_freq
    return result


def yarn_ramp(low: float, high: float, pairs: int) -> FloatArray:
    """0 up to `low`, rising linearly to 1 at `high`, per pair index (1 = fully interpolated)."""
    return np.asarray(yarn_pair_ramp(low, high, pairs), dtype=np.float64)


def inv_freq(
    rope_params: Mapping[str, Any],
    rope_theta: float | None,
    rotary_dim: int,
    *,
    max_position_embeddings: int | None = None,
    seq_len: int | None = None,
) -> FloatArray:
    """Inverse frequencies (length rotary_dim // 2, float64) of a rope dict.

    rope_theta: the base; None takes `rope_params["rope_theta"]`.
    max_position_embeddings: the model's config value (needed by dynamic; fallback for a missing
    original length or factor, as in transformers).
    seq_len: the sequence length, for the types that depend on it (dynamic: the length the
    frequencies are computed at, at least max_position_embeddings; longrope: long factors when it
    exceeds the original length, short factors otherwise). Ignored by the others.
    """
    # One formula: rope/pairs.py computes it pair by pair (so `plan` needs no numpy); this is its array.
    values = pair_freqs(
        rope_params, rope_theta, rotary_dim, max_position_embeddings=max_position_embeddings, seq_len=seq_len
    )
    return np.asarray(values, dtype=np.float64)


def cos_sin_cache(
    rope_params: Mapping[str, Any],
    rope_theta: float | None,
    rotary_dim: int,
    positions: int | Sequence[int] | NDArray[np.integer[Any]],
    *,
    max_position_embeddings: int | None = None,
    seq_len: int | None = None,
) -> FloatArray:
    """[len(positions), rotary_dim] table: cos (first half) and sin (second half), times the attention factor.

    positions: a count (rows 0 .. n-1) or the positions wanted. The layout of vLLM's `cos_sin_cache`
    (neox style); computed in float64.
    """
    freqs = inv_freq(
        rope_params, rope_theta, rotary_dim, max_position_embeddings=max_position_embeddings, seq_len=seq_len
    )
    scale = attention_factor(rope_params, max_position_embeddings=max_position_embeddings)
    rows = np.arange(positions) if isinstance(positions, int) else np.asarray(positions)
    angles = np.outer(rows.astype(np.float64), freqs)
    table: FloatArray = np.concatenate([np.cos(angles) * scale, np.sin(angles) * scale], axis=-1)
    return table
