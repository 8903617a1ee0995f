"""The vLLM version facts lint needs, read from `ropeguard.engines.vllm_versions` (the one data module).

Lint deals in what files say (`v0.8.5`, `0.8.5-cu128`, `latest`, `$TAG`), so this adapter adds a
lenient parse (None for anything that is not a version) on top of the shared facts.
"""

from __future__ import annotations

from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ropeguard.engines import vllm_versions as facts
from ropeguard.validation import MAX_VERSION_CHARS

NEWEST_KNOWN = facts.NEWEST_KNOWN


@lru_cache(maxsize=1024)
def lenient_version(text: str | None) -> Version | None:
    """`v0.8.5`, `0.8.5`, `0.8.5-cu128` -> Version; `latest`, `$TAG`, `nightly` -> None."""
    if not text or len(text) > MAX_VERSION_CHARS:
        return None  # packaging would int() a 5,000-digit part (ValueError): not a version either
    cleaned = text.strip().lstrip("vV")
    for cut in ("-", "_"):
        cleaned = cleaned.split(cut, 1)[0]
    try:
        return facts.release(Version(cleaned))
    except InvalidVersion:
        return None


@lru_cache(maxsize=256)
def torch_pin(vllm_version: str, distribution: str = "vllm") -> str | None:
    """The exact torch version the release pins (`2.6.0`), or None when unknown."""
    pins = facts.stack_pins(vllm_version, distribution=distribution)
    return pins.torch_version if pins is not None else None


@lru_cache(maxsize=256)
def transformers_requirement(vllm_version: str, distribution: str = "vllm") -> SpecifierSet | None:
    pins = facts.stack_pins(vllm_version, distribution=distribution)
    if pins is None or pins.transformers is None:
        return None
    try:
        return SpecifierSet(pins.transformers)
    except InvalidSpecifier:
        return None


def allows(spec: str, version: str) -> bool | None:
    """Whether a requirement specifier admits a version (None when either does not parse)."""
    if len(spec) > 4 * MAX_VERSION_CHARS or len(version) > MAX_VERSION_CHARS:
        return None
    try:
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return None
