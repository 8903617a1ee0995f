"""Lint deployment files for settings that silently break long context (rules RG101-RG303).

from ropeguard.lint import lint
for finding in lint(["deploy/"], engine_version="0.12.0"):
    print(finding.rule, finding.path, finding.line, finding.message)
"""

from __future__ import annotations

from ropeguard.lint.finding import Edit, Finding, LintReport, Note, Severity
from ropeguard.lint.linter import lint, lint_report

__all__ = ["Edit", "Finding", "LintReport", "Note", "Severity", "lint", "lint_report"]
