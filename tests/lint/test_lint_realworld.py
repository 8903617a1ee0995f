"""Recall and precision of lint on real-world shapes (tests/lint/realworld, expectations.yaml).

Run as a script to print the measurement: `python tests/lint/test_lint_realworld.py`.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ropeguard.lint import lint

REALWORLD = Path(__file__).parent / "realworld"
EXPECTED = yaml.safe_load((REALWORLD / "expectations.yaml").read_text())["cases"]

Key = tuple[str, str, int, str]


def found(case: str) -> Counter[Key]:
    target = REALWORLD / case
    base = target if target.is_dir() else target.parent
    findings = lint([str(target)], offline=True, engine_version=EXPECTED[case].get("engine_version"))
    return Counter((Path(f.path).relative_to(base).as_posix(), f.rule, f.line, f.severity) for f in findings)


def expected(case: str) -> Counter[Key]:
    return Counter((path, rule, line, severity) for path, rule, line, severity in EXPECTED[case]["findings"])


def score() -> tuple[int, int, int]:
    """(true positives, expected, found) over every case."""
    hits = wanted = got = 0
    for case in EXPECTED:
        have, want = found(case), expected(case)
        hits += sum((have & want).values())
        wanted += sum(want.values())
        got += sum(have.values())
    return hits, wanted, got


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_has_exactly_the_expected_findings(case: str) -> None:
    assert found(case) == expected(case)


def test_every_realworld_file_is_in_a_case() -> None:
    covered = set()
    for case in EXPECTED:
        target = REALWORLD / case
        covered |= {p for p in target.rglob("*") if p.is_file()} if target.is_dir() else {target}
    on_disk = {p for p in REALWORLD.rglob("*") if p.is_file() and p.name != "expectations.yaml"}
    assert on_disk == covered


if __name__ == "__main__":
    hits, wanted, got = score()
    recall = hits / wanted if wanted else 1.0
    precision = hits / got if got else 1.0
    sys.stdout.write(
        f"expected {wanted}, found {got}, matched {hits}: recall {recall:.2f}, precision {precision:.2f}\n"
    )
    for case in sorted(EXPECTED):
        have, want = found(case), expected(case)
        for key in sorted((want - have).elements()):
            sys.stdout.write(f"  missed  {case}: {key}\n")
        for key in sorted((have - want).elements()):
            sys.stdout.write(f"  extra   {case}: {key}\n")
