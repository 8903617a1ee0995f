"""Our cos/sin tables equal the `cos_sin_cache` of vLLM's own rotary embedding (installed vLLM).

vLLM builds its cache in float32 (angle = float32(position) * float32(inv_freq)), so at position t
an angle carries a rounding error of about t * 2**-24 radians; the tolerance per row follows that,
plus 1e-6. Inverse frequencies and the attention factor (mscale) are compared at 1e-6 relative.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ropeguard.rope import attention_factor, cos_sin_cache, inv_freq

pytestmark = pytest.mark.vllm

CASES: dict[str, tuple[dict[str, Any], int, int, int]] = {
    # name: (rope_parameters as vLLM >= 0.12 takes them, head_size, max_position, rows expected)
    "default-qwen3": ({"rope_type": "default", "rope_theta": 1e6}, 128, 40960, 40960),
    "default-tiny": ({"rope_type": "default", "rope_theta": 1e4}, 64, 2048, 2048),
    "linear-x4": ({"rope_type": "linear", "rope_theta": 1e4, "factor": 4.0}, 64, 2048, 8192),
    "linear-x8-gemma": ({"rope_type": "linear", "rope_theta": 1e6, "factor": 8.0}, 128, 16384, 131072),
    "yarn-qwen3-x4": (
        {"rope_type": "yarn", "rope_theta": 1e6, "factor": 4.0, "original_max_position_embeddings": 32768},
        128,
        131072,
        131072,
    ),
    "yarn-tiny-x4": (
        {"rope_type": "yarn", "rope_theta": 1e4, "factor": 4.0, "original_max_position_embeddings": 2048},
        64,
        8192,
        8192,
    ),
    "yarn-gpt-oss-truncate-false": (
        {
            "rope_type": "yarn",
            "rope_theta": 150000.0,
            "factor": 32.0,
            "original_max_position_embeddings": 4096,
            "beta_fast": 32.0,
            "beta_slow": 1.0,
            "truncate": False,
        },
        64,
        131072,
        131072,
    ),
    "yarn-mscale-deepseek-style": (
        {
            "rope_type": "yarn",
            "rope_theta": 1e4,
            "factor": 40.0,
            "original_max_position_embeddings": 4096,
            "beta_fast": 32,
            "beta_slow": 1,
            "mscale": 1.0,
            "mscale_all_dim": 0.707,
        },
        64,
        163840,
        163840,
    ),
    "yarn-attention-factor": (
        {
            "rope_type": "yarn",
            "rope_theta": 1e4,
            "factor": 2.0,
            "original_max_position_embeddings": 2048,
            "attention_factor": 0.8,
        },
        64,
        4096,
        4096,
    ),
}


def vllm_rope(params: dict[str, Any], head_size: int, max_position: int) -> Any:
    torch = pytest.importorskip("torch")
    pytest.importorskip("vllm")
    from vllm.config import VllmConfig, set_current_vllm_config
    from vllm.model_executor.layers.rotary_embedding import get_rope

    with set_current_vllm_config(VllmConfig()):
        return get_rope(
            head_size=head_size,
            max_position=max_position,
            is_neox_style=True,
            rope_parameters=dict(params),
            dtype=torch.float32,
        )


@pytest.mark.parametrize(
    ("params", "head_size", "max_position", "rows"), list(CASES.values()), ids=list(CASES)
)
def test_cos_sin_cache_matches_vllm(
    params: dict[str, Any], head_size: int, max_position: int, rows: int
) -> None:
    rope = vllm_rope(params, head_size, max_position)
    cache = rope.cos_sin_cache.double().numpy()
    assert cache.shape == (rows, head_size)
    # Every 61st row and the last ones: the whole span of positions, at a fraction of the memory.
    positions = np.unique(np.concatenate([np.arange(0, rows, 61), np.arange(rows - 8, rows)]))
    ours = cos_sin_cache(params, None, head_size, positions)
    scale = attention_factor(params)
    tolerance = 1e-6 + scale * positions[:, None].astype(np.float64) * 2.0**-24 * 4
    difference = np.abs(ours - cache[positions])
    assert np.all(difference <= tolerance), float((difference - tolerance).max())
    if hasattr(rope, "mscale"):
        assert float(rope.mscale) == pytest.approx(scale, rel=1e-6)


@pytest.mark.parametrize(
    ("params", "head_size", "max_position", "rows"),
    [c for name, c in CASES.items() if name.startswith("yarn")],
    ids=[name for name in CASES if name.startswith("yarn")],
)
def test_yarn_inv_freq_matches_vllm(
    params: dict[str, Any], head_size: int, max_position: int, rows: int
) -> None:
    rope = vllm_rope(params, head_size, max_position)
    theirs = rope._compute_inv_freq(rope.scaling_factor).double().numpy()
    np.testing.assert_allclose(inv_freq(params, None, head_size), theirs, rtol=1e-6, atol=0)


def test_the_factor_four_mscale_facts_md_reports() -> None:
    rope = vllm_rope(CASES["yarn-qwen3-x4"][0], 128, 131072)
    assert round(float(rope.mscale), 4) == 1.1386
    assert attention_factor(CASES["yarn-qwen3-x4"][0]) == pytest.approx(float(rope.mscale), rel=1e-6)
