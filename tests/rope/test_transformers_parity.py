"""Our frequencies and attention factors equal transformers' own (the installed version), to 1e-6.

Each case is a config.json (mostly the published fixtures); transformers builds its real config
object from it and runs ROPE_INIT_FUNCTIONS; we read the same file with our reader and run our math.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ropeguard.models import spec_from_config
from ropeguard.rope import attention_factor, inv_freq

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

FIXTURES = Path(__file__).parents[1] / "models" / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def with_rope(name: str, rope: dict[str, Any], **fields: Any) -> dict[str, Any]:
    config = copy.deepcopy(fixture(name))
    config.pop("rope_parameters", None)
    config["rope_scaling"] = rope
    config.update(fields)
    return config


LLAMA_SMALL: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "vocab_size": 128,
    "max_position_embeddings": 2048,
    "rope_theta": 10000.0,
}

CASES: dict[str, tuple[dict[str, Any], list[int | None]]] = {
    "yarn-qwen3-8b-x4-v5": (fixture("qwen3-8b-transformers5-yarn"), [None]),
    "yarn-gpt-oss-truncate-false": (fixture("gpt-oss-20b"), [None]),
    "yarn-deepseek-v3-mscale": (fixture("deepseek-v3"), [None]),
    "yarn-qwen25-legacy-type": (fixture("qwen2.5-7b-instruct-yarn-legacy-type"), [None]),
    "yarn-attention-factor-and-betas": (
        LLAMA_SMALL
        | {
            "rope_scaling": {
                "rope_type": "yarn",
                "factor": 8.0,
                "original_max_position_embeddings": 2048,
                "attention_factor": 0.9,
                "beta_fast": 16.0,
                "beta_slow": 2.0,
            }
        },
        [None],
    ),
    "yarn-partial-rotary-qwen3-next": (
        with_rope(
            "qwen3-next-80b-a3b-instruct",
            {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 262144},
            max_position_embeddings=1048576,
        ),
        [None],
    ),
    "yarn-tiny-x4": (
        LLAMA_SMALL
        | {"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 2048}},
        [None],
    ),
    "linear-x4": (LLAMA_SMALL | {"rope_scaling": {"rope_type": "linear", "factor": 4.0}}, [None]),
    "linear-x8-qwen3": (with_rope("qwen3-8b", {"rope_type": "linear", "factor": 8.0}), [None]),
    "dynamic-x4": (
        LLAMA_SMALL | {"rope_scaling": {"rope_type": "dynamic", "factor": 4.0}},
        [None, 1000, 4096, 16384],
    ),
    "dynamic-x2-qwen25": (
        with_rope("qwen2.5-7b-instruct", {"type": "dynamic", "factor": 2.0}),
        [None, 65536],
    ),
    "llama3-3.1-8b": (fixture("llama-3.1-8b-instruct"), [None]),
    "llama3-3.2-1b": (fixture("llama-3.2-1b"), [None]),
    "llama3-equal-band-factors-llama4-style": (
        LLAMA_SMALL
        | {
            "max_position_embeddings": 131072,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 16.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 1.0,
                "original_max_position_embeddings": 8192,
            },
        },
        [None],
    ),
    "longrope-phi3": (fixture("phi-3-mini-128k-instruct"), [None, 2048, 4096, 4097, 65536]),
    "longrope-phi3-attention-factor": (
        with_rope(
            "phi-3-mini-128k-instruct",
            fixture("phi-3-mini-128k-instruct")["rope_scaling"] | {"attention_factor": 1.25},
        ),
        [None, 8192],
    ),
}


def transformers_result(config_json: dict[str, Any], seq_len: int | None) -> tuple[np.ndarray, float, str]:
    from transformers import AutoConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    fields = {k: v for k, v in config_json.items() if k not in ("model_type", "auto_map", "architectures")}
    config = AutoConfig.for_model(config_json["model_type"], **fields)
    params = config.rope_parameters
    rope_type = params["rope_type"]
    frequencies, factor = ROPE_INIT_FUNCTIONS[rope_type](config, None, seq_len=seq_len)
    return frequencies.double().numpy(), float(factor), rope_type


@pytest.mark.parametrize(
    ("config_json", "seq_len"),
    [pytest.param(cfg, s, id=f"{name}-seq{s}") for name, (cfg, lens) in CASES.items() for s in lens],
)
def test_inv_freq_and_attention_factor_match_transformers(
    config_json: dict[str, Any], seq_len: int | None
) -> None:
    expected, expected_factor, their_type = transformers_result(config_json, seq_len)
    spec = spec_from_config(config_json, model="case", source="local")
    params = {"rope_type": spec.rope.rope_type, **spec.rope.params}
    assert spec.rope.rope_type == their_type
    ours = inv_freq(
        params,
        spec.rope.rope_theta,
        spec.rope.rotary_dim,
        max_position_embeddings=spec.max_position_embeddings,
        seq_len=seq_len,
    )
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=0)
    ours_factor = attention_factor(params, max_position_embeddings=spec.max_position_embeddings)
    assert ours_factor == pytest.approx(expected_factor, rel=1e-6)


def test_cases_cover_every_type_transformers_and_we_share() -> None:
    covered = {transformers_result(cfg, None)[2] for cfg, _ in CASES.values()}
    assert covered == {"yarn", "linear", "dynamic", "llama3", "longrope"}
