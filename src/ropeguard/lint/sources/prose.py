"""Prose (Markdown, reStructuredText, plain text): recognised so it is never read as commands."""

from __future__ import annotations

from ropeguard.lint.launch import Extract
from ropeguard.lint.sources.registry import Source, register

_SUFFIXES = (".md", ".markdown", ".rst", ".adoc", ".txt", ".html", ".ipynb")


def _is_prose(name: str) -> bool:
    lowered = name.lower()
    if lowered.startswith(("requirements", "constraints")):
        return False
    return lowered.endswith(_SUFFIXES) or lowered in ("license", "readme", "notice", "changelog")


def _parse(path: str, text: str) -> Extract:
    return Extract(path=path, source="prose")


PROSE = register(Source("prose", _parse, _is_prose, triggers=("\0never\0",)))
