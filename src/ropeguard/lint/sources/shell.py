"""Shell scripts and command lines: launches, `export` env, and `pip install` pins.

Read the way a shell reader would, without running anything: `NAME=value` lines (and `export`)
are remembered and substituted into later commands (`$MODEL`, `${MAX_LEN:-131072}`), and bash
arrays built with `cmd=( ... )` / `cmd+=( ... )` are one command, spliced where `"${cmd[@]}"` runs.
"""

from __future__ import annotations

import re

from ropeguard.lint.argv import env_assignments, expand, launch_from_words, pins_from_words
from ropeguard.lint.launch import Extract, Launch, Value
from ropeguard.lint.shellwords import Word, split_commands
from ropeguard.lint.sources.registry import Source, register

TRIGGERS = (
    "vllm",
    "max-model-len",
    "max_model_len",
    "hf-overrides",
    "hf_overrides",
    "rope",
    "VLLM_",
    "llama-server",
    "llama_cpp",
    "llama.cpp",
)
_ARRAY_START = re.compile(
    r"(?m)^[ \t]*(?:(?:local|declare|typeset)[ \t]+(?:-a[ \t]+)?)?([A-Za-z_]\w*)(\+?)=\("
)
_ARRAY_USE = re.compile(r"^\$\{([A-Za-z_]\w*)\[[@*]\]\}$")
MAX_ARRAYS = 256  # a bound on the arrays one script may define (each is scanned once)


def _array_end(text: str, start: int) -> int:
    """Index of the `)` closing the array that opens before `start` (quotes and comments skipped)."""
    i, n = start, len(text)
    while i < n:
        ch = text[i]
        if ch == ")":
            return i
        if ch in "'\"":
            end = text.find(ch, i + 1)
            i = n if end < 0 else end + 1
            continue
        if ch == "\\":
            i += 2
            continue
        if ch == "#" and (i == 0 or text[i - 1] in " \t\n"):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        i += 1
    return n


def _arrays(text: str, first_line: int) -> tuple[str, dict[str, list[Word]]]:
    """Cut array assignments out of the text (kept as blank lines): (text, name -> words)."""
    arrays: dict[str, list[Word]] = {}
    if "=(" not in text:
        return text, arrays
    pieces: list[str] = []
    position = 0
    for count, match in enumerate(_ARRAY_START.finditer(text)):
        if match.start() < position or count >= MAX_ARRAYS:
            continue
        end = _array_end(text, match.end())
        inner = text[match.end() : end]
        line = first_line + text.count("\n", 0, match.end())
        words = [word for command in split_commands(inner, line) for word in command]
        name, append = match.group(1), match.group(2) == "+"
        arrays[name] = [*arrays.get(name, []), *words] if append else words
        pieces.append(text[position : match.start()])
        pieces.append("\n" * text.count("\n", match.start(), end + 1))
        position = end + 1
    pieces.append(text[position:])
    return "".join(pieces), arrays


def _splice(words: list[Word], arrays: dict[str, list[Word]], used: set[str]) -> list[Word]:
    out: list[Word] = []
    for word in words:
        match = _ARRAY_USE.match(word.text)
        if match is not None and match.group(1) in arrays:
            used.add(match.group(1))
            out.extend(arrays[match.group(1)])
        else:
            out.append(word)
    return out


def parse_shell(path: str, text: str, *, first_line: int = 1, source: str = "shell") -> Extract:
    extract = Extract(path=path, source=source)
    text, arrays = _arrays(text, first_line)
    variables: dict[str, Value] = {}
    used: set[str] = set()
    for words in split_commands(text, first_line):
        if words and words[0].text == "echo":
            continue  # printing a command line does not run it
        words = expand(_splice(words, arrays, used), variables)
        env, rest = env_assignments(words)
        if not rest:
            variables.update(env)
            extract.env.update(env)  # `export X=1` / `X=1` on its own line applies to what follows
            continue
        extract.pins.extend(pins_from_words(rest))
        _add(extract, launch_from_words(words, path=path, source=source))
    for name, words in arrays.items():
        if name not in used:  # built but run some other way: still one launch
            _add(extract, launch_from_words(expand(words, variables), path=path, source=source))
    return extract


def _add(extract: Extract, launch: Launch | None) -> None:
    if launch is None:
        return
    extract.launches.append(launch)
    if launch.image_version is not None:
        extract.image_versions.append(launch.image_version)  # `docker run vllm/vllm-openai:latest`


def _name(name: str) -> bool:
    return name.lower().endswith((".sh", ".bash", ".zsh", ".ksh", ".command"))


def _sniff(head: str) -> bool:
    first = head.split("\n", 1)[0]
    return first.startswith("#!") and any(shell in first for shell in ("sh", "bash", "zsh"))


SHELL = register(Source("shell", lambda path, text: parse_shell(path, text), _name, _sniff, TRIGGERS))
