"""The corpus: every known failure mode found at the right line, and nothing in clean files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from ropeguard.lint import lint

CORPUS = Path(__file__).parent / "corpus"
EXPECTED = yaml.safe_load((CORPUS / "expectations.yaml").read_text())


def _found(path: Path) -> Counter[tuple[str, int]]:
    return Counter((f.rule, f.line) for f in lint([str(path)], offline=True))


@pytest.mark.parametrize("name", sorted(EXPECTED["bad"]))
def test_bad_file_has_exactly_the_expected_findings(name: str) -> None:
    expected = Counter((rule, line) for rule, line in EXPECTED["bad"][name]["findings"])
    assert _found(CORPUS / "bad" / name) == expected


@pytest.mark.parametrize("name", EXPECTED["clean"])
def test_clean_file_has_no_finding(name: str) -> None:
    assert _found(CORPUS / "clean" / name) == Counter()


def test_every_corpus_file_is_listed() -> None:
    listed = {f"bad/{name}" for name in EXPECTED["bad"]} | {f"clean/{name}" for name in EXPECTED["clean"]}
    on_disk = {
        path.relative_to(CORPUS).as_posix()
        for path in CORPUS.rglob("*")
        if path.is_file() and path.name != "expectations.yaml"
    }
    assert on_disk == listed


def test_corpus_covers_every_rule() -> None:
    from ropeguard.lint.rules import RULES

    covered = {rule for entry in EXPECTED["bad"].values() for rule, _ in entry["findings"]}
    assert covered == set(RULES)


def test_findings_carry_plans_fix() -> None:
    from ropeguard.engines.vllm import encode_overrides
    from ropeguard.models.reader import load_model_spec
    from ropeguard.plan import make_plan

    findings = lint([str(CORPUS / "bad" / "wrong_original.sh")], offline=True)
    plan = make_plan(load_model_spec("Qwen/Qwen3-8B", offline=True), 131072, engine_version="0.32.0")
    assert plan.hf_overrides is not None
    assert [f.fix for f in findings] == [f"--hf-overrides '{encode_overrides(plan.hf_overrides)}'"]


def test_refused_plan_gives_no_fix() -> None:
    findings = lint([str(CORPUS / "bad" / "llama31_yarn.yaml")], offline=True)
    assert findings and all(f.fix is None for f in findings)


def test_whole_corpus_in_one_run_matches_file_by_file() -> None:
    whole = Counter((Path(f.path).name, f.rule) for f in lint([str(CORPUS / "clean")], offline=True))
    assert whole == Counter()
