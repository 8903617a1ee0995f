"""What lint reports: findings (the DESIGN.md JSON shape), notes about skipped files, and edits.

`Finding` is exactly the public contract `{rule, severity, path, line, message, fix}`. The text edit
that would apply a finding's fix is kept apart (`Edit`) so the JSON shape stays stable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


class Finding(BaseModel):
    """One broken (or suspicious) setting in one file, with the corrected fragment when known."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    severity: Severity
    path: str
    line: int
    message: str
    fix: str | None = None

    @property
    def fails(self) -> bool:
        """Warnings and errors make `lint` exit 1; infos do not."""
        return self.severity in ("error", "warning")


class Edit(BaseModel):
    """Replace `old` by `new` on one line of one file (the first occurrence on that line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    line: int
    old: str
    new: str


class Note(BaseModel):
    """A file lint could not read or did not understand; reported, never fatal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    message: str


class LintReport(BaseModel):
    """Everything one lint run produced: what `ropeguard.lint` returns is `report.findings`."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    findings: list[Finding] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    edits: list[Edit] = Field(default_factory=list)
    files_read: int = 0

    @property
    def failed(self) -> bool:
        return any(finding.fails for finding in self.findings)
