"""Findings as text for a terminal: grouped by file, coloured by severity (rich)."""

from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.highlighter import NullHighlighter
from rich.markup import escape

from ropeguard.lint.finding import Finding, Note

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_NO_HIGHLIGHT = NullHighlighter()


def print_text(findings: list[Finding], notes: list[Note], *, console: Console, files_read: int) -> None:
    # rich's repr highlighter is a regex pass whose time grows faster than the text: a finding that
    # quotes a 5,000-character value from a file took seconds. Our own markup does the colouring.
    console.highlighter = _NO_HIGHLIGHT
    for path, group in groupby(findings, key=lambda f: f.path):
        console.print(f"[bold]{escape(path)}[/bold]")
        for finding in group:
            style = _STYLE[finding.severity]
            console.print(
                f"  {finding.line:>5}  [{style}]{finding.severity:<7}[/{style}] "
                f"[bold]{finding.rule}[/bold]  {escape(finding.message)}"
            )
            if finding.fix:
                console.print(f"         [green]fix:[/green] {escape(finding.fix)}")
    counts = {severity: sum(f.severity == severity for f in findings) for severity in _STYLE}
    summary = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
    console.print(f"{files_read} files read; {summary or 'no findings'}", style="dim")
    for note in notes:
        console.print(f"note: {escape(note.path)}: {escape(note.message)}", style="dim")
