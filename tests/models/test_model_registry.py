"""The registry of well-known models, and hub ids resolved offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ropeguard.errors import ModelConfigError
from ropeguard.models import known_models, load_model_spec, registry_entry, spec_from_config

FIXTURES = Path(__file__).parent / "fixtures"

REQUIRED = [
    "Qwen/Qwen2.5-7B-Instruct",
    "Qwen/Qwen3-0.6B",
    "Qwen/Qwen3-8B",
    "Qwen/Qwen3-30B-A3B",
    "Qwen/Qwen3-235B-A22B-Instruct-2507",
    "Qwen/Qwen3-Next-80B-A3B-Instruct",
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Llama-3.1-70B-Instruct",
    "meta-llama/Llama-3.2-1B",
    "meta-llama/Llama-3.3-70B-Instruct",
    "mistralai/Mistral-7B-Instruct-v0.3",
    "google/gemma-3-27b-it",
    "microsoft/Phi-3-mini-128k-instruct",
    "microsoft/phi-4",
    "deepseek-ai/DeepSeek-V3",
    "openai/gpt-oss-20b",
    "openai/gpt-oss-120b",
    "ropeguard/tiny-qwen3-2k",
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # An empty cache, whatever this machine holds (huggingface_hub reads HF_HUB_CACHE once, at import).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))


@pytest.mark.parametrize("model_id", REQUIRED)
def test_required_models_resolve_offline_from_the_registry(model_id: str) -> None:
    s = load_model_spec(model_id)
    assert s.config_source == "registry"
    assert s.native_context_source.startswith("ropeguard registry: ")
    assert s.model == model_id


@pytest.mark.parametrize("model_id", known_models())
def test_registry_native_agrees_with_reading_the_same_config_as_a_local_file(model_id: str) -> None:
    entry = registry_entry(model_id)
    assert entry is not None
    as_local = spec_from_config(entry.config, model=model_id, source="local")
    assert as_local.native_context == entry.native_context


def test_registry_configs_equal_the_fixtures_they_share() -> None:
    shared = 0
    for path in FIXTURES.glob("*.json"):
        for model_id in known_models():
            if model_id.split("/")[-1].lower() == path.stem:
                entry = registry_entry(model_id)
                assert entry is not None and entry.config == json.loads(path.read_text()), path.name
                shared += 1
    assert shared >= 12


def test_qwen3_8b_offline_facts() -> None:
    s = load_model_spec("Qwen/Qwen3-8B")
    assert (s.native_context, s.rope.rope_theta, s.max_position_embeddings) == (32768, 1e6, 40960)
    assert (s.num_hidden_layers, s.num_key_value_heads, s.head_dim) == (36, 8, 128)


def test_tiny_model_facts() -> None:
    s = load_model_spec("ropeguard/tiny-qwen3-2k")
    assert (s.hidden_size, s.intermediate_size, s.num_hidden_layers) == (256, 768, 4)
    assert (s.num_attention_heads, s.num_key_value_heads, s.head_dim) == (4, 2, 64)
    assert (s.rope.rope_theta, s.vocab_size, s.max_position_embeddings) == (1e4, 102, 8192)
    assert s.tie_word_embeddings and s.native_context == 2048


def test_ids_are_case_insensitive() -> None:
    assert load_model_spec("qwen/qwen3-8b").model == "Qwen/Qwen3-8B"


def test_native_override_applies_to_registry_models() -> None:
    s = load_model_spec("Qwen/Qwen3-8B", native=40960)
    assert s.native_context == 40960 and "--native" in s.native_context_source


def test_unknown_id_offline_says_to_pass_a_folder() -> None:
    with pytest.raises(ModelConfigError) as caught:
        load_model_spec("nobody/no-such-model-xyz")
    assert "nobody/no-such-model-xyz" in caught.value.message
    assert caught.value.hint is not None and "folder" in caught.value.hint


def test_unreachable_hub_falls_back_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from ropeguard.models import hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    # A port nothing listens on: the probe fails at once instead of huggingface_hub's ~25 s of retries.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    start = time.monotonic()
    s = load_model_spec("Qwen/Qwen3-8B")
    assert s.config_source == "registry"
    assert time.monotonic() - start < hub.PROBE_TIMEOUT_S + 3
    with pytest.raises(ModelConfigError, match="unreachable"):
        load_model_spec("nobody/no-such-model-xyz")


def test_hub_cache_is_used_before_the_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Lay out a real huggingface_hub cache entry for a registered id, with a different config.
    cache = tmp_path / "hf-cache"
    repo = cache / "models--Qwen--Qwen3-8B"
    commit = "0" * 40
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    config = json.loads((FIXTURES / "qwen3-8b.json").read_text()) | {
        "num_hidden_layers": 2,
        "max_window_layers": 2,
    }
    (snapshot / "config.json").write_text(json.dumps(config))
    s = load_model_spec("Qwen/Qwen3-8B")
    assert s.config_source == "hub-cache" and s.num_hidden_layers == 2


def test_a_gated_hub_repo_falls_back_to_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from ropeguard.models import hub

    def gated(repo_id: str) -> Path:
        raise ModelConfigError(f"{repo_id} is a gated repository on the hub")

    # Injected fault: the hub answers, but refuses the file (meta-llama without a token).
    monkeypatch.setattr(hub, "download_config", gated)
    s = load_model_spec("meta-llama/Llama-3.1-8B-Instruct", offline=False)
    assert s.config_source == "registry" and s.rope.rope_type == "llama3"
    with pytest.raises(ModelConfigError, match="gated"):
        load_model_spec("nobody/gated-and-unknown", offline=False)


def test_hub_cache_found_from_the_environment_in_a_fresh_process(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    cache = tmp_path / "hf-home" / "hub"
    snapshot = cache / "models--Qwen--Qwen3-8B" / "snapshots" / ("1" * 40)
    snapshot.mkdir(parents=True)
    (cache / "models--Qwen--Qwen3-8B" / "refs").mkdir()
    (cache / "models--Qwen--Qwen3-8B" / "refs" / "main").write_text("1" * 40)
    config = json.loads((FIXTURES / "qwen3-8b.json").read_text()) | {
        "num_hidden_layers": 3,
        "max_window_layers": 3,
    }
    (snapshot / "config.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env |= {"HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = str(Path(__file__).parents[2] / "src")
    script = (
        "from ropeguard.models import load_model_spec\n"
        "s = load_model_spec('Qwen/Qwen3-8B')\n"
        "print(s.config_source, s.num_hidden_layers)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["hub-cache", "3"]
