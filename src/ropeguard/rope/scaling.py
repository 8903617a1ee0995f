"""The scalar side of rope scaling: a rope dict's type, factor and original length, and the attention
factor (YaRN's mscale, longrope's sqrt(1 + ln f / ln original)).

The one home of these formulas (FACTS.md section 3): the planner's `attention_factor`, the frequency
tables and the parity tests all call them. Plain `math`, no numpy, so that `ropeguard plan --json`
stays light.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ropeguard.errors import UnsupportedLayoutError
from ropeguard.models.spec import ROPE_TYPE_ALIASES


def rope_type_of(rope_params: Mapping[str, Any]) -> str:
    """`rope_type` (or the legacy `type`) of a rope dict; "default" when absent."""
    value = rope_params.get("rope_type") or rope_params.get("type") or "default"
    return ROPE_TYPE_ALIASES.get(str(value), str(value))


def original_length(rope_params: Mapping[str, Any], max_position_embeddings: int | None) -> int:
    value = rope_params.get("original_max_position_embeddings")
    if value is None:
        value = max_position_embeddings  # transformers 5 fills it the same way
    if value is None:
        raise ValueError("original_max_position_embeddings is neither in rope_params nor given")
    return int(value)


def scaling_factor(rope_params: Mapping[str, Any], max_position_embeddings: int | None = None) -> float:
    """The factor of a rope dict; for yarn/longrope without one, max_position / original (as transformers)."""
    factor = rope_params.get("factor")
    if factor is not None:
        return float(factor)
    kind = rope_type_of(rope_params)
    if kind in ("yarn", "deepseek_yarn", "longrope") and max_position_embeddings is not None:
        return max_position_embeddings / original_length(rope_params, max_position_embeddings)
    return 1.0


def yarn_get_mscale(factor: float, mscale: float = 1.0) -> float:
    """YaRN's magnitude correction 0.1 * mscale * ln(factor) + 1 (1 when factor <= 1)."""
    if factor <= 1.0:
        return 1.0
    return 0.1 * mscale * math.log(factor) + 1.0


def attention_factor(rope_params: Mapping[str, Any], *, max_position_embeddings: int | None = None) -> float:
    """The multiplier on cos/sin (YaRN's mscale; longrope's sqrt(1 + ln f / ln original)); 1 for the rest.

    yarn: `attention_factor` if given, else mscale(f, mscale) / mscale(f, mscale_all_dim) when both
    are set (DeepSeek), else 0.1 ln f + 1. deepseek_yarn (vLLM): mscale defaults 1 and 0, no
    `attention_factor`. longrope: `attention_factor` if given, else the formula (1 when f <= 1),
    with f = factor or max_position / original.
    """
    kind = rope_type_of(rope_params)
    if kind in ("default", "linear", "dynamic", "llama3"):
        return 1.0
    factor = scaling_factor(rope_params, max_position_embeddings)
    if kind == "yarn":
        given = rope_params.get("attention_factor")
        if given is not None:
            return float(given)
        mscale = rope_params.get("mscale")
        mscale_all_dim = rope_params.get("mscale_all_dim")
        if mscale and mscale_all_dim:
            return yarn_get_mscale(factor, float(mscale)) / yarn_get_mscale(factor, float(mscale_all_dim))
        return yarn_get_mscale(factor)
    if kind == "deepseek_yarn":
        mscale = float(rope_params.get("mscale", 1.0))
        mscale_all_dim = float(rope_params.get("mscale_all_dim", 0.0))
        return yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, mscale_all_dim)
    if kind == "longrope":
        given = rope_params.get("attention_factor")
        if given is not None:
            return float(given)
        if factor <= 1.0:
            return 1.0
        original = original_length(rope_params, max_position_embeddings)
        return math.sqrt(1.0 + math.log(factor) / math.log(original))
    raise UnsupportedLayoutError(f"unsupported layout: rope type {kind!r}")
