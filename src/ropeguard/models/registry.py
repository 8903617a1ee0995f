"""ropeguard's registry of well-known models: their config facts and where their native context comes from.

The data lives in `registry.json` next to this module (schema_version 1):
`{"schema_version": 1, "models": [{"id", "native_context", "native_context_source", "config"}]}`,
where `config` is the model's published config.json (the fields a ModelSpec needs, written out from
the published files). It answers when the hub cannot (offline, no cache), and its sentences say where
each native context comes from. Turning an entry into a ModelSpec is the reader's job
(reader.registry_spec), so that this module is data only and the reader depends on it, not back.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

REGISTRY_SCHEMA_VERSION = 1


class RegistryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    native_context: int = Field(gt=0)
    native_context_source: str
    config: dict[str, Any]


class _RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int
    models: list[RegistryEntry]


@lru_cache(maxsize=1)
def _entries() -> dict[str, RegistryEntry]:
    text = resources.files("ropeguard.models").joinpath("registry.json").read_text(encoding="utf-8")
    data = _RegistryFile.model_validate(json.loads(text))
    if data.schema_version != REGISTRY_SCHEMA_VERSION:
        raise RuntimeError(f"registry.json schema_version {data.schema_version} != {REGISTRY_SCHEMA_VERSION}")
    return {entry.id.lower(): entry for entry in data.models}


def known_models() -> list[str]:
    """Ids of every model in the registry, in file order."""
    return [entry.id for entry in _entries().values()]


def registry_entry(model_id: str) -> RegistryEntry | None:
    """The entry for a hub id (case-insensitive), or None."""
    return _entries().get(model_id.strip().lower())


def registry_entry_by_basename(name: str) -> RegistryEntry | None:
    """The entry whose id ends in `name` (`Qwen3-8B` -> Qwen/Qwen3-8B), case-insensitive, or None."""
    wanted = name.strip().lower()
    for key, entry in _entries().items():
        if key.rsplit("/", 1)[-1] == wanted:
            return entry
    return None
