"""YAML: Kubernetes manifests, Compose files and Helm values, read as one free-form tree.

Rather than knowing every chart's schema, lint looks for what a vLLM launch needs wherever it is:
argv lists (`command`/`args`/`extraArgs`) that carry engine flags, scalars holding a `vllm serve ...`
line, `maxModelLen`-style keys, `hfOverrides`, env entries and vLLM image tags. A "scope" groups
what belongs to one launch: a container/service mapping (command, args or a scalar image), or a list
item that carries a launch signal (Helm's per-model entries); the rest of a document is one scope.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

from ropeguard import validation
from ropeguard.errors import RopeguardError
from ropeguard.lint.argv import expand, launch_from_words, pin_from_text, pins_from_words
from ropeguard.lint.launch import (
    ALLOW_LONG_ENV,
    Extract,
    Launch,
    Override,
    Pin,
    Value,
    declared_image_version,
    is_llamacpp_image,
    is_vllm_image,
    parse_override,
)
from ropeguard.lint.shellwords import Word, split_commands
from ropeguard.lint.sources.registry import Source, register
from ropeguard.lint.sources.shell import TRIGGERS

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Nodes that aliases may add on top of the file's own (a few anchors in a Compose file add hundreds).
MAX_ALIAS_NODES = 100_000
_ARGV_KEYS = ("entrypoint", "command", "args", "extraargs", "arguments")
_MODEL_KEYS = ("model", "modelname", "modelid", "modelurl", "modelpath")
_SIGNAL_TEXT = ("--max-model-len", "--max_model_len", "--hf-overrides", "--hf_overrides", "vllm")
_SIGNAL_KEYS = ("maxmodellen", "hfoverrides")
_ANCHOR = re.compile(r"(?:^|[\s\[{,:-])&[^\s]")


@lru_cache(maxsize=4096)
def _norm(key: str) -> str:
    return re.sub(r"[^a-z]", "", key.lower())


@dataclass
class _Scope:
    argv: list[tuple[int, list[Word]]] = field(default_factory=list)  # (order, words)
    scripts: list[tuple[str, int]] = field(default_factory=list)
    env: dict[str, Value] = field(default_factory=dict)
    vllm_image: bool = False
    llamacpp_image: bool = False  # llama.cpp's server image: its args are llama-server's flags
    image_version: Value | None = None
    model: Value | None = None
    max_model_len: Value | None = None
    overrides: list[Override] = field(default_factory=list)
    rope_scaling: Override | None = None
    # Every env entry (`- name: X` / `value: Y`, SkyPilot `envs:`), for k8s `$(X)` and shell `$X`.
    variables: dict[str, Value] = field(default_factory=dict)
    pins: list[Pin] = field(default_factory=list)  # a RayService runtime_env `pip:` list


class _Reader:
    def __init__(self, path: str, text: str, offset: int = 0, flat: int | None = None) -> None:
        self.path = path
        self.lines = text.split("\n")
        self.scopes: list[_Scope] = []
        self.offset = offset  # lines above this text in the file (an embedded document)
        self.flat = flat  # an embedded document written as one quoted scalar: all of it is on this line

    def line(self, node: yaml.Node) -> int:
        if self.flat is not None:
            return self.flat
        return int(node.start_mark.line) + 1 + self.offset

    def word(self, node: yaml.ScalarNode) -> Word:
        line = node.start_mark.line + 1
        text = str(node.value)
        here = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        # Inside a quoted embedded document the file holds escapes, not this text: never edited.
        verbatim = "\n" not in text and text in here and self.flat is None
        raw = text if verbatim else json.dumps(text)
        line = self.flat if self.flat is not None else line + self.offset
        return Word(text, line, raw, single_quoted=verbatim and node.style == "'")

    def value(self, node: yaml.ScalarNode) -> Value:
        word = self.word(node)
        return Value(word.text, word.line, word.raw == word.text, quoted=word.single_quoted)

    def signal(self, node: yaml.Node) -> bool:
        if isinstance(node, yaml.ScalarNode):
            text = str(node.value)
            return any(mark in text for mark in _SIGNAL_TEXT)
        if isinstance(node, yaml.SequenceNode):
            return any(self.signal(item) for item in node.value)
        if isinstance(node, yaml.MappingNode):
            for key, item in node.value:
                if isinstance(key, yaml.ScalarNode) and _norm(str(key.value)) in _SIGNAL_KEYS:
                    return True
                if self.signal(item):
                    return True
        return False

    def container_like(self, node: yaml.MappingNode) -> bool:
        for key, item in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            name = _norm(str(key.value))
            if name in ("command", "args", "entrypoint"):
                return True
            if name == "image" and isinstance(item, yaml.ScalarNode):
                return True
        return False

    def walk(self, node: yaml.Node, scope: _Scope, top: _Scope, list_item: bool = False) -> None:
        if isinstance(node, yaml.MappingNode):
            if scope is top and (self.container_like(node) or (list_item and self.signal(node))):
                scope = _Scope()
                self.scopes.append(scope)
            self.mapping(node, scope, top)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                if isinstance(item, yaml.ScalarNode):
                    self.loose_scalar(item, scope)
                else:
                    self.walk(item, scope, top, list_item=True)
        elif isinstance(node, yaml.ScalarNode):
            self.loose_scalar(node, scope)

    def loose_scalar(self, node: yaml.ScalarNode, scope: _Scope) -> None:
        text = str(node.value)
        if text.startswith(ALLOW_LONG_ENV + "="):
            word = self.word(node)
            scope.env[ALLOW_LONG_ENV] = Value(text.split("=", 1)[1], word.line, False)
        elif any(mark in text for mark in _SIGNAL_TEXT) and (" " in text or "\n" in text):
            self.script(node, scope)

    def script(self, node: yaml.ScalarNode, scope: _Scope) -> None:
        line = node.start_mark.line + 1
        text = str(node.value)
        if node.style in ("|", ">"):
            line += 1
        if node.style in ('"', "'") and node.end_mark.line > node.start_mark.line:
            # A quoted scalar over several lines is folded into one; read the lines from the file
            # (when nothing in them is escaped) so each word keeps the line it is on.
            body = self.lines[node.start_mark.line : node.end_mark.line + 1]
            joined = "\n".join(body)
            first = body[0][node.start_mark.column + 1 :] if body else ""
            last_cut = node.end_mark.column - 1
            inner = [first, *body[1:-1], body[-1][:last_cut]] if len(body) > 1 else [first]
            if "\\" not in joined and all(part.strip() for part in inner):
                text = " \\\n".join(part.strip() for part in inner)
                line = node.start_mark.line + 1
        line = self.flat if self.flat is not None else line + self.offset
        if node.style == ">":
            # Folding joined the lines with spaces; read them from the file instead, joined as shell
            # continuations, so each word keeps the line it is on.
            body = [part.strip() for part in self.lines[line - 1 - self.offset : node.end_mark.line]]
            while body and not body[-1]:
                body.pop()
            if body and all(body):
                text = " \\\n".join(body)
        scope.scripts.append((text, line))

    def mapping(self, node: yaml.MappingNode, scope: _Scope, top: _Scope) -> None:
        pairs = [(key, item) for key, item in node.value if isinstance(key, yaml.ScalarNode)]
        names = {_norm(str(key.value)): item for key, item in pairs}
        env_name = names.get("name")
        if (
            isinstance(env_name, yaml.ScalarNode)
            and isinstance(names.get("value"), yaml.ScalarNode)
            and len(names) == 2
        ):
            env_value = self.value(names["value"])
            scope.variables[str(env_name.value)] = env_value
            if env_name.value == ALLOW_LONG_ENV:
                scope.env[ALLOW_LONG_ENV] = env_value
            return
        repository, tag = names.get("repository"), names.get("tag")
        # vLLM production-stack's modelSpec: `repository: vllm/vllm-openai` beside `tag: v0.x`.
        if (
            isinstance(repository, yaml.ScalarNode)
            and isinstance(tag, yaml.ScalarNode)
            and tag.value
            and is_vllm_image(str(repository.value))
        ):
            scope.vllm_image = True
            scope.image_version = Value(str(tag.value), self.line(tag))
        for key, item in pairs:
            raw_key = str(key.value)
            name = _norm(raw_key)
            if raw_key == ALLOW_LONG_ENV and isinstance(item, yaml.ScalarNode):
                scope.env[ALLOW_LONG_ENV] = self.value(item)
            elif name in ("image", "imageid"):
                self.image(item, scope)  # `image_id: docker:vllm/vllm-openai:v0.x` is SkyPilot's
            elif name in ("repository", "tag") and repository is not None and tag is not None:
                continue
            elif name == "environment":
                self.environment(item, scope)
                self.walk(item, scope, top)
            elif name in ("envs", "envvars") and isinstance(item, yaml.MappingNode):
                for env_key, env_value in item.value:  # SkyPilot `envs:`, Ray `env_vars:`
                    if isinstance(env_key, yaml.ScalarNode) and isinstance(env_value, yaml.ScalarNode):
                        scope.variables[str(env_key.value)] = self.value(env_value)
            elif name == "pip" and isinstance(item, yaml.SequenceNode):
                for part in item.value:
                    if isinstance(part, yaml.ScalarNode):
                        pin = pin_from_text(str(part.value), self.line(part))
                        if pin is not None:
                            scope.pins.append(pin)
            elif name == "serveconfigv" and isinstance(item, yaml.ScalarNode):
                self.embedded(item, scope, top)
            elif name in _ARGV_KEYS and isinstance(item, yaml.SequenceNode):
                words = [self.word(part) for part in item.value if isinstance(part, yaml.ScalarNode)]
                order = _ARGV_KEYS.index(name)
                # `-m`/`-c`: llama-server's short flags (its image takes only flags as args)
                if any(w.text.startswith("-") or "vllm" in w.text.lower() for w in words):
                    scope.argv.append((order, words))
                for part in item.value:
                    if isinstance(part, yaml.ScalarNode):
                        # One argv item holding a whole command (`sh -c "vllm serve ..."`) is a
                        # script; an item that is a flag with a JSON value is just an argument.
                        value = str(part.value)
                        if (" " in value or "\n" in value) and not value.lstrip().startswith("-"):
                            self.loose_scalar(part, scope)
                    else:
                        self.walk(part, scope, top, list_item=True)
            elif name in _ARGV_KEYS and isinstance(item, yaml.ScalarNode):
                self.script(item, scope)
            elif name == "maxmodellen" and isinstance(item, yaml.ScalarNode):
                scope.max_model_len = self.value(item)
            elif name in _MODEL_KEYS and isinstance(item, yaml.ScalarNode) and item.value:
                scope.model = scope.model or self.value(item)
            elif name in ("hfoverrides", "ropescaling"):
                override = self.override(raw_key, item)
                if override is not None:
                    if name == "ropescaling":
                        scope.rope_scaling = override
                    else:
                        scope.overrides.append(override)
            else:
                self.walk(item, scope, top)

    def environment(self, node: yaml.Node, scope: _Scope) -> None:
        """Compose `environment:` as a map or a `NAME=value` list: the container's env, which a
        `sh -c "... $NAME"` command sees."""
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode):
                    scope.variables[str(key.value)] = self.value(value)
        elif isinstance(node, yaml.SequenceNode):
            for part in node.value:
                if isinstance(part, yaml.ScalarNode) and "=" in str(part.value):
                    name, _, text = str(part.value).partition("=")
                    scope.variables[name.strip()] = Value(text, self.line(part), verbatim=False)

    def embedded(self, node: yaml.ScalarNode, scope: _Scope, top: _Scope) -> None:
        """KubeRay's `serveConfigV2`: a Ray Serve config held as a YAML string, read as YAML in place."""
        text = str(node.value)
        if _ANCHOR.search(text):
            return  # aliases could multiply the walk; Ray Serve configs do not use them
        block = node.style in ("|", ">")
        # A block scalar's text starts on the next line; a quoted one ("applications:\n- ...") has
        # no lines of its own in the file, so everything in it is reported at the scalar's line.
        inner = _Reader(self.path, text, self.line(node), flat=None if block else self.line(node))
        inner.scopes = self.scopes
        for document in yaml.compose_all(text, Loader=_Loader):
            if document is not None:
                inner.walk(document, scope, top)

    def override(self, key: str, node: yaml.Node) -> Override | None:
        if isinstance(node, yaml.ScalarNode):
            if not str(node.value).strip():
                return None
            return parse_override(key, self.value(node))
        if isinstance(node, yaml.MappingNode):
            data = yaml.load(yaml.serialize(node), Loader=_Loader)
            line = self.line(node)
            try:
                raw = Value(json.dumps(validation.json_compatible(data, key)), line, verbatim=False)
            except RopeguardError as error:  # a date, a set, binary: vLLM's JSON cannot carry it
                return Override(origin=key, raw=Value(key, line, verbatim=False), error=error.message)
            return Override(origin=key, raw=raw, data=data if isinstance(data, dict) else None)
        return None

    def image(self, node: yaml.Node, scope: _Scope) -> None:
        if isinstance(node, yaml.ScalarNode):
            text = str(node.value).removeprefix("docker:")
            scope.llamacpp_image = scope.llamacpp_image or is_llamacpp_image(text)
            if is_vllm_image(text):
                scope.vllm_image = True
                version = declared_image_version(text)
                if version is not None:
                    scope.image_version = Value(version, self.line(node))
        elif isinstance(node, yaml.MappingNode):
            fields = {
                _norm(str(k.value)): v
                for k, v in node.value
                if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode)
            }
            repository = fields.get("repository")
            if repository is not None and "vllm" in str(repository.value).lower():
                scope.vllm_image = True
                tag = fields.get("tag")
                if tag is not None and str(tag.value):
                    scope.image_version = Value(str(tag.value), self.line(tag))


def _launches(scope: _Scope, path: str, top: _Scope) -> list[Launch]:
    variables = {**top.variables, **scope.variables}
    commands: list[list[Word]] = []
    words = [word for _, fragment in sorted(scope.argv, key=lambda pair: pair[0]) for word in fragment]
    if words:
        # Kubernetes expands `$(NAME)` in command/args from the container's env; no shell runs.
        commands.append(expand(words, variables, shell=False, k8s=True))
    for text, line in scope.scripts:
        commands.extend(
            expand(command, variables, shell=True, k8s=True) for command in split_commands(text, line)
        )
    launches: list[Launch] = []
    for command in commands:
        launch = launch_from_words(
            command,
            path=path,
            source="yaml",
            vllm_context=scope.vllm_image,
            llamacpp_context=scope.llamacpp_image,
        )
        if launch is not None:
            launches.append(launch)
    keyed = scope.max_model_len is not None or scope.overrides or scope.rope_scaling is not None
    if not launches and keyed:
        first = scope.max_model_len or (scope.overrides[0].raw if scope.overrides else None)
        launches.append(Launch(path=path, line=first.line if first else 1, source="yaml"))
    for launch in launches:
        launch.env = {**scope.env, **launch.env}
        launch.model = launch.model or scope.model
        launch.max_model_len = launch.max_model_len or scope.max_model_len
        launch.overrides.extend(scope.overrides)
        launch.rope_scaling_flag = launch.rope_scaling_flag or scope.rope_scaling
        launch.image_version = launch.image_version or scope.image_version
        launch.engine_pins.extend(scope.pins)
    return launches


def _check_aliases(document: yaml.Node) -> None:
    """Refuse a document whose aliases expand it past MAX_ALIAS_NODES (billion laughs): the walk
    visits an aliased node once per place it appears, so the expanded size is the work to come.
    Counted with one memo per distinct node, so the count itself is linear in the file."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a node that reaches itself (a recursive alias) counts once
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        total = min(total, MAX_ALIAS_NODES + len(sizes) + 1)
        sizes[id(node)] = total
        return total

    expanded = size(document)
    if expanded - len(sizes) > MAX_ALIAS_NODES:
        raise ValueError(f"its aliases expand to more than {MAX_ALIAS_NODES} nodes; refused")


def parse_yaml(path: str, text: str) -> Extract:
    extract = Extract(path=path, source="yaml")
    reader = _Reader(path, text)
    for document in yaml.compose_all(text, Loader=_Loader):
        if document is None:
            continue
        _check_aliases(document)
        top = _Scope()
        reader.scopes = [top]
        reader.walk(document, top, top)
        for scope in reader.scopes:
            extract.launches.extend(_launches(scope, path, top))
            extract.pins.extend(scope.pins)
            if scope.image_version is not None:
                extract.image_versions.append(scope.image_version)
            for text_line, line in scope.scripts:
                for command in split_commands(text_line, line):
                    extract.pins.extend(pins_from_words(command))
    return extract


def _name(name: str) -> bool:
    return name.lower().endswith((".yaml", ".yml"))


YAML = register(Source("yaml", parse_yaml, _name, triggers=(*TRIGGERS, "maxModelLen", "hfOverrides")))
