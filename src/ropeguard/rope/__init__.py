"""The rotary-embedding math: frequencies, attention factors and the per-dimension table.

The scalar formulas (rope/scaling.py: rope type, factor, attention factor) are plain `math` and load
with the package; the numpy parts (frequencies, cos/sin caches, the dimension table) load on first
use (PEP 562), so that `ropeguard plan --json`, which needs only the attention factor, stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ropeguard.rope.scaling import attention_factor, rope_type_of, scaling_factor, yarn_get_mscale

if TYPE_CHECKING:
    from ropeguard.rope.frequencies import (
        base_inv_freq,
        cos_sin_cache,
        inv_freq,
        rope_dict,
        wavelengths,
        yarn_correction_dim,
        yarn_correction_range,
        yarn_ramp,
    )
    from ropeguard.rope.table import DimensionRow, DimensionTable, dimension_table

# name -> the numpy module that defines it
_NUMPY_NAMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "base_inv_freq",
            "cos_sin_cache",
            "inv_freq",
            "rope_dict",
            "wavelengths",
            "yarn_correction_dim",
            "yarn_correction_range",
            "yarn_ramp",
        ),
        "ropeguard.rope.frequencies",
    ),
    **dict.fromkeys(("DimensionRow", "DimensionTable", "dimension_table"), "ropeguard.rope.table"),
}

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


def __getattr__(name: str) -> Any:
    module = _NUMPY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'ropeguard.rope' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
