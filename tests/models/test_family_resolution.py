"""Offline resolution by steps: registry entry, then family rules from the id or a path's basename."""

from __future__ import annotations

import pytest

from ropeguard.errors import ModelConfigError
from ropeguard.models import known_models, load_model_spec, registry_spec
from ropeguard.models.family_rules import FAMILY_RULES, match_family
from ropeguard.plan import make_plan
from ropeguard.plan.memory import count_parameters


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize(
    ("model", "family", "native", "theta"),
    [
        ("Qwen/Qwen2.5-32B-Instruct", "qwen2.5", 32768, 1e6),
        ("Qwen/Qwen2.5-Coder-7B-Instruct", "qwen2.5-coder", 32768, 1e6),
        ("Qwen/Qwen3-32B", "qwen3", 32768, 1e6),
        ("Qwen/Qwen3-235B-A22B", "qwen3", 32768, 1e6),
        ("Qwen/Qwen3-30B-A3B-Instruct-2507", "qwen3-2507", 262144, 1e7),
        ("Qwen/Qwen3-Coder-480B-A35B-Instruct", "qwen3-coder", 262144, 1e7),
        ("meta-llama/Llama-3.1-405B-Instruct", "llama-3.1", 131072, 5e5),
        ("meta-llama/Llama-3.2-3B-Instruct", "llama-3.2", 131072, 5e5),
        ("meta-llama/Meta-Llama-3-8B-Instruct", "llama-3", 8192, 5e5),
        ("meta-llama/Llama-4-Maverick-17B-128E-Instruct", "llama-4", 1048576, 5e5),
    ],
)
def test_family_rule_resolves_an_unregistered_id(model: str, family: str, native: int, theta: float) -> None:
    spec = load_model_spec(model)
    assert spec.resolved_by == "family" and spec.config_source == "family"
    assert f"family rule {family}" in spec.native_context_source
    assert spec.native_context == native and spec.rope.rope_theta == theta
    assert spec.shape_known and count_parameters(spec) is not None


@pytest.mark.parametrize(
    ("model", "published"),
    [
        ("Qwen/Qwen2.5-32B-Instruct", 32.5e9),
        ("Qwen/Qwen3-32B", 32.8e9),
        ("Qwen/Qwen3-235B-A22B", 235e9),
        ("meta-llama/Llama-3.1-405B-Instruct", 405e9),
        ("meta-llama/Llama-4-Maverick-17B-128E-Instruct", 400e9),
    ],
)
def test_family_sizes_count_the_published_parameters(model: str, published: float) -> None:
    # Published totals: the model cards (Llama 4 Maverick: 400B total, vision encoder included).
    counted = count_parameters(load_model_spec(model))
    assert counted is not None and abs(counted.total - published) / published < 0.02


def test_family_shapes_agree_with_the_registry_where_both_know_a_model() -> None:
    checked = 0
    for model_id in known_models():
        found = match_family(model_id)
        registered = registry_spec(model_id)
        if found is None or not found.size_known or registered is None:
            continue
        from ropeguard.models import spec_from_config

        family = spec_from_config(found.config, model=model_id, source="family", native=found.native)
        for field in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                      "head_dim", "intermediate_size", "vocab_size", "tie_word_embeddings",
                      "max_position_embeddings", "native_context"):  # fmt: skip
            assert getattr(family, field) == getattr(registered, field), (model_id, field)
        assert family.rope.rope_theta == registered.rope.rope_theta, model_id
        assert family.rope.params == registered.rope.params, model_id
        checked += 1
    assert checked >= 8


def test_a_path_that_does_not_exist_resolves_by_its_basename() -> None:
    by_registry = load_model_spec("/models/Qwen3-8B-FP8")
    assert by_registry.resolved_by == "registry" and by_registry.quantization == "fp8"
    assert by_registry.model == "/models/Qwen3-8B-FP8"
    by_family = load_model_spec("/models/Qwen3-32B-FP8")
    assert by_family.resolved_by == "family" and by_family.quantization == "fp8"
    assert "does not exist here" in by_family.native_context_source
    plan = make_plan(by_family, 131072, engine="vllm", engine_version="0.33.0")
    assert "/models/Qwen3-32B-FP8" in plan.command and plan.factor == 4


def test_unknown_size_plans_the_rope_without_memory() -> None:
    spec = load_model_spec("Qwen/Qwen3-22B")
    assert spec.resolved_by == "family" and not spec.shape_known
    plan = make_plan(spec, 131072, engine="vllm", engine_version="0.33.0")
    assert plan.factor == 4 and plan.memory.kv_bytes_per_token is None
    assert plan.memory.parameters is None and plan.memory.fits is None


def test_family_whose_rope_depends_on_the_size_refuses_an_unknown_size() -> None:
    with pytest.raises(ModelConfigError, match="differ by size"):
        load_model_spec("Qwen/Qwen3-14B-Instruct-2507")


@pytest.mark.parametrize("model", ["Qwen/Qwen2.5-7B-Instruct-1M", "Qwen/Qwen2.5-VL-32B-Instruct", "foo/bar"])
def test_lookalikes_and_unknown_families_are_a_clear_error(model: str) -> None:
    with pytest.raises(ModelConfigError, match="family rules know it"):
        load_model_spec(model)


def test_every_family_rule_has_a_source_and_sizes() -> None:
    for rule in FAMILY_RULES:
        assert rule.source and rule.sizes, rule.key
