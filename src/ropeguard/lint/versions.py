"""The vLLM version facts lint needs, read from `ropeguard.engines.vllm_versions` (the one data module).

Lint deals in what files say (`v0.8.5`, `0.8.5-cu128`, `latest`, `$TAG`), so this adapter adds a
lenient parse (None for anything that is not a version) on top of the shared facts.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from ropeguard.engines import vllm_versions as facts
from ropeguard.validation import MAX_VERSION_CHARS

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

NEWEST_KNOWN = facts.NEWEST_KNOWN


@lru_cache(maxsize=1024)
def lenient_version(text: str | None) -> Version | None:
    """`v0.8.5`, `0.8.5`, `0.8.5-cu128` -> Version; `latest`, `$TAG`, `nightly` -> None."""
    if not text:
        return None
    cleaned = text.strip()
    for cut in ("-", "_"):  # a tag's suffix: 0.8.5-cu128
        cleaned = cleaned.split(cut, 1)[0]
    parsed = facts.version_or_none(cleaned)
    return facts.release(parsed) if parsed is not None else None


# NVIDIA NGC containers are tagged by their own YY.MM release (`25.09-py3`, `26.03.post1-py3`), which
# says nothing about the vLLM inside; cloud builds use dates (`20250202_0916_RC00`). vLLM itself has
# only ever released 0.x, so a tag that reads as a version of 2 or more is not one of vLLM's.
_YEAR_MONTH = re.compile(r"^\d{2}\.\d{2}(?:\.post\d+)?(?:-py3)?$")


def foreign_tag(tag: str | None) -> str | None:
    """Why an image tag is not a vLLM version (NGC YY.MM, a date build), or None when it may be one."""
    if not tag:
        return None
    text = tag.strip()
    if _YEAR_MONTH.match(text):
        return f"'{text}' is an NVIDIA NGC-style YY.MM container release, not a vLLM version"
    head = re.match(r"^[vV]?(\d+)", text)
    if head is not None and int(head.group(1)) >= 2:
        return f"'{text}' is a build or date tag, not a vLLM version"
    return None


def tag_release(tag: str | None) -> Version | None:
    """The vLLM release an image tag names (`v0.8.5`, `0.12.0-cu128`), None for `latest`, NGC, dates."""
    if foreign_tag(tag) is not None:
        return None
    return lenient_version(tag)


# The torchvision / torchaudio release built for each torch release (pytorch/vision README's
# compatibility table; torchaudio has shared torch's version number since 2.1). Each wheel requires
# exactly its torch, so moving torch without them leaves an install that cannot resolve.
_COMPANIONS: dict[str, dict[str, str]] = {
    "2.4.0": {"torchvision": "0.19.0", "torchaudio": "2.4.0"},
    "2.4.1": {"torchvision": "0.19.1", "torchaudio": "2.4.1"},
    "2.5.0": {"torchvision": "0.20.0", "torchaudio": "2.5.0"},
    "2.5.1": {"torchvision": "0.20.1", "torchaudio": "2.5.1"},
    "2.6.0": {"torchvision": "0.21.0", "torchaudio": "2.6.0"},
    "2.7.0": {"torchvision": "0.22.0", "torchaudio": "2.7.0"},
    "2.7.1": {"torchvision": "0.22.1", "torchaudio": "2.7.1"},
    "2.8.0": {"torchvision": "0.23.0", "torchaudio": "2.8.0"},
    "2.9.0": {"torchvision": "0.24.0", "torchaudio": "2.9.0"},
    "2.9.1": {"torchvision": "0.24.1", "torchaudio": "2.9.1"},
}
COMPANION_PACKAGES = ("torchvision", "torchaudio")


def _base(version: str) -> str:
    return version.split("+", 1)[0].strip()


def companion_version(torch: str, package: str) -> str | None:
    """The `package` (torchvision / torchaudio) release built for this torch, None when not known."""
    return _COMPANIONS.get(_base(torch), {}).get(package)


def companion_torch(package: str, version: str) -> str | None:
    """The torch release a torchvision / torchaudio release was built for, None when not known."""
    return next((t for t, pins in _COMPANIONS.items() if pins.get(package) == _base(version)), None)


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
    # Lazy: packaging.specifiers (its tokenizer and regexes) is needed only for a pin to check.
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(pins.transformers)
    except InvalidSpecifier:
        return None


def allows(spec: str, version: str) -> bool | None:
    """Whether a requirement specifier admits a version (None when either does not parse)."""
    if len(spec) > 4 * MAX_VERSION_CHARS or len(version) > MAX_VERSION_CHARS:
        return None
    # Lazy: packaging.specifiers (its tokenizer and regexes) is needed only for a pin to check.
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return None
