"""docs/cli.md, docs/schemas.md and docs/schemas/*.json are what tools/gen_docs.py makes of the code.

A changed command or model fails here until `PYTHONPATH=src python tools/gen_docs.py` is run, so the
reference cannot drift. The generated schemas are also checked against real output (a plan, lint
findings), so a schema that misdescribes what ropeguard prints fails too.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
import typer.main

import ropeguard
from ropeguard.cli import main

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "tools" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_docs"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen_docs = _load_generator()


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return gen_docs.outputs()  # type: ignore[no-any-return]


def test_the_committed_docs_are_what_the_generator_makes(generated: dict[Path, str]) -> None:
    stale = gen_docs.stale(generated)
    names = ", ".join(str(path.relative_to(REPO)) for path in stale)
    assert not stale, f"out of date: {names}; run `PYTHONPATH=src python tools/gen_docs.py`"


def test_the_cli_reference_has_every_option_of_every_command() -> None:
    text = (DOCS / "cli.md").read_text()
    group = gen_docs.cli_group()
    root = group.make_context("ropeguard", ["--help"], resilient_parsing=True)
    names = group.list_commands(root)
    assert {"plan", "lint", "inspect", "eval", "certify", "demo"} <= set(names)
    for name in names:
        section = text.split(f"\n## ropeguard {name}\n", 1)[1].split("\n## ", 1)[0]
        for param in group.get_command(root, name).params:
            for option in param.opts if param.param_type_name == "option" else []:
                assert f"`{option}`" in section, f"{name}: {option} is missing from docs/cli.md"
        assert "Exit codes" in section


def test_a_command_without_an_exit_code_entry_stops_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(gen_docs.EXIT_ONE, "plan")
    with pytest.raises(SystemExit, match="plan"):
        gen_docs.render_cli()


def test_exit_code_one_is_documented_only_for_commands_that_can_return_it() -> None:
    # The commands the CLI code returns or raises 1 from (cli/*.py), plus those that plan (PlanRefused).
    cli_dir = REPO / "src" / "ropeguard" / "cli"
    returns_one = {
        path.stem
        for path in cli_dir.glob("*.py")
        if re.search(r"return 1\b|Exit\(1\)|return 1 if", path.read_text())
    }
    documented = {name for name, meaning in gen_docs.EXIT_ONE.items() if meaning}
    assert returns_one <= documented, returns_one - documented
    assert documented - returns_one <= {"plan", "serve"}  # PlanRefused (exit_code 1) from the planner


def test_the_plan_schema_describes_a_real_plan() -> None:
    plan = ropeguard.plan_model("Qwen/Qwen3-8B", "128k", offline=True, engine_version="0.33.0")
    schema = json.loads((DOCS / "schemas" / "ContextPlan.json").read_text())
    document = json.loads(plan.model_dump_json())
    jsonschema.validate(document, schema)
    # Every key the plan prints is documented in schemas.md's ContextPlan table.
    section = (DOCS / "schemas.md").read_text().split("\n## ContextPlan\n", 1)[1].split("\n## ", 1)[0]
    for key in document:
        assert f"| `{key}` |" in section, key
    bad = {**document, "factor": "four"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_the_finding_schema_describes_real_lint_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    deploy = tmp_path / "serve.sh"
    deploy.write_text("vllm serve Qwen/Qwen3-8B --max-model-len 131072\n")
    code = main(["lint", str(deploy), "--format", "json", "--engine-version", "0.33.0"])
    assert code == 1
    findings = json.loads(capsys.readouterr().out)
    assert findings
    schema = json.loads((DOCS / "schemas" / "Finding.json").read_text())
    for finding in findings:
        jsonschema.validate(finding, schema)


def test_every_typer_command_is_a_section(generated: dict[Path, str]) -> None:
    group = typer.main.get_command(ropeguard.cli.app)
    root = group.make_context("ropeguard", ["--help"], resilient_parsing=True)
    headings = re.findall(r"^## ropeguard (\S+)$", generated[gen_docs.CLI_DOC], flags=re.MULTILINE)
    assert headings == list(group.list_commands(root))
