"""Findings as SARIF 2.1.0 (what GitHub code scanning and other viewers read)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ropeguard.lint.finding import Finding
from ropeguard.lint.rules import RULES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_DEFAULT_LEVEL = {"RG101": "error", "RG103": "warning", "RG301": "error"}


def _uri(path: str, root: str) -> str:
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, root)
    except ValueError:  # another drive on Windows
        return Path(absolute).as_uri()
    if relative.startswith(".."):
        return Path(absolute).as_uri()
    return Path(relative).as_posix()


def to_sarif(findings: list[Finding], *, root: str | None = None, version: str = "0") -> dict[str, Any]:
    """One SARIF log with one run; paths are made relative to `root` (default: the working folder)."""
    base = os.path.abspath(root or os.getcwd())
    rule_ids = sorted(RULES)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    rules = [
        {
            "id": rule_id,
            "name": rule_id,
            "shortDescription": {"text": RULES[rule_id].summary},
            "defaultConfiguration": {"level": _DEFAULT_LEVEL.get(rule_id, "error")},
            "help": {"text": f"{rule_id}: {RULES[rule_id].summary}. See docs/lint.md in ropeguard."},
        }
        for rule_id in rule_ids
    ]
    results = []
    for finding in findings:
        text = finding.message + (f" Fix: {finding.fix}" if finding.fix else "")
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": _LEVEL[finding.severity],
            "message": {"text": text},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(finding.path, base), "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": max(1, finding.line)},
                    }
                }
            ],
        }
        if finding.rule in index:
            result["ruleIndex"] = index[finding.rule]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ropeguard",
                        "version": version,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(base).as_uri() + "/"}},
                "results": results,
            }
        ],
    }
