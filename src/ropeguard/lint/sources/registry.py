"""The Source record and the registry every source module registers itself in.

A module of its own so that the source modules import it, not the package whose `__init__` imports
them (which would be an import cycle).
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


REGISTRY: dict[str, Source] = {}


def register(source: Source) -> Source:
    REGISTRY[source.name] = source
    return source
