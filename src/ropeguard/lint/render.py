"""Findings as text for a terminal: grouped by file, coloured by severity (rich).

When the text goes to a file or a pipe (CI, `| less`), rich styles nothing: what it prints is then
the same lines without markup, and `plain_text` writes them without importing rich, whose import
costs `lint` of one file about as much as the lint itself. It gives up (None) on any line where rich
would change more than the markup (an emoji code, a tab, a control character, a backslash), and rich
prints those; tests/lint/test_lint_plain_text.py holds the two outputs equal.
"""

from __future__ import annotations

import os
import re
import sys
from itertools import groupby
from typing import TYPE_CHECKING, TextIO

from ropeguard.lint.finding import Finding, Note

if TYPE_CHECKING:
    from rich.console import Console

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
# What rich would turn into something else than itself: an emoji code (a superset of rich's
# `:name:` pattern), and characters its Text expands or strips (tabs, control characters) or its
# markup escaping doubles (backslashes).
_RICH_CHANGES = re.compile(r":\S*?:|[\x00-\x1f\x7f\\]")


def _summary(findings: list[Finding], files_read: int) -> str:
    counts = {severity: sum(f.severity == severity for f in findings) for severity in _STYLE}
    summary = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
    return f"{files_read} file{'s' if files_read != 1 else ''} read; {summary or 'no findings'}"


def print_text(findings: list[Finding], notes: list[Note], *, console: Console, files_read: int) -> None:
    # Lazy: rich loads only when it styles (a terminal) or when plain_text gives up.
    from rich.highlighter import NullHighlighter
    from rich.markup import escape

    # rich's repr highlighter is a regex pass whose time grows faster than the text: a finding that
    # quotes a 5,000-character value from a file took seconds. Our own markup does the colouring.
    console.highlighter = NullHighlighter()
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
    console.print(_summary(findings, files_read), style="dim")
    for note in notes:
        # One escape for the whole line: a path ending in "[a" and a message "]" escape to themselves
        # apart, and together make the markup tag "[a: ]", which rich would swallow.
        console.print(escape(f"note: {note.path}: {note.message}"), style="dim")


def plain_text(findings: list[Finding], notes: list[Note], *, files_read: int) -> str | None:
    """What `print_text` prints on a console that styles nothing, or None where rich would change a line."""
    lines: list[str] = []
    for path, group in groupby(findings, key=lambda f: f.path):
        lines.append(path)
        for finding in group:
            lines.append(f"  {finding.line:>5}  {finding.severity:<7} {finding.rule}  {finding.message}")
            if finding.fix:
                lines.append(f"         fix: {finding.fix}")
    lines.append(_summary(findings, files_read))
    lines += [f"note: {note.path}: {note.message}" for note in notes]
    if any(_RICH_CHANGES.search(line) for line in lines):
        return None
    return "".join(line + "\n" for line in lines)


def rich_would_style(stream: TextIO | None = None) -> bool:
    """Whether rich's Console would write terminal codes to `stream` (stdout): its own rule (a tty,
    unless TTY_COMPATIBLE or FORCE_COLOR say otherwise), answered True whenever either is set."""
    if os.environ.get("TTY_COMPATIBLE") or os.environ.get("FORCE_COLOR") is not None:
        return True
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream: rich says "not a terminal"
        return False
