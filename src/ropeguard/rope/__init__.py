"""The rotary-embedding math: frequencies, attention factors and the per-dimension table.

The scalar formulas (rope/scaling.py: rope type, factor, attention factor) are plain `math` and load
with the package. The rest loads on first use (PEP 562): the per-dimension table (rope/table.py, plain
`math` over rope/pairs.py, with its pydantic models) when a plan prints it, and numpy (rope/frequencies.py:
frequency arrays, cos/sin caches) only for the array work of the probe and the parity tests, so that
no `ropeguard plan` imports numpy.
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
        yarn_ramp,
    )
    from ropeguard.rope.pairs import yarn_correction_dim, yarn_correction_range
    from ropeguard.rope.table import DimensionRow, DimensionTable, dimension_table

# name -> the module that defines it, imported on first use
_LAZY_NAMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "base_inv_freq",
            "cos_sin_cache",
            "inv_freq",
            "rope_dict",
            "wavelengths",
            "yarn_ramp",
        ),
        "ropeguard.rope.frequencies",
    ),
    **dict.fromkeys(("yarn_correction_dim", "yarn_correction_range"), "ropeguard.rope.pairs"),
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
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'ropeguard.rope' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
