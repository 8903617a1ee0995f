"""The registry of sources: which files lint reads, how it recognises them, and their parsers.

A source registers a name test (file name patterns), an optional content sniff (for files whose name
says nothing, e.g. a shebang) and cheap trigger strings: a file containing none of its source's
triggers yields nothing and is not parsed at all, which keeps large trees fast.
"""

from __future__ import annotations

# Importing a module registers its source; the order is the name-matching order.
from ropeguard.lint.sources import dockerfile, pins, prose, pycalls, shell, yamlfile  # noqa: F401
from ropeguard.lint.sources.registry import REGISTRY, Parser, Source, register

__all__ = ["Parser", "Source", "detect", "register", "sources"]


def sources() -> dict[str, Source]:
    return dict(REGISTRY)


def detect(name: str, head: str) -> Source | None:
    """The source for a file, by name first, then by content (shebang and the like)."""
    for source in REGISTRY.values():
        if source.matches_name(name):
            return source
    for source in REGISTRY.values():
        if source.sniff is not None and source.sniff(head):
            return source
    return None
