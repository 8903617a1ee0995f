"""Properties of make_plan over random targets and native windows (hypothesis)."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from plan_specs import qwen3_8b

from ropeguard.plan import make_plan

VERSIONS = st.sampled_from(["0.10.2", "0.11.0", "0.11.1", "0.12.0", "0.29.0", "0.30.0", "0.33.0"])


@settings(max_examples=60, deadline=None)
@given(
    native=st.integers(min_value=512, max_value=1 << 20),
    target=st.integers(min_value=1, max_value=1 << 22),
    version=VERSIONS,
)
def test_factor_override_and_command_agree(native: int, target: int, version: str) -> None:
    spec = qwen3_8b(native_context=native, max_position_embeddings=max(native, 40960))
    plan = make_plan(spec, target, engine_version=version)
    argv = plan.command
    assert argv[argv.index("--max-model-len") + 1] == str(target)
    if target <= native:
        assert plan.factor == 1.0 and plan.rope_parameters is None
        assert "--hf-overrides" not in argv or "rope" not in argv[argv.index("--hf-overrides") + 1]
        return
    assert plan.factor == target / native
    overrides = json.loads(argv[argv.index("--hf-overrides") + 1])
    assert overrides == plan.hf_overrides
    key = "rope_parameters" if version >= "0.12.0" else "rope_scaling"
    assert (
        overrides[key]["factor"] * native == target or abs(overrides[key]["factor"] * native - target) < 1e-6
    )
    assert overrides[key]["original_max_position_embeddings"] == native
    assert ("max_position_embeddings" in overrides) == (version >= "0.30.0")
    assert plan.rotary_cache_positions is not None and plan.rotary_cache_positions <= target
    assert plan.attention_factor is not None and plan.attention_factor >= 1.0


@settings(max_examples=40, deadline=None)
@given(shorter=st.integers(min_value=1, max_value=1 << 20), extra=st.integers(min_value=1, max_value=1 << 20))
def test_kv_memory_grows_with_the_target(shorter: int, extra: int) -> None:
    small = make_plan(qwen3_8b(), shorter, engine_version="0.33.0").memory
    large = make_plan(qwen3_8b(), shorter + extra, engine_version="0.33.0").memory
    assert large.kv_bytes_at_target - small.kv_bytes_at_target == extra * small.kv_bytes_per_token
    assert (large.gpus_needed or 1 << 10) >= (small.gpus_needed or 1 << 10)
