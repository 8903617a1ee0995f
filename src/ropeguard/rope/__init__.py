"""The rotary-embedding math: frequencies, attention factors and the per-dimension table (pure numpy)."""

from __future__ import annotations

from ropeguard.rope.frequencies import (
    attention_factor,
    base_inv_freq,
    cos_sin_cache,
    inv_freq,
    rope_dict,
    rope_type_of,
    scaling_factor,
    wavelengths,
    yarn_correction_dim,
    yarn_correction_range,
    yarn_get_mscale,
    yarn_ramp,
)
from ropeguard.rope.table import DimensionRow, DimensionTable, dimension_table

__all__ = [
    "DimensionRow",
    "DimensionTable",
    "attention_factor",
    "base_inv_freq",
    "cos_sin_cache",
    "dimension_table",
    "inv_freq",
    "rope_dict",
    "rope_type_of",
    "scaling_factor",
    "wavelengths",
    "yarn_correction_dim",
    "yarn_correction_range",
    "yarn_get_mscale",
    "yarn_ramp",
]
