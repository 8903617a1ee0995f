"""`plan` on files: the serve command names the model folder; an unconfirmed native window warns."""

from __future__ import annotations

from pathlib import Path

from ropeguard.models import load_model_spec
from ropeguard.plan import make_plan

DEMO = Path(__file__).parents[2] / "src" / "ropeguard" / "demo" / "model"


def test_plan_on_a_config_file_serves_its_folder() -> None:
    spec = load_model_spec(str(DEMO / "config.json"))
    plan = make_plan(spec, 4096, engine="vllm", engine_version="0.33.0")
    assert str(DEMO) in plan.command
    assert not any(part.endswith("config.json") for part in plan.command)
    sglang = make_plan(spec, 4096, engine="sglang")
    assert str(DEMO) in sglang.command


def test_bundled_tiny_model_warns_that_max_position_embeddings_is_unconfirmed() -> None:
    # Its config says 8192; it was trained at 2048 (README.md / training.json of the bundled model).
    spec = load_model_spec(str(DEMO))
    assert spec.native_context == 8192 and spec.native_context_unconfirmed
    plan = make_plan(spec, 4096, engine="vllm", engine_version="0.33.0")
    assert any("taken from max_position_embeddings" in w and "--native" in w for w in plan.warnings)


def test_native_given_or_registered_is_not_flagged() -> None:
    assert not load_model_spec(str(DEMO), native=2048).native_context_unconfirmed
    assert not load_model_spec("Qwen/Qwen3-8B", offline=True).native_context_unconfirmed
