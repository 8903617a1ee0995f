"""Launch parsing the way a shell / Kubernetes / Python reader sees it (shapes from tests/lint/realworld)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ropeguard.lint import lint
from ropeguard.lint.linter import extract_files

REALWORLD = Path(__file__).parent / "realworld"


def _launches(path: Path) -> list[object]:
    files, _ = extract_files([str(path)], [])
    return [launch for item in files for launch in item.extract.launches]


def _one(path: Path) -> object:
    (launch,) = _launches(path)
    return launch


def test_a_bash_array_built_with_plus_equals_is_one_launch() -> None:
    launch = _one(REALWORLD / "bash_array.sh")
    assert launch.model.text == "Qwen/Qwen3-8B"  # type: ignore[attr-defined]
    assert launch.max_model_len.text == "131072"  # type: ignore[attr-defined]


def test_shell_variables_and_defaults_are_followed(tmp_path: Path) -> None:
    launch = _one(REALWORLD / "shell_vars.sh")
    assert (launch.model.text, launch.max_model_len.text) == ("Qwen/Qwen3-8B", "131072")  # type: ignore[attr-defined]
    script = tmp_path / "serve.sh"
    script.write_text("vllm serve ${MODEL:-Qwen/Qwen3-8B} --max-model-len $(cat len.txt)\n")
    launch = _one(script)
    assert launch.model.text == "Qwen/Qwen3-8B"  # type: ignore[attr-defined]
    assert launch.max_model_len.text == "$(cat len.txt)"  # type: ignore[attr-defined]  # never run


def test_a_substituted_value_is_never_edited_by_fix(tmp_path: Path) -> None:
    from ropeguard.lint import lint_report

    script = tmp_path / "serve.sh"
    script.write_text('LEN=131072\nvllm serve Qwen/Qwen3-8B --max-model-len $LEN --hf-overrides "$O"\n')
    report = lint_report([str(script)], offline=True)
    assert report.edits == []


def test_k8s_dollar_paren_comes_from_the_containers_env() -> None:
    launches = _launches(REALWORLD / "lws_leader_worker.yaml")
    assert [launch.max_model_len.text for launch in launches] == ["131072", "32768"]  # type: ignore[attr-defined]


def test_skypilot_envs_are_substituted_into_run() -> None:
    launch = _one(REALWORLD / "skypilot_serve.yaml")
    assert (launch.model.text, launch.max_model_len.text) == ("Qwen/Qwen3-8B", "131072")  # type: ignore[attr-defined]


def test_the_dotted_rope_scaling_form_is_a_rope_flag() -> None:
    (finding,) = lint([str(REALWORLD / "k8s_dotted_rope.yaml")], offline=True)
    assert (finding.rule, finding.severity) == ("RG101", "error")
    assert "vLLM 0.12.0 (image tag at line 12)" in finding.message
    launch = _one(REALWORLD / "k8s_dotted_rope.yaml")
    assert launch.rope_scaling_flag.data == {  # type: ignore[attr-defined]
        "rope_type": "yarn",
        "factor": 4,
        "original_max_position_embeddings": 32768,
    }


def test_dotted_hf_overrides_build_the_dict(tmp_path: Path) -> None:
    script = tmp_path / "serve.sh"
    script.write_text(
        "vllm serve Qwen/Qwen3-8B --max-model-len 131072 --hf-overrides.rope_parameters.rope_type yarn "
        "--hf-overrides.rope_parameters.factor=4 "
        "--hf-overrides.rope_parameters.original_max_position_embeddings 40960\n"
    )
    assert "RG201" in {f.rule for f in lint([str(script)], offline=True, engine_version="0.12.0")}


def test_a_broken_rope_flag_in_lws_worker_args_is_found() -> None:
    findings = lint([str(REALWORLD / "lws_leader_worker.yaml")], offline=True)
    assert ("RG101", 38, "error") in {(f.rule, f.line, f.severity) for f in findings}


def test_rayservice_serve_config_args_are_a_launch_with_its_runtime_env_pin() -> None:
    (finding,) = lint([str(REALWORLD / "rayservice_vllm.yaml")], offline=True)
    assert (finding.rule, finding.line) == ("RG205", 18)
    launch = _one(REALWORLD / "rayservice_vllm.yaml")
    assert [pin.raw for pin in launch.engine_pins] == ["vllm==0.12.0"]  # type: ignore[attr-defined]


def test_docker_run_latest_is_unpinned_like_the_dockerfile_case() -> None:
    (finding,) = lint([str(REALWORLD / "docker_run_latest.sh")], offline=True)
    assert (finding.rule, finding.severity, finding.line) == ("RG301", "warning", 6)
    assert "'latest'" in finding.message


def test_helm_repository_and_tag_set_the_version() -> None:
    (finding,) = lint([str(REALWORLD / "production_stack_old_tag.yaml")], offline=True)
    assert finding.severity == "info" and "vLLM 0.10.1 (image tag at line 7)" in finding.message


def test_python_names_bound_to_literals_are_followed(tmp_path: Path) -> None:
    launch = _one(REALWORLD / "python_hf_overrides.py")
    assert launch.model.text == "Qwen/Qwen3-8B"  # type: ignore[attr-defined]
    assert launch.overrides[0].data["max_position_embeddings"] == 131072  # type: ignore[attr-defined]
    script = tmp_path / "twice.py"
    script.write_text(
        "from vllm import LLM\no = {'rope_parameters': {'rope_type': 'yarn'}}\no = {}\n"
        "LLM(model='Qwen/Qwen3-8B', hf_overrides=o, max_model_len=131072)\n"
    )
    assert lint([str(script)], offline=True) == []  # assigned twice: not known without running it


def test_hyphenated_override_key_is_reported() -> None:
    findings = lint([str(REALWORLD / "hyphen_override.sh")], offline=True)
    (unknown,) = [f for f in findings if f.rule == "RG304"]
    assert "'rope-scaling'" in unknown.message and "'rope_scaling'" in unknown.message


def test_markdown_blocks_are_read_only_on_request(tmp_path: Path) -> None:
    readme = REALWORLD / "qwen_readme.md"
    assert lint([str(readme)], offline=True) == []
    assert [(f.rule, f.line) for f in lint([str(readme)], offline=True, markdown=True)] == [("RG205", 4)]
    console = tmp_path / "guide.md"
    console.write_text("```console\n$ vllm serve Qwen/Qwen3-8B --max-model-len 131072\nINFO started\n```\n")
    assert [f.line for f in lint([str(console)], offline=True, markdown=True)] == [2]


def test_cli_markdown_flag(tmp_path: Path) -> None:
    readme = REALWORLD / "qwen_readme.md"
    run = [sys.executable, "-m", "ropeguard", "lint", str(readme), "--offline", "--format", "json"]
    assert subprocess.run(run, capture_output=True, check=False).returncode == 0
    assert subprocess.run([*run, "--markdown"], capture_output=True, check=False).returncode == 1


def test_rg204_says_a_top_level_override_does_not_reach_text_config() -> None:
    # google/gemma-3-27b-it: its rope_scaling (linear x8) sits in text_config.
    (finding,) = lint([str(REALWORLD / "gemma3_toplevel.sh")], offline=True)
    assert finding.rule == "RG204"
    assert "does not reach text_config and changes nothing" in finding.message
    assert "replaces that scaling" not in finding.message


def test_rg204_nested_override_on_gemma3_replaces_its_scaling(tmp_path: Path) -> None:
    script = tmp_path / "serve.sh"
    script.write_text(
        "pip install vllm==0.12.0\nvllm serve google/gemma-3-27b-it --hf-overrides "
        '\'{"text_config": {"rope_parameters": {"rope_type": "yarn", "factor": 4.0}}}\'\n'
    )
    messages = [f.message for f in lint([str(script)], offline=True) if f.rule == "RG204"]
    assert messages and "replaces that scaling" in messages[0]


def test_qwen3_override_nested_under_text_config_is_found() -> None:
    findings = lint([str(REALWORLD / "qwen3_text_config.sh")], offline=True)
    by_rule = {f.rule: f.message for f in findings}
    assert "has no text_config" in by_rule["RG304"]
    assert "RG205" in by_rule  # the nested override scales nothing


@pytest.mark.parametrize(
    ("text", "says"),
    [
        # Qwen3-8B: max_position_embeddings 40960, native 32768 (config.json and model card).
        ("vllm serve Qwen/Qwen3-8B --max-model-len 131072", "vLLM refuses to start"),
        (
            "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 vllm serve Qwen/Qwen3-8B --max-model-len 131072",
            "lets vLLM start",
        ),
        ("vllm serve Qwen/Qwen3-8B --max-model-len 36000", "vLLM accepts it (up to the derived 40960)"),
    ],
)
def test_rg205_message_is_true_per_case(tmp_path: Path, text: str, says: str) -> None:
    script = tmp_path / "serve.sh"
    script.write_text(text + "\n")
    (finding,) = lint([str(script)], offline=True, engine_version="0.12.0")
    assert finding.rule == "RG205" and says in finding.message
    if "refuses" in says:
        assert "silently degrade" not in finding.message


def test_findings_on_a_family_level_model_say_so(tmp_path: Path) -> None:
    # models/ resolves an id it has no config for (/models/Qwen3-32B-FP8, no such folder here) by
    # its family rule; lint marks the findings that rest on such facts, and not the registry's own.
    script = tmp_path / "serve.sh"
    script.write_text(
        "pip install vllm==0.12.0\nvllm serve /models/Qwen3-32B-FP8 --max-model-len 131072\n"
        "vllm serve Qwen/Qwen3-8B --max-model-len 131072\n"
    )
    family, registry = lint([str(script)], offline=True)
    assert family.rule == "RG205" and family.line == 2 and "family-level" in family.message
    assert registry.rule == "RG205" and registry.line == 3 and "family-level" not in registry.message


def test_a_broken_rope_flag_in_headless_lws_worker_args_is_found() -> None:
    findings = lint([str(REALWORLD / "lws_multinode_headless.yaml")], offline=True)
    assert {(f.rule, f.line) for f in findings} == {("RG101", 36), ("RG204", 36)}  # the worker's args


def test_a_quoted_serve_config_reports_at_its_line_and_is_never_edited() -> None:
    from ropeguard.lint import lint_report

    report = lint_report([str(REALWORLD / "rayservice_serve_llm.yaml")], offline=True)
    assert [(f.rule, f.line) for f in report.findings] == [("RG201", 8)]
    assert report.edits == []


def test_self_doubling_variables_stay_bounded(tmp_path: Path) -> None:
    script = tmp_path / "serve.sh"
    script.write_text("A=x\n" + "A=$A$A\n" * 64 + "vllm serve Qwen/Qwen3-8B --max-model-len $A\n")
    launch = _one(script)
    assert len(launch.max_model_len.text) <= 8192  # type: ignore[attr-defined]


def test_a_serve_config_with_anchors_is_not_walked(tmp_path: Path) -> None:
    manifest = tmp_path / "ray.yaml"
    bomb = (
        "a: &a [x, x]\\nb: &b [*a, *a]\\nc: [*b, *b]\\nargs: {model: Qwen/Qwen3-8B, max-model-len: 131072}\\n"
    )
    manifest.write_text(f'kind: RayService\nspec:\n  serveConfigV2: "{bomb}"\n')
    assert lint([str(manifest)], offline=True) == []


_YARN_X4 = '\'{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}\''


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        (  # a Helm chart's image mapping
            "values.yaml",
            "image:\n  repository: vllm/vllm-openai\n  tag: v0.10.1\nmodel: Qwen/Qwen3-8B\n"
            f"extraArgs: [--max-model-len, '131072', --rope-scaling, {_YARN_X4}]\n",
            "vLLM 0.10.1 (image tag at line 3)",
        ),
        (  # SkyPilot's `image_id: docker:...`
            "task.yaml",
            "resources:\n  image_id: docker:vllm/vllm-openai:v0.10.1\nrun: |\n"
            f"  vllm serve Qwen/Qwen3-8B --max-model-len 131072 --rope-scaling {_YARN_X4}\n",
            "0.10.1",
        ),
    ],
)
def test_an_image_field_sets_the_version(tmp_path: Path, name: str, text: str, says: str) -> None:
    manifest = tmp_path / name
    manifest.write_text(text)
    (finding,) = lint([str(manifest)], offline=True)
    assert finding.severity == "info" and says in finding.message


def test_compose_environment_feeds_a_sh_c_command(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n  vllm:\n    image: vllm/vllm-openai:v0.12.0\n    environment:\n      - MAX_LEN=131072\n"
        '    entrypoint: ["/bin/sh", "-c", "vllm serve Qwen/Qwen3-8B --max-model-len $MAX_LEN"]\n'
    )
    assert [f.rule for f in lint([str(compose)], offline=True)] == ["RG205"]
