"""Dockerfiles: base image tags, ENV, RUN (pins and launches), CMD/ENTRYPOINT (exec and shell form).

ENTRYPOINT and CMD of each stage are read together as one launch (the image runs them as one argv),
judged against that stage's base image tag. A base image of vLLM's makes every command of the stage
a vLLM context.
"""

from __future__ import annotations

import json
import re

from ropeguard.lint.argv import launch_from_words, pins_from_words
from ropeguard.lint.launch import (
    Extract,
    Pin,
    Value,
    declared_image_version,
    is_llamacpp_image,
    is_vllm_image,
)
from ropeguard.lint.shellwords import Word, split_commands
from ropeguard.lint.sources.registry import Source, register
from ropeguard.lint.sources.shell import TRIGGERS

_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$", re.S)
_ENV_PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S*)")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line, instruction text) with `\\` continuations joined (newlines kept for line counts)."""
    out: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            buffer.append("")  # comment lines inside a continued instruction are dropped by Docker
            continue
        if not buffer:
            start = number
        if line.rstrip().endswith("\\"):
            buffer.append(line.rstrip()[:-1])
            continue
        buffer.append(line)
        out.append((start, "\n".join(buffer)))
        buffer = []
    if buffer:
        out.append((start, "\n".join(buffer)))
    return out


def _exec_words(body: str, line: int) -> list[Word] | None:
    """`["a", "b"]` -> words; None when the body is not a JSON array of strings (shell form)."""
    stripped = body.strip()
    if not stripped.startswith("["):
        return None
    try:
        items = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        return None
    words: list[Word] = []
    for item in items:
        raw = json.dumps(item)
        words.append(Word(item, line, raw))
    return words


def parse_dockerfile(path: str, text: str) -> Extract:
    extract = Extract(path=path, source="dockerfile")
    vllm_stage = llama_stage = False
    stage_version: Value | None = None
    entry: list[Word] = []
    cmd: list[Word] = []
    stage_pins: list[Pin] = []
    for line, body in _logical_lines(text):
        match = _INSTRUCTION.match(body)
        if match is None:
            continue
        instruction, rest = match.group(1).upper(), match.group(2)
        if instruction == "FROM":
            _flush(extract, path, entry + cmd, vllm_stage, stage_version, stage_pins, llama_stage)
            stage_pins = []
            image = next((part for part in rest.split() if not part.startswith("--")), "")
            vllm_stage = is_vllm_image(image)
            llama_stage = is_llamacpp_image(image)  # its entrypoint is llama-server: CMD is its flags
            entry, cmd = [], []
            version = declared_image_version(image) if vllm_stage else None
            stage_version = Value(version, line) if version is not None else None
            if stage_version is not None:
                extract.image_versions.append(stage_version)
        elif instruction == "ENV":
            pairs = _ENV_PAIR.findall(rest)
            if pairs:
                for name, value in pairs:
                    extract.env[name] = Value(value.strip("'\""), line, verbatim=False)
            else:
                name, _, value = rest.strip().partition(" ")
                if name:
                    extract.env[name] = Value(value.strip().strip("'\""), line, verbatim=False)
        elif instruction == "RUN":
            words = _exec_words(rest, line)
            commands = [words] if words is not None else split_commands(rest, line)
            for command in commands:
                pins = pins_from_words(command)
                extract.pins.extend(pins)
                stage_pins.extend(pins)
                launch = launch_from_words(command, path=path, source="dockerfile", vllm_context=False)
                if launch is not None:
                    extract.launches.append(launch)
        elif instruction in ("CMD", "ENTRYPOINT"):
            words = _exec_words(rest, line)
            if words is None:
                commands = split_commands(rest, line)
                words = [word for command in commands for word in command]
            if instruction == "CMD":
                cmd = words
            else:
                entry = words
    _flush(extract, path, entry + cmd, vllm_stage, stage_version, stage_pins, llama_stage)
    return extract


def _flush(
    extract: Extract,
    path: str,
    words: list[Word],
    vllm_stage: bool,
    version: Value | None,
    pins: list[Pin],
    llama_stage: bool = False,
) -> None:
    """A stage's ENTRYPOINT + CMD, read as the one argv the image runs, with the stage's own installs
    (a `RUN pip install vllm==X` over the base image decides the version, not the FROM tag)."""
    if not words:
        return
    launch = launch_from_words(
        words, path=path, source="dockerfile", vllm_context=vllm_stage, llamacpp_context=llama_stage
    )
    if launch is not None:
        if launch.image_version is None and version is not None:
            launch.image_version = version
        launch.engine_pins.extend(pins)
        extract.launches.append(launch)


def _name(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered in ("dockerfile", "containerfile")
        or lowered.startswith(("dockerfile.", "containerfile."))
        or lowered.endswith((".dockerfile", ".containerfile"))
    )


DOCKERFILE = register(Source("dockerfile", parse_dockerfile, _name, triggers=TRIGGERS))
