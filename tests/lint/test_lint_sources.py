"""Sources and version resolution: what each file kind yields, and which vLLM version rules judge against."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ropeguard
from ropeguard.engines import vllm_versions
from ropeguard.lint import lint
from ropeguard.lint.launch import parse_length
from ropeguard.lint.linter import extract_files
from ropeguard.lint.shellwords import split_commands

QWEN_YARN = (
    '{"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768, '
    '"rope_theta": 1000000}}'
)


def _launches(path: Path) -> list[object]:
    files, _ = extract_files([str(path)], [])
    return [launch for item in files for launch in item.extract.launches]


def _rules(path: Path, **options: object) -> list[tuple[str, int]]:
    return [(f.rule, f.line) for f in lint([str(path)], offline=True, **options)]  # type: ignore[arg-type]


def test_the_public_function(tmp_path: Path) -> None:
    script = tmp_path / "serve.sh"
    script.write_text("vllm serve Qwen/Qwen3-8B --max-model-len 40960\n")
    assert [f.rule for f in ropeguard.lint_paths([str(script)], offline=True)] == ["RG205"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("131072", 131072),
        ("128K", 131072),
        ("128k", 128000),
        ("1.5k", 1500),
        ("$MAX", None),
        ("auto", None),
        ("1.5K", None),
    ],
)
def test_lengths_read_as_vllm_reads_them(text: str, value: int | None) -> None:
    assert parse_length(text) == value


def test_shell_words_quotes_and_continuations() -> None:
    text = 'A=1 vllm serve m \\\n  --hf-overrides \'{"a": 1}\' --x "$Y" # c\nnext one'
    commands = split_commands(text)
    assert [[w.text for w in c] for c in commands] == [
        ["A=1", "vllm", "serve", "m", "--hf-overrides", '{"a": 1}', "--x", "$Y"],
        ["next", "one"],
    ]
    assert [w.line for w in commands[0]] == [1, 1, 1, 1, 2, 2, 2, 2]
    assert commands[1][0].line == 3


def test_flag_forms_with_equals_and_underscores(tmp_path: Path) -> None:
    script = tmp_path / "serve.sh"
    script.write_text(
        "python -m vllm.entrypoints.openai.api_server --model=Qwen/Qwen3-8B --max_model_len=40960\n"
    )
    assert _rules(script) == [("RG205", 1)]


def test_dockerfile_shell_form_and_env(tmp_path: Path) -> None:
    docker = tmp_path / "Dockerfile"
    docker.write_text(
        "FROM vllm/vllm-openai:v0.33.0 AS serve\nENV VLLM_ALLOW_LONG_MAX_MODEL_LEN 1\n"
        "ENTRYPOINT vllm serve my-org/private --max-model-len 65536\n"
    )
    assert _rules(docker) == [("RG205", 2)]  # the env var with no scaling, model unknown


def test_compose_environment_mapping(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n  a:\n    image: vllm/vllm-openai:v0.33.0\n    environment:\n"
        "      VLLM_ALLOW_LONG_MAX_MODEL_LEN: '1'\n"
        "    command: [--model, my/model, --max-model-len, '65536']\n"
    )
    assert _rules(compose) == [("RG205", 5)]


def test_python_environ_and_engine_args(tmp_path: Path) -> None:
    script = tmp_path / "serve.py"
    script.write_text(
        "import os\nfrom vllm.engine.arg_utils import AsyncEngineArgs\n"
        "os.environ['VLLM_ALLOW_LONG_MAX_MODEL_LEN'] = '1'\n"
        "args = AsyncEngineArgs(model='my/model', max_model_len=65536)\n"
    )
    assert _rules(script) == [("RG205", 3)]


def test_helm_image_block_gives_the_version(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "image:\n  repository: vllm/vllm-openai\n  tag: v0.10.1\nvllm:\n  model: Qwen/Qwen3-8B\n"
        "  maxModelLen: 131072\n  hfOverrides:\n    rope_parameters: {rope_type: yarn, factor: 4.0,"
        " original_max_position_embeddings: 32768, rope_theta: 1000000}\n"
    )
    findings = lint([str(values)], offline=True)
    assert [(f.rule, f.line) for f in findings] == [("RG102", 8)]
    assert "0.10.1" in findings[0].message


def test_version_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "requirements.txt").write_text("vllm==0.10.1\n")
    sub = tmp_path / "deploy"
    sub.mkdir()
    script = sub / "serve.sh"
    script.write_text(f"vllm serve Qwen/Qwen3-8B --max-model-len 131072 --hf-overrides '{QWEN_YARN}'\n")

    def message(**options: object) -> str:
        found = [f for f in lint([str(tmp_path)], offline=True, **options) if f.rule == "RG102"]  # type: ignore[arg-type]
        return found[0].message if found else ""

    assert "pinned in" in message()  # the tree's pin (nearest folder up)
    assert message(engine_version="0.33.0") == ""  # the user's word wins: 0.33 wants rope_parameters
    script.write_text(
        "pip install vllm==0.11.0\n"
        f"vllm serve Qwen/Qwen3-8B --max-model-len 131072 --hf-overrides '{QWEN_YARN}'\n"
    )
    assert "0.11.0 (in this file at line 1)" in message()  # the same file beats the tree
    script.write_text(
        "pip install vllm==0.11.0\n"
        "docker run vllm/vllm-openai:v0.10.2 --model Qwen/Qwen3-8B --max-model-len 131072 "
        f"--hf-overrides '{QWEN_YARN}'\n"
    )
    assert "0.10.2 (image tag at line 2)" in message()  # the launch's own image beats the file
    (tmp_path / "requirements.txt").unlink()
    script.write_text(f"vllm serve Qwen/Qwen3-8B --max-model-len 131072 --hf-overrides '{QWEN_YARN}'\n")
    monkeypatch.setattr(
        vllm_versions, "installed_vllm", lambda: vllm_versions.InstalledVllm("vllm", "0.11.0")
    )
    assert "0.11.0 (installed)" in message()
    monkeypatch.setattr(vllm_versions, "installed_vllm", lambda: None)
    assert message() == ""  # newest known (0.33): rope_parameters is right


def test_model_config_folder(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 256,
        "intermediate_size": 512,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "num_hidden_layers": 2,
        "max_position_embeddings": 4096,
        "rope_theta": 10000.0,
        "vocab_size": 100,
        "torch_dtype": "bfloat16",
    }
    (model / "config.json").write_text(json.dumps(config))
    script = tmp_path / "serve.sh"
    script.write_text(
        "vllm serve /models/whatever --max-model-len 16384 --hf-overrides "
        '\'{"rope_parameters": {"rope_type": "yarn", "factor": 4.0, '
        '"original_max_position_embeddings": 4096, "rope_theta": 500000}, '
        '"max_position_embeddings": 16384}\'\n'
    )
    assert _rules(script) == []  # the model cannot be resolved: model rules stay quiet
    assert _rules(script, model_config=str(model)) == [("RG202", 1)]


def test_pyproject_and_pip_pins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\ndependencies = ["vllm[audio]==0.8.5", "torch==2.4.0"]\n'
    )
    (tmp_path / "setup.sh").write_text(
        "uv pip install 'vllm==0.9.0' torch==2.7.0\npython -m pip install vllm\n"
    )
    found = sorted(
        (Path(f.path).name, f.rule, f.line, f.severity) for f in lint([str(tmp_path)], offline=True)
    )
    assert found == [("pyproject.toml", "RG301", 2, "error"), ("setup.sh", "RG301", 2, "warning")]


def test_per_layer_type_rope_dicts(tmp_path: Path) -> None:
    """Gemma 3 keeps a rope dict per layer type; restating its own (linear x8, local base 1e4) is fine."""
    layered = {
        "text_config": {
            "rope_parameters": {
                "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            }
        }
    }
    script = tmp_path / "serve.sh"
    script.write_text(
        f"vllm serve google/gemma-3-27b-it --max-model-len 131072 --hf-overrides '{json.dumps(layered)}'\n"
    )
    assert _rules(script) == []
    layered["text_config"]["rope_parameters"]["sliding_attention"]["rope_theta"] = 500.0
    layered["text_config"]["rope_parameters"]["full_attention"]["rope_type"] = "yarn"
    script.write_text(
        f"vllm serve google/gemma-3-27b-it --max-model-len 131072 --hf-overrides '{json.dumps(layered)}'\n"
    )
    assert sorted(_rules(script)) == [("RG202", 1), ("RG204", 1), ("RG303", 1)]
