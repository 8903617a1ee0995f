"""JSON and SARIF output, exit codes, --fix / --write, and the CLI staying light."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

from ropeguard.cli import main
from ropeguard.lint import lint
from ropeguard.lint.rules import RULES
from ropeguard.lint.sarif import to_sarif

CORPUS = Path(__file__).parent / "corpus"
SCHEMA = json.loads((Path(__file__).parent / "sarif-2.1.0-subset.schema.json").read_text())


def test_json_is_the_design_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lint", str(CORPUS / "bad" / "wrong_original.sh"), "--offline", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [set(item) for item in out] == [{"rule", "severity", "path", "line", "message", "fix"}]
    assert out[0]["rule"] == "RG201" and out[0]["line"] == 5 and out[0]["severity"] == "error"


def test_clean_tree_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(CORPUS / "clean"), "--offline", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_info_only_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "old.sh"
    script.write_text("vllm serve my/model --rope-theta 10000\n")
    assert main(["lint", str(script), "--engine-version", "0.10.0", "--offline", "--format", "json"]) == 0
    assert [f["severity"] for f in json.loads(capsys.readouterr().out)] == ["info"]


@pytest.mark.parametrize(
    "argv",
    [
        ["lint", "/no/such/path"],
        ["lint", ".", "--format", "xml"],
        ["lint", ".", "--engine-version", "banana"],
        ["lint", ".", "--model-config", "/no/such/model"],
    ],
)
def test_usage_errors_exit_two(argv: list[str]) -> None:
    assert main(argv) == 2


def test_sarif_validates_against_the_schema(tmp_path: Path) -> None:
    # The bad corpus has errors and warnings; vLLM 0.10 still takes --rope-scaling (an info).
    shutil.copytree(CORPUS / "bad", tmp_path / "bad")
    old = tmp_path / "bad" / "old.sh"
    old.write_text('pip install vllm==0.10.0\nvllm serve m --rope-scaling \'{"rope_type": "yarn"}\'\n')
    findings = lint([str(tmp_path / "bad")], offline=True)
    log = to_sarif(findings, root=str(tmp_path))
    jsonschema.validate(log, SCHEMA)
    results = log["runs"][0]["results"]
    assert len(results) == len(findings)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert sorted(rule["id"] for rule in rules) == sorted(RULES)
    for result in results:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not urlsplit(uri).scheme and "\\" not in uri and not uri.startswith("/")
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    levels = {finding.severity: result["level"] for finding, result in zip(findings, results, strict=True)}
    assert levels == {"error": "error", "warning": "warning", "info": "note"}


def test_sarif_of_a_broken_log_fails_the_schema() -> None:
    log = to_sarif(lint([str(CORPUS / "bad" / "bad_json.sh")], offline=True))
    log["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(log, SCHEMA)


def test_cli_sarif_is_one_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(CORPUS / "bad" / "torch_drift"), "--offline", "--format", "sarif"]) == 1
    log = json.loads(capsys.readouterr().out)
    jsonschema.validate(log, SCHEMA)


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / Path(name).name
    shutil.copy(CORPUS / "bad" / name, target)
    return target


def test_fix_prints_a_diff_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _copy(tmp_path, "wrong_original.sh")
    before = script.read_text()
    assert main(["lint", str(script), "--offline", "--fix"]) == 1
    diff = capsys.readouterr().out
    assert diff.startswith(f"--- a/{str(script).lstrip('/')}")
    assert '-  --hf-overrides \'{"rope_parameters": {"rope_type": "yarn", "factor": 3.2' in diff
    assert '"original_max_position_embeddings": 32768' in diff
    assert script.read_text() == before


@pytest.mark.parametrize(
    "name",
    [
        "wrong_original.sh",
        "stale_rope_flag.sh",
        "qwen3_silent_zone.sh",
        "torch_drift/requirements.txt",
        "over_scaled.compose.yml",
        "allow_long_unscaled.sh",
    ],
)
def test_write_fixes_the_file(tmp_path: Path, name: str) -> None:
    target = _copy(tmp_path, name)
    assert lint([str(target)], offline=True)
    assert main(["lint", str(target), "--offline", "--write"]) == 0
    assert [f for f in lint([str(target)], offline=True) if f.fails] == []


def test_fix_diff_applies_with_git_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _copy(tmp_path, "allow_long_unscaled.sh")
    monkeypatch.chdir(tmp_path)
    assert main(["lint", script.name, "--offline", "--fix"]) == 1
    (tmp_path / "fix.diff").write_text(capsys.readouterr().out)
    done = subprocess.run(
        ["git", "apply", "fix.diff"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert lint([str(script)], offline=True) == []


def test_write_fixed_script_still_parses_as_shell(tmp_path: Path) -> None:
    target = _copy(tmp_path, "stale_rope_flag.sh")
    main(["lint", str(target), "--offline", "--write"])
    done = subprocess.run(["bash", "-n", str(target)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "--rope-scaling" not in target.read_text() and "--rope-theta" not in target.read_text()


def test_text_output_groups_by_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(CORPUS / "bad" / "torch_drift"), "--offline"]) == 1
    out = capsys.readouterr().out
    assert "requirements.txt" in out and "RG301" in out and "torch==2.6.0" in out


def test_lint_command_imports_no_heavy_package() -> None:
    code = (
        "import sys\n"
        "from ropeguard.cli import main\n"
        f"rc = main(['lint', {str(CORPUS / 'bad')!r}, '--offline', '--format', 'json'])\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules)\n"
        "print('HEAVY', heavy, rc)\n"
    )
    src = str(Path(__file__).parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip().splitlines()[-1] == "HEAVY [] 1"


def test_pre_commit_hooks_run_the_lint_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    hooks = yaml.safe_load((Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text())
    by_id = {hook["id"]: hook for hook in hooks}
    assert set(by_id) == {"ropeguard-lint", "ropeguard-lint-tree"}
    staged = _copy(tmp_path, "qwen3_silent_zone.sh")
    entry = by_id["ropeguard-lint"]["entry"].split()
    assert entry[:2] == ["ropeguard", "lint"]
    assert main([*entry[1:], str(staged)]) == 1  # pre-commit appends the staged files
    assert "RG205" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (  # a plain YAML scalar: JSON with ": " written into it would no longer be one string
            "deploy.yaml",
            "containers:\n  - image: vllm/vllm-openai:v0.33.0\n    args:\n      - --model=Qwen/Qwen3-8B\n"
            '      - --max-model-len=131072\n      - --hf-overrides={"rope_parameters":{"rope_type":"yarn",'
            '"factor":4.0,"original_max_position_embeddings":40960,"rope_theta":1000000},'
            '"max_position_embeddings":131072}\n',
        ),
        (  # JSON inside a JSON array (Dockerfile exec form) is escaped: not replaced blindly
            "Dockerfile",
            'FROM vllm/vllm-openai:v0.33.0\nCMD ["--model", "Qwen/Qwen3-8B", "--max-model-len", "40960"]\n',
        ),
    ],
)
def test_fix_leaves_unsafe_spots_alone(tmp_path: Path, name: str, text: str) -> None:
    target = tmp_path / name
    target.write_text(text)
    findings = lint([str(target)], offline=True)
    assert findings and all(f.fix for f in findings)  # the fix is reported ...
    assert main(["lint", str(target), "--offline", "--write"]) == 1
    assert target.read_text() == text  # ... but not written where it could break the file


def test_fix_inside_a_single_quoted_yaml_scalar(tmp_path: Path) -> None:
    target = tmp_path / "deploy.yaml"
    target.write_text(
        "containers:\n  - image: vllm/vllm-openai:v0.33.0\n    args:\n      - --model=Qwen/Qwen3-8B\n"
        '      - --max-model-len=131072\n      - \'--hf-overrides={"rope_parameters":{"rope_type":"yarn",'
        '"factor":4.0,"original_max_position_embeddings":40960,"rope_theta":1000000},'
        '"max_position_embeddings":131072}\'\n'
    )
    assert [f.rule for f in lint([str(target)], offline=True)] == ["RG201"]
    assert main(["lint", str(target), "--offline", "--write"]) == 0
    assert lint([str(target)], offline=True) == []
