"""Every well-known model plans; the override applied to the real transformers config gives our rope."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ropeguard.errors import PlanRefused
from ropeguard.models.reader import load_model_spec, registry_spec
from ropeguard.models.registry import known_models
from ropeguard.plan import make_plan

FIXTURES = Path(__file__).resolve().parents[1] / "models" / "fixtures"


@pytest.mark.parametrize("model_id", known_models())
def test_every_known_model_plans_within_and_beyond_its_window(model_id: str) -> None:
    spec = registry_spec(model_id)
    assert spec is not None
    within = make_plan(spec, spec.native_context, engine_version="0.33.0")
    assert within.hf_overrides is None and within.factor == 1.0
    assert within.memory.kv_bytes_per_token > 0 or spec.full_attention_layers == 0
    target = spec.native_context * 2
    if spec.has_own_scaling:
        with pytest.raises(PlanRefused):
            make_plan(spec, target, engine_version="0.33.0")
    beyond = make_plan(spec, target, engine_version="0.33.0", force=True)
    assert beyond.hf_overrides is not None
    inner = beyond.hf_overrides.get(spec.text_config_key or "", beyond.hf_overrides)
    assert inner["max_position_embeddings"] == target
    assert beyond.rotary_cache_positions == target
    assert json.loads(beyond.command[beyond.command.index("--hf-overrides") + 1]) == beyond.hf_overrides


@pytest.mark.parametrize(
    ("fixture", "target"),
    [
        ("qwen3-8b.json", 131072),
        ("qwen3-8b-transformers5.json", 131072),
        ("qwen2.5-7b-instruct.json", 100_000),
    ],
)
def test_override_applied_to_transformers_config_gives_our_rope(
    fixture: str, target: int, caplog: pytest.LogCaptureFixture
) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    from ropeguard.rope import attention_factor, inv_freq

    path = FIXTURES / fixture
    spec = load_model_spec(str(path))
    plan = make_plan(spec, target, engine_version="0.33.0")
    assert plan.applied_rope is not None and plan.hf_overrides is not None
    config = transformers.AutoConfig.for_model(**json.loads(path.read_text()))
    # vLLM applies a dict of overrides with config.update(); the rope dict then is what it reads.
    with caplog.at_level(logging.WARNING, logger="transformers"):
        config.update(plan.hf_overrides)
        config.standardize_rope_params()
        config.validate_rope()
    assert not [r for r in caplog.records if "factor" in r.getMessage()], caplog.text
    theirs, their_attention = ROPE_INIT_FUNCTIONS["yarn"](config, torch.device("cpu"))
    ours = inv_freq(plan.applied_rope, plan.rope_theta, plan.rotary_dim, max_position_embeddings=target)
    assert theirs.double().numpy() == pytest.approx(ours, rel=1e-6)
    assert their_attention == pytest.approx(
        attention_factor(plan.applied_rope, max_position_embeddings=target), rel=1e-9
    )
    assert their_attention == pytest.approx(plan.attention_factor, rel=1e-9)
