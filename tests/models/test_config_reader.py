"""The config reader against real published config.json files (tests/models/fixtures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ropeguard.errors import ModelConfigError, UnsupportedLayoutError
from ropeguard.models import load_model_spec, spec_from_config

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def spec(name: str, **kwargs: Any) -> Any:
    return spec_from_config(fixture(name), model=f"fixtures/{name}", source="local", **kwargs)


def test_at_least_twelve_families_are_fixtures() -> None:
    families = {json.loads(p.read_text()).get("model_type") for p in FIXTURES.glob("*.json")}
    assert len(families) >= 12, families


def test_qwen3_head_dim_is_explicit_not_hidden_over_heads() -> None:
    s = spec("qwen3-0.6b")
    assert s.hidden_size // s.num_attention_heads == 64
    assert s.head_dim == 128 and s.rope.rotary_dim == 128


@pytest.mark.parametrize("name", ["qwen3-0.6b", "qwen3-8b", "qwen3-30b-a3b", "qwen3-8b-transformers5"])
def test_qwen3_native_is_32768_not_max_position_embeddings(name: str) -> None:
    s = spec(name)
    assert s.max_position_embeddings == 40960
    assert s.native_context == 32768
    assert "Qwen3 model card" in s.native_context_source


@pytest.mark.parametrize("name", ["qwen3-235b-a22b-instruct-2507", "qwen3-next-80b-a3b-instruct"])
def test_qwen3_2507_and_next_are_native_at_max_position_embeddings(name: str) -> None:
    s = spec(name)
    assert s.native_context == s.max_position_embeddings == 262144
    assert "max_position_embeddings 262144" in s.native_context_source


def test_native_flag_overrides_every_rule() -> None:
    s = spec("qwen3-8b", native=40960, native_source="given with --native")
    assert s.native_context == 40960 and s.native_context_source == "given with --native"


def test_qwen25_sliding_window_with_use_sliding_window_false_is_full_attention() -> None:
    raw = fixture("qwen2.5-7b-instruct")
    assert raw["sliding_window"] == 131072 and raw["use_sliding_window"] is False
    s = spec("qwen2.5-7b-instruct")
    assert s.sliding_window is None
    assert s.full_attention_layers == s.num_hidden_layers == 28
    assert s.native_context == 32768 and "131,072" in s.native_context_source


def test_qwen25_use_sliding_window_true_slides_layers_from_max_window_layers() -> None:
    raw = fixture("qwen2.5-7b-instruct") | {
        "use_sliding_window": True,
        "sliding_window": 4096,
        "max_window_layers": 20,
    }
    s = spec_from_config(raw, model="x", source="local")
    assert s.layer_types[:20] == ["full_attention"] * 20
    assert s.layer_types[20:] == ["sliding_attention"] * 8 and s.sliding_window == 4096


def test_gemma3_text_config_wrapper_and_class_defaults() -> None:
    s = spec("gemma-3-27b-it")
    assert s.text_config_key == "text_config"
    assert s.model_type == "gemma3"
    assert s.max_position_embeddings == 131072  # Gemma3TextConfig default; the file omits it
    assert s.rope.rope_type == "linear" and s.rope.factor == 8.0
    assert s.rope.rope_theta == 1e6 and s.rope.local_rope_theta == 1e4
    assert (s.num_hidden_layers, s.num_key_value_heads, s.head_dim) == (62, 16, 128)
    assert s.sliding_window == 1024
    # 5 sliding then 1 full: layers 6, 12, ..., 60 are global.
    assert [i for i, k in enumerate(s.layer_types) if k == "full_attention"] == list(range(5, 62, 6))


def test_gemma3_transformers5_per_layer_type_rope_parameters_read_the_same() -> None:
    v4, v5 = spec("gemma-3-27b-it"), spec("gemma-3-27b-it-transformers5")
    assert v5.rope == v4.rope
    assert v5.layer_types == v4.layer_types


def test_phi3_top_level_original_and_longrope_factors() -> None:
    s = spec("phi-3-mini-128k-instruct")
    assert s.rope.rope_type == "longrope"
    assert s.rope.original_max_position_embeddings == 4096
    assert len(s.rope.params["short_factor"]) == len(s.rope.params["long_factor"]) == s.rope.rotary_dim // 2
    # sliding_window 262144 exceeds the context: no layer really slides.
    assert s.sliding_window is None and s.full_attention_layers == 32


def test_top_level_original_wins_over_the_one_in_the_dict() -> None:
    raw = fixture("phi-3-mini-128k-instruct")
    raw["rope_scaling"]["original_max_position_embeddings"] = 2048
    s = spec_from_config(raw, model="x", source="local")
    assert s.rope.original_max_position_embeddings == 4096


def test_phi4_top_level_original_without_scaling_stays_default() -> None:
    s = spec("phi-4")
    assert s.rope.rope_type == "default" and s.rope.params == {}
    assert s.native_context == 16384 and s.num_key_value_heads == 10


def test_deepseek_v3_mla_yarn_legacy_type_moe_and_fp8() -> None:
    s = spec("deepseek-v3")
    assert s.mla is not None and s.mla.kv_lora_rank == 512 and s.mla.qk_rope_head_dim == 64
    assert s.rope.rotary_dim == 64 and s.head_dim == 192
    assert s.rope.rope_type == "yarn" and "type" not in s.rope.params
    assert s.rope.params["mscale"] == 1.0 and s.rope.params["mscale_all_dim"] == 1.0
    assert s.layer_types == ["mla"] * 61
    assert s.moe is not None
    assert (s.moe.num_experts, s.moe.num_experts_per_tok, s.moe.num_shared_experts) == (256, 8, 1)
    assert s.moe.first_dense_layers == 3 and s.moe.moe_intermediate_size == 2048
    assert s.quantization == "fp8"
    assert s.native_context == 163840


def test_gpt_oss_yarn_truncate_false_alternating_sliding_and_mxfp4() -> None:
    s = spec("gpt-oss-20b")
    assert s.rope.params["truncate"] is False and s.rope.factor == 32.0
    assert s.sliding_window == 128
    assert s.layer_types[:4] == ["sliding_attention", "full_attention"] * 2
    assert s.full_attention_layers == 12
    assert s.moe is not None and (s.moe.num_experts, s.moe.num_experts_per_tok) == (32, 4)
    assert s.moe.moe_intermediate_size == 2880
    assert s.quantization == "mxfp4"
    assert s.native_context == 131072 and "yarn" in s.native_context_source


def test_qwen3_next_hybrid_partial_rotary_and_shared_expert() -> None:
    s = spec("qwen3-next-80b-a3b-instruct")
    assert s.rope.partial_rotary_factor == 0.25 and s.rope.rotary_dim == 64 and s.head_dim == 256
    assert s.layer_types.count("linear_attention") == 36 and s.full_attention_layers == 12
    assert s.layer_types[3] == "full_attention" and s.layer_types[0] == "linear_attention"
    assert s.moe is not None and s.moe.num_experts == 512 and s.moe.num_shared_experts == 1
    assert s.moe.shared_expert_intermediate_size == 512


def test_llama31_own_scaling_native_is_max_position_and_names_the_pretrain_length() -> None:
    s = spec("llama-3.1-8b-instruct")
    assert s.has_own_scaling and s.rope.rope_type == "llama3"
    assert s.native_context == 131072
    assert "8192" in s.native_context_source and "llama3" in s.native_context_source


def test_transformers5_rope_parameters_equal_transformers4_layout() -> None:
    v4, v5 = spec("qwen3-8b"), spec("qwen3-8b-transformers5")
    assert v5.rope == v4.rope and v5.dtype == v4.dtype == "bfloat16"
    yarn = spec("qwen3-8b-transformers5-yarn")
    assert yarn.rope.rope_type == "yarn" and yarn.rope.rope_theta == 1e6
    assert "rope_theta" not in yarn.rope.params
    assert yarn.native_context == 131072  # 32768 x 4 in the config itself


def test_legacy_type_key_becomes_rope_type() -> None:
    s = spec("qwen2.5-7b-instruct-yarn-legacy-type")
    assert s.rope.rope_type == "yarn" and "type" not in s.rope.params
    assert s.native_context == 131072


def test_multimodal_qwen_mrope_reads_as_default_frequencies() -> None:
    s = spec("qwen2.5-vl-7b-instruct")
    assert s.rope.rope_type == "default" and s.text_config_key is None
    assert s.rope.params["mrope_section"] == [16, 24, 24]


def test_torch_dtype_and_dtype_are_both_read() -> None:
    base = fixture("mistral-7b-instruct-v0.3")
    assert spec_from_config(base | {"torch_dtype": "float16"}, model="x", source="local").dtype == "float16"
    v5 = {k: v for k, v in base.items() if k != "torch_dtype"} | {"dtype": "float32"}
    assert spec_from_config(v5, model="x", source="local").dtype == "float32"


def test_chatglm_is_unsupported_with_a_one_line_message() -> None:
    with pytest.raises(UnsupportedLayoutError) as caught:
        spec("glm-4-9b-chat")
    assert "unsupported" in caught.value.message and "rope_ratio" in caught.value.message
    assert "\n" not in caught.value.message


def test_unknown_rope_type_is_unsupported() -> None:
    raw = fixture("mistral-7b-instruct-v0.3") | {"rope_scaling": {"rope_type": "mystery", "factor": 2.0}}
    with pytest.raises(UnsupportedLayoutError, match="mystery"):
        spec_from_config(raw, model="x", source="local")


@pytest.mark.parametrize(
    ("field", "named"),
    [
        ("hidden_size", "hidden_size"),
        ("num_hidden_layers", "num_hidden_layers"),
    ],
)
def test_missing_field_is_named(field: str, named: str) -> None:
    raw = fixture("mistral-7b-instruct-v0.3")
    del raw[field]
    with pytest.raises(ModelConfigError, match=f"'{named}'"):
        spec_from_config(raw, model="x", source="local", origin="some/config.json")


def test_missing_field_inside_text_config_is_named_with_its_prefix() -> None:
    raw = fixture("gemma-3-27b-it")
    del raw["text_config"]["hidden_size"]
    with pytest.raises(ModelConfigError, match=r"'text_config\.hidden_size'"):
        spec_from_config(raw, model="x", source="local")


def test_llama3_missing_parameter_is_named() -> None:
    raw = fixture("llama-3.1-8b-instruct")
    del raw["rope_scaling"]["low_freq_factor"]
    with pytest.raises(ModelConfigError, match=r"rope_scaling\.low_freq_factor"):
        spec_from_config(raw, model="x", source="local")


def test_not_json_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(ModelConfigError, match="is not JSON") as caught:
        load_model_spec(str(tmp_path))
    assert str(bad) in caught.value.message


def test_local_folder_and_config_path_read_the_same(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(fixture("qwen3-8b")))
    by_folder = load_model_spec(str(tmp_path))
    by_file = load_model_spec(str(tmp_path / "config.json"))
    assert by_folder.config_source == by_file.config_source == "local"
    assert by_folder.model_dump(exclude={"model"}) == by_file.model_dump(exclude={"model"})


def test_folder_without_config_and_missing_path_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match=r"no config\.json"):
        load_model_spec(str(tmp_path))
    with pytest.raises(ModelConfigError, match="no such file"):
        load_model_spec(str(tmp_path / "nope" / "config.json"))


def test_native_keyword_on_load(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(fixture("qwen3-8b")))
    s = load_model_spec(str(tmp_path), native=16384)
    assert s.native_context == 16384 and "--native" in s.native_context_source


def test_a_config_may_declare_its_own_native_context() -> None:
    raw = fixture("qwen3-8b") | {
        "ropeguard_native_context": 2048,
        "ropeguard_native_context_source": "trained at 2048 tokens, see the model card",
    }
    s = spec_from_config(raw, model="/any/folder", source="local")
    assert (
        s.native_context == 2048 and s.native_context_source == "trained at 2048 tokens, see the model card"
    )
    assert spec_from_config(raw, model="x", source="local", native=4096).native_context == 4096


def test_the_tiny_model_is_known_by_its_folder_name() -> None:
    from ropeguard.models import registry_entry

    entry = registry_entry("ropeguard/tiny-qwen3-2k")
    assert entry is not None
    s = spec_from_config(entry.config, model="/somewhere/tiny-qwen3-2k", source="local")
    assert s.native_context == 2048 and "ropeguard" in s.native_context_source


@pytest.mark.parametrize("theta", [1, 0.5])
def test_rotary_base_at_or_below_one_is_a_config_error(theta: float) -> None:
    # theta ** (-2i/d) must fall with i; at 1 every pair turns at the same rate and the YaRN ramp's
    # log(theta) is 0 (the table raised a bare ValueError from the rope math).
    raw = fixture("mistral-7b-instruct-v0.3") | {"rope_theta": theta}
    with pytest.raises(ModelConfigError, match=r"'rope_theta' must be above 1"):
        spec_from_config(raw, model="x", source="local")
    gemma = fixture("gemma-3-27b-it")
    gemma["text_config"]["rope_local_base_freq"] = theta
    with pytest.raises(ModelConfigError, match=r"rope_local_base_freq' must be above 1"):
        spec_from_config(gemma, model="x", source="local")
