"""Lint deployment files for settings that silently break long context (rules RG101-RG304).

    import ropeguard
    for finding in ropeguard.lint_paths(["deploy/"], engine_version="0.12.0"):
        print(finding.rule, finding.path, finding.line, finding.message, finding.fix)

`lint(paths, ...) -> list[Finding]` is the same function (`ropeguard.lint_paths` is its public name);
`lint_report(...)` also returns the notes about skipped files and the edits behind `--fix`.
"""

from __future__ import annotations

from ropeguard.deprecation import keep_callable
from ropeguard.lint.finding import Edit, Finding, LintReport, Note, Severity
from ropeguard.lint.linter import lint, lint_report

__all__ = ["Edit", "Finding", "LintReport", "Note", "Severity", "lint", "lint_report"]

# `ropeguard.lint(...)` (ropeguard 0.1) still works for one release, with a DeprecationWarning.
keep_callable(__name__, "lint_paths")
