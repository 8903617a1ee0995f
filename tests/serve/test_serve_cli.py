"""`ropeguard serve --dry-run` and the CLI's refusals (nothing is started here)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from ropeguard.cli import main


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    config = {
        "architectures": ["Qwen3ForCausalLM"],
        "model_type": "qwen3",
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 32,
        "max_position_embeddings": 8192,
        "vocab_size": 102,
        "tie_word_embeddings": True,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
        "dtype": "bfloat16",
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_dry_run_json_is_the_plan_and_the_command(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["serve", str(model_dir), "--target", "8k", "--native", "2k", "--port", "8123", "--dry-run", "--json",
         "--", "--enable-prefix-caching"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    document = json.loads(out)
    argv = document["command"]
    assert argv[argv.index("--port") + 1] == "8123"
    assert argv[argv.index("--max-model-len") + 1] == "8192"
    assert json.loads(argv[argv.index("--hf-overrides") + 1]) == document["plan"]["hf_overrides"]
    assert document["plan"]["factor"] == 4.0
    assert argv[-1] == "--enable-prefix-caching"
    words = shlex.split(document["shell"])
    assert words[len(document["env"]) :] == argv


def test_dry_run_text_prints_the_command(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(model_dir), "--target", "8k", "--native", "2k", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "The command ropeguard serve would run:" in out
    assert "--max-model-len 8192" in out


def test_conflicting_extra_arg_is_refused(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve", str(model_dir), "--target", "8k", "--dry-run", "--", "--max-model-len", "4096"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error: extra engine argument --max-model-len conflicts with the planned launch" in err
    assert "hint: change the length with --target" in err


def test_json_without_dry_run_is_a_usage_error(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(model_dir), "--target", "8k", "--json"]) == 2
    assert "--json goes with --dry-run" in capsys.readouterr().err
