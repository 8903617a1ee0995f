"""Lint deployment files for settings that silently break long context (rules RG101-RG304).

    import ropeguard
    for finding in ropeguard.lint(["deploy/"], engine_version="0.12.0"):
        print(finding.rule, finding.path, finding.line, finding.message, finding.fix)

`ropeguard.lint` is this package and, called, `lint(paths, ...) -> list[Finding]`;
`lint_report(...)` also returns the notes about skipped files and the edits behind `--fix`.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from ropeguard.lint.finding import Edit, Finding, LintReport, Note, Severity
from ropeguard.lint.linter import lint, lint_report

__all__ = ["Edit", "Finding", "LintReport", "Note", "Severity", "lint", "lint_report"]


class _CallablePackage(types.ModuleType):
    """`ropeguard.lint(...)` runs `lint`, while `ropeguard.lint.rules` etc. stay importable."""

    def __call__(self, paths: list[str] | str, **options: Any) -> list[Finding]:
        return lint(paths, **options)


sys.modules[__name__].__class__ = _CallablePackage
