"""Python: `LLM(...)`, `EngineArgs(...)`, `AsyncEngineArgs(...)` calls read from the AST (never run).

Only literal arguments are judged (`hf_overrides={...}`, `max_model_len=131072`, `model="..."`);
names and expressions are left alone. Files that never mention vllm are not read as launches.
"""

from __future__ import annotations

import ast
import json

from ropeguard.lint.launch import ALLOW_LONG_ENV, Extract, Launch, Override, Value
from ropeguard.lint.sources.registry import Source, register

_CALLS = ("LLM", "EngineArgs", "AsyncEngineArgs")


def _name_of(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _MISSING


_MISSING = object()


def _override(origin: str, node: ast.expr) -> Override | None:
    value = _literal(node)
    line = node.lineno
    if isinstance(value, dict):
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            return None
        return Override(origin=origin, raw=Value(text, line, verbatim=False), data=value)
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError as error:
            return Override(origin=origin, raw=Value(value, line), error=str(error).split(":", 1)[0])
        if isinstance(data, dict):
            return Override(origin=origin, raw=Value(value, line), data=data)
    return None


def parse_python(path: str, text: str) -> Extract:
    extract = Extract(path=path, source="python")
    if "vllm" not in text:
        return extract
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name_of(node.func) in _CALLS:
            extract.launches.append(_launch(path, node))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Subscript) and _is_environ(target.value):
                key, value = _literal(target.slice), _literal(node.value)
                if key == ALLOW_LONG_ENV and isinstance(value, str):
                    extract.env[ALLOW_LONG_ENV] = Value(value, node.lineno, verbatim=False)
    return extract


def _is_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _launch(path: str, call: ast.Call) -> Launch:
    launch = Launch(path=path, line=call.lineno, source="python")
    if call.args and isinstance(call.func, ast.Name) and call.func.id == "LLM":
        first = _literal(call.args[0])
        if isinstance(first, str):
            launch.model = Value(first, call.args[0].lineno)
    for keyword in call.keywords:
        if keyword.arg is None:
            continue
        value = _literal(keyword.value)
        line = keyword.value.lineno
        if keyword.arg == "model" and isinstance(value, str):
            launch.model = Value(value, line)
        elif keyword.arg == "max_model_len" and isinstance(value, int) and not isinstance(value, bool):
            launch.max_model_len = Value(str(value), line, verbatim=False)
        elif keyword.arg == "hf_overrides":
            override = _override("hf_overrides=", keyword.value)
            if override is not None:
                launch.overrides.append(override)
        elif keyword.arg == "rope_scaling":
            launch.rope_scaling_flag = _override("rope_scaling=", keyword.value)
        elif keyword.arg == "rope_theta" and isinstance(value, (int, float)):
            launch.rope_theta_flag = Value(str(value), line, verbatim=False)
    return launch


PYTHON = register(
    Source("python", parse_python, lambda name: name.lower().endswith(".py"), triggers=("vllm",))
)
