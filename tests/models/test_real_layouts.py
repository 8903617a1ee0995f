"""Layouts met in real published configs: Gemma 2, Llama 4, Qwen2.5-1M, Cohere, Nemotron-H.

Fixture sources (facts written out from the published config.json files, not downloaded):
- gemma-2-27b / gemma-2-9b: google/gemma-2-27b and google/gemma-2-9b config.json (as quoted in
  vllm-project/vllm issue "v0.8.0 model_type error" and AI-Hypercomputer/maxtext hf_model_configs.py).
- llama-4-scout-17b-16e-instruct: meta-llama/Llama-4-Scout-17B-16E-Instruct config.json (text_config
  as mirrored in unsloth/Llama-4-Scout-17B-16E and TensorRT-LLM's Llama 4 test config).
- qwen2.5-7b-instruct-1m: Qwen/Qwen2.5-7B-Instruct-1M config.json (dual_chunk_attention_config as
  published for the 7B/14B-1M models).
- c4ai-command-r-v01: CohereForAI/c4ai-command-r-v01 config.json (no tie_word_embeddings key).
- nemotron-nano-9b-v2: nvidia/NVIDIA-Nemotron-Nano-9B-v2 config.json (hybrid_override_pattern).
- granite-3.3-8b-instruct: ibm-granite/granite-3.3-8b-instruct config.json (model card: 128K context,
  8.17B parameters on its hub page).
- olmo-2-7b-instruct: an allenai OLMo 2 7B instruct config.json (`_name_or_path` allenai/open_instruct_dev;
  OLMo 2 was trained at 4096 tokens, 7.30B parameters on the OLMo-2-1124-7B hub page).
Published parameter counts: Gemma 2 27.2B / 9.24B (model cards), Llama 4 Scout 109B total (model
card, vision encoder included), Qwen2.5-7B 7.61B (model card), Command R 35B (model card).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ropeguard.errors import PlanRefused, UnsupportedLayoutError
from ropeguard.models import ModelSpec, spec_from_config
from ropeguard.plan import make_plan
from ropeguard.plan.memory import count_parameters, kv_cache

FIXTURES = Path(__file__).parent / "fixtures"
GIB = 1024**3


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def spec(name: str) -> ModelSpec:
    return spec_from_config(fixture(name), model=f"fixtures/{name}", source="local")


def kv_per_layer(s: ModelSpec) -> int:
    return 2 * s.num_key_value_heads * s.head_dim * 2  # K and V, bf16


@pytest.mark.parametrize(
    ("name", "published", "full_layers"),
    [("gemma-2-27b", 27.2e9, 23), ("gemma-2-9b", 9.24e9, 21)],
)
def test_gemma2_alternates_sliding_and_full_layers(name: str, published: float, full_layers: int) -> None:
    s = spec(name)
    # Gemma2Config: layer i slides when (i + 1) % 2, so even indices slide, odd ones attend fully.
    assert s.layer_types[0] == "sliding_attention" and s.layer_types[1] == "full_attention"
    assert s.full_attention_layers == full_layers
    assert s.sliding_window == 4096
    kv = kv_cache(s)
    assert kv.bytes_per_token == full_layers * kv_per_layer(s)
    assert kv.sliding_layers == s.num_hidden_layers - full_layers
    # No tie_word_embeddings key: Gemma2Config defaults to tied (the embedding counts once).
    assert s.tie_word_embeddings
    counted = count_parameters(s)
    assert counted is not None
    assert abs(counted.total - published) / published < 0.02


def test_gemma2_9b_kv_matches_the_issue_numbers() -> None:
    kv = kv_cache(spec("gemma-2-9b"))
    assert kv.bytes_per_token == 172_032
    assert kv.at(131072) / GIB == pytest.approx(21.7, abs=0.05)


def test_llama4_scout_chunked_layers_are_bounded_by_the_chunk() -> None:
    s = spec("llama-4-scout-17b-16e-instruct")
    assert s.text_config_key == "text_config"
    # Three of every four layers: RoPE + chunked local attention; every fourth: NoPE, full attention.
    assert s.layer_types[:4] == ["chunked_attention"] * 3 + ["full_attention"]
    assert s.full_attention_layers == 12
    assert s.attention_chunk_size == 8192
    kv = kv_cache(s)
    assert kv.bytes_per_token == 12 * kv_per_layer(s) == 49_152
    assert kv.chunked_layers == 36
    # Past the chunk the chunked layers stop growing.
    assert kv.at(1_000_000) - kv.at(500_000) == 500_000 * kv.bytes_per_token


def test_llama4_scout_counts_the_shared_expert() -> None:
    s = spec("llama-4-scout-17b-16e-instruct")
    assert s.moe is not None
    assert s.moe.num_experts == 16 and s.moe.shared_expert_intermediate_size == 8192
    assert s.moe.moe_layers == list(range(48))  # interleave_moe_layer_step 1: every layer is MoE
    counted = count_parameters(s)
    assert counted is not None
    # 109B published includes the ~0.7B vision encoder, which the text model does not count.
    assert abs(counted.total - 109e9) / 109e9 < 0.02


def test_llama4_maverick_style_interleave_puts_moe_on_odd_layers() -> None:
    raw = fixture("llama-4-scout-17b-16e-instruct")
    raw["text_config"]["interleave_moe_layer_step"] = 2
    s = spec_from_config(raw, model="maverick-shaped", source="local")
    assert s.moe is not None and s.moe.moe_layers == list(range(1, 48, 2))
    assert s.intermediate_size == 16384  # dense layers use intermediate_size_mlp


def test_llama4_plan_needs_fewer_gpus_than_all_full_attention() -> None:
    s = spec("llama-4-scout-17b-16e-instruct")
    plan = make_plan(s, 1_048_576, engine="vllm", engine_version="0.33.0")
    assert plan.memory.kv_bytes_per_token == 49_152
    as_full = s.model_copy(update={"layer_types": ["full_attention"] * 48, "attention_chunk_size": None})
    full = make_plan(as_full, 1_048_576, engine="vllm", engine_version="0.33.0")
    assert full.memory.kv_bytes_per_token == 4 * plan.memory.kv_bytes_per_token
    assert plan.memory.gpus_needed is not None and full.memory.gpus_needed is not None
    assert plan.memory.gpus_needed < full.memory.gpus_needed


def test_qwen_1m_native_is_the_trained_window() -> None:
    s = spec("qwen2.5-7b-instruct-1m")
    assert s.max_position_embeddings == 1_010_000
    assert s.native_context == 262_144
    assert s.dual_chunk is not None and s.dual_chunk.chunk_size == 262_144
    assert "dual chunk attention" in s.native_context_source
    assert kv_cache(s).bytes_per_token == 28 * kv_per_layer(s) == 57_344
    counted = count_parameters(s)
    assert counted is not None and abs(counted.total - 7.61e9) / 7.61e9 < 0.02


def test_qwen_1m_is_never_planned_as_yarn() -> None:
    s = spec("qwen2.5-7b-instruct-1m")
    with pytest.raises(PlanRefused, match="no backend for it"):
        make_plan(s, 1_000_000, engine="vllm", engine_version="0.33.0")
    with pytest.raises(PlanRefused, match="past that"):
        make_plan(s, 1_048_576, engine="vllm", engine_version="0.10.2")
    plan = make_plan(s, 1_000_000, engine="vllm", engine_version="0.10.2")
    assert plan.scaling == "dual-chunk" and plan.hf_overrides is None
    assert plan.env == {"VLLM_USE_V1": "0", "VLLM_ATTENTION_BACKEND": "DUAL_CHUNK_FLASH_ATTN"}
    assert "--enforce-eager" in plan.command and "YaRN" not in " ".join(plan.warnings)
    inside = make_plan(s, 131072, engine="vllm", engine_version="0.33.0")
    assert inside.scaling == "none" and inside.rope_parameters is None
    assert any("dual_chunk_attention_config" in w for w in inside.warnings)
    sglang = make_plan(s, 1_000_000, engine="sglang")
    assert sglang.scaling == "dual-chunk" and sglang.rope_parameters is None
    with pytest.raises(PlanRefused, match="does not implement"):
        make_plan(s, 1_000_000, engine="llama.cpp")


def test_cohere_defaults_to_tied_embeddings() -> None:
    s = spec("c4ai-command-r-v01")
    assert s.tie_word_embeddings
    counted = count_parameters(s)
    assert counted is not None and abs(counted.total - 35e9) / 35e9 < 0.02
    assert kv_cache(s).bytes_per_token == 40 * kv_per_layer(s)


def test_nemotron_h_has_no_rope() -> None:
    with pytest.raises(UnsupportedLayoutError, match="has no rotary position embedding"):
        spec("nemotron-nano-9b-v2")


def test_partial_config_plans_the_rope_without_a_memory_plan() -> None:
    raw = fixture("qwen2.5-7b-instruct-1m")
    del raw["dual_chunk_attention_config"], raw["intermediate_size"]
    raw["max_position_embeddings"] = 32768
    s = spec_from_config(raw, model="partial", source="local")
    assert s.intermediate_size is None and s.missing_weight_fields == ["intermediate_size"]
    plan = make_plan(s, 131072, engine="vllm", engine_version="0.33.0")
    assert plan.scaling == "yarn" and plan.factor == 4
    assert plan.memory.parameters is None and plan.memory.weight_bytes is None
    assert plan.memory.fits is None and plan.memory.kv_bytes_per_token == 57_344
    assert any("memory plan unknown" in w for w in plan.warnings)


@pytest.mark.parametrize(
    ("name", "native", "published", "kv_heads", "target", "factor"),
    [
        ("granite-3.3-8b-instruct", 131072, 8.17e9, 8, 262144, 2.0),
        ("olmo-2-7b-instruct", 4096, 7.30e9, 32, 16384, 4.0),
    ],
)
def test_configs_checked_in_review_plan_yarn_over_their_window(
    name: str, native: int, published: float, kv_heads: int, target: int, factor: float
) -> None:
    s = spec(name)
    assert s.native_context == native and s.native_context_unconfirmed
    assert s.num_key_value_heads == kv_heads and s.head_dim == 128
    counted = count_parameters(s)
    assert counted is not None and abs(counted.total - published) / published < 0.01
    # Every layer attends fully: K and V of every KV head of every layer, bf16.
    assert kv_cache(s).bytes_per_token == s.num_hidden_layers * kv_per_layer(s)
    plan = make_plan(s, target, engine="vllm", engine_version="0.33.0")
    assert plan.scaling == "yarn" and plan.factor == factor
    params = plan.rope_parameters or {}
    assert params["rope_type"] == "yarn" and params["original_max_position_embeddings"] == native
    assert params["rope_theta"] == s.rope.rope_theta
