"""Prose (Markdown, reStructuredText, plain text): recognised so it is never read as commands.

Only with the opt-in `markdown=True` (`--markdown`) are Markdown's fenced shell blocks read.
"""

from __future__ import annotations

import re

from ropeguard.lint.launch import Extract
from ropeguard.lint.sources.registry import Source, register
from ropeguard.lint.sources.shell import parse_shell

_SUFFIXES = (".md", ".markdown", ".rst", ".adoc", ".txt", ".html", ".ipynb")


def _is_prose(name: str) -> bool:
    lowered = name.lower()
    if lowered.startswith(("requirements", "constraints")) or (
        lowered.endswith(".txt") and ("requirements" in lowered or "constraints" in lowered)
    ):
        return False  # pin files (sources/pins.py), whatever order the sources registered in
    return lowered.endswith(_SUFFIXES) or lowered in ("license", "readme", "notice", "changelog")


def _parse(path: str, text: str) -> Extract:
    return Extract(path=path, source="prose")


PROSE = register(Source("prose", _parse, _is_prose, triggers=("\0never\0",)))


_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+-]*)")
_SHELL_FENCES = ("bash", "sh", "shell", "console", "zsh", "shell-session")
_MARKDOWN = (".md", ".markdown")


def is_markdown(name: str) -> bool:
    return name.lower().endswith(_MARKDOWN)


def parse_markdown_blocks(path: str, text: str) -> Extract:
    """Opt-in (`--markdown`): the shell in fenced ```bash / sh / console blocks, read as a script.

    Prose is never read; a `console` block's `$ ` prompts are dropped and its output lines skipped.
    """
    extract = Extract(path=path, source="shell")
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, language = opening.group(1), opening.group(2).lower()
        start = index + 1
        index = start
        while index < len(lines) and not lines[index].lstrip().startswith(fence):
            index += 1
        if language in _SHELL_FENCES:
            body = lines[start:index]
            if language in ("console", "shell-session"):
                body = [_prompted(line) for line in body]
            block = parse_shell(path, "\n".join(body), first_line=start + 1)
            extract.launches.extend(block.launches)
            extract.pins.extend(block.pins)
            extract.image_versions.extend(block.image_versions)
        index += 1
    return extract


def _prompted(line: str) -> str:
    """A console line: the command after `$ `, or blank for the output it printed."""
    stripped = line.lstrip()
    if stripped.startswith(("$ ", "# ")):
        return stripped[2:]
    return line if line.rstrip().endswith("\\") else ""
