"""The registry of sources: which files lint reads, how it recognises them, and their parsers.

A source registers a name test (file name patterns), an optional content sniff (for files whose name
says nothing, e.g. a shebang) and cheap trigger strings: a file containing none of its source's
triggers yields nothing and is not parsed at all, which keeps large trees fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ropeguard.lint.launch import Extract

Parser = Callable[[str, str], Extract]


@dataclass(frozen=True)
class Source:
    name: str
    parse: Parser
    matches_name: Callable[[str], bool]
    sniff: Callable[[str], bool] | None = None
    triggers: tuple[str, ...] = ()

    def worth_parsing(self, text: str) -> bool:
        return not self.triggers or any(trigger in text for trigger in self.triggers)


_REGISTRY: dict[str, Source] = {}


def register(source: Source) -> Source:
    _REGISTRY[source.name] = source
    return source


def sources() -> dict[str, Source]:
    _load()
    return dict(_REGISTRY)


def detect(name: str, head: str) -> Source | None:
    """The source for a file, by name first, then by content (shebang and the like)."""
    _load()
    for source in _REGISTRY.values():
        if source.matches_name(name):
            return source
    for source in _REGISTRY.values():
        if source.sniff is not None and source.sniff(head):
            return source
    return None


_loaded = False


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    # Importing a module registers its source; the order is the name-matching order.
    from ropeguard.lint.sources import dockerfile, pins, prose, pycalls, shell, yamlfile  # noqa: F401
