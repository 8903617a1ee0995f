"""Shell scripts and command lines: launches, `export` env, and `pip install` pins."""

from __future__ import annotations

from ropeguard.lint.argv import env_assignments, launch_from_words, pins_from_words
from ropeguard.lint.launch import Extract
from ropeguard.lint.shellwords import split_commands
from ropeguard.lint.sources.registry import Source, register

TRIGGERS = ("vllm", "max-model-len", "max_model_len", "hf-overrides", "hf_overrides", "rope", "VLLM_")


def parse_shell(path: str, text: str, *, first_line: int = 1, source: str = "shell") -> Extract:
    extract = Extract(path=path, source=source)
    for words in split_commands(text, first_line):
        env, rest = env_assignments(words)
        if not rest:
            extract.env.update(env)  # `export X=1` / `X=1` on its own line applies to what follows
            continue
        extract.pins.extend(pins_from_words(rest))
        launch = launch_from_words(words, path=path, source=source)
        if launch is not None:
            extract.launches.append(launch)
    return extract


def _name(name: str) -> bool:
    return name.lower().endswith((".sh", ".bash", ".zsh", ".ksh", ".command"))


def _sniff(head: str) -> bool:
    first = head.split("\n", 1)[0]
    return first.startswith("#!") and any(shell in first for shell in ("sh", "bash", "zsh"))


SHELL = register(Source("shell", lambda path, text: parse_shell(path, text), _name, _sniff, TRIGGERS))
