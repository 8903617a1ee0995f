"""`ropeguard inspect` through the real CLI entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ropeguard.cli import main

FIXTURES = Path(__file__).parents[1] / "models" / "fixtures"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))


def test_json_is_one_document_with_the_facts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "Qwen/Qwen3-8B", "--json"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc["native_context"] == 32768 and doc["max_position_embeddings"] == 40960
    assert doc["rope"]["rope_theta"] == 1e6 and doc["head_dim"] == 128
    assert doc["num_key_value_heads"] == 8 and doc["num_hidden_layers"] == 36
    assert doc["config_source"] == "registry" and doc["has_own_scaling"] is False
    assert "Qwen3 model card" in doc["native_context_source"]


def test_native_flag_takes_token_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "Qwen/Qwen3-8B", "--json", "--native", "16k"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["native_context"] == 16384 and "--native" in doc["native_context_source"]


def test_bad_native_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "Qwen/Qwen3-8B", "--native", "lots"]) == 2
    assert "--native" in capsys.readouterr().err


def test_text_table_names_the_layout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(FIXTURES / "gpt-oss-20b.json")]) == 0
    out = capsys.readouterr().out
    for expected in ("gpt_oss", "131072", "yarn", "150000", "sliding_attention", "window 128", "mxfp4"):
        assert expected in out


def test_text_table_for_a_wrapped_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(FIXTURES / "gemma-3-27b-it.json")]) == 0
    out = capsys.readouterr().out
    assert "text_config" in out and "linear" in out and "sliding layers: 10000" in out


def test_chatglm_exits_2_unsupported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(FIXTURES / "glm-4-9b-chat.json")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    first = captured.err.splitlines()[0]
    assert first.startswith("error: ") and "unsupported" in first


def test_not_json_exits_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("model_type: qwen3\n")
    assert main(["inspect", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and str(bad) in captured.err and "Traceback" not in captured.err


def test_missing_field_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = json.loads((FIXTURES / "qwen3-8b.json").read_text())
    del config["num_attention_heads"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert main(["inspect", str(tmp_path)]) == 2
    assert "'num_attention_heads'" in capsys.readouterr().err


def test_unknown_id_exits_2_saying_to_pass_a_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "nobody/no-such-model-xyz"]) == 2
    err = capsys.readouterr().err
    assert "nobody/no-such-model-xyz" in err and "folder" in err


def test_inspect_does_not_import_torch_transformers_or_vllm(tmp_path: Path) -> None:
    script = (
        "import sys, json\n"
        "from ropeguard.cli import main\n"
        "code = main(['inspect', 'Qwen/Qwen3-8B', '--json'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'vllm'))\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hf-cache"))
    env["PYTHONPATH"] = str(Path(__file__).parents[2] / "src")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}
    assert json.loads(done.stdout)["model"] == "Qwen/Qwen3-8B"
