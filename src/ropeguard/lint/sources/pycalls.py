"""Python: `LLM(...)`, `EngineArgs(...)`, `AsyncEngineArgs(...)` calls read from the AST (never run).

Only literal arguments are judged (`hf_overrides={...}`, `max_model_len=131072`, `model="..."`),
and names bound to a literal in the same function or at module level (`hf_overrides = {...}` then
`LLM(hf_overrides=hf_overrides)`; the innermost binding wins, a name assigned twice is unknown).
Other expressions are left alone. Files that never mention vllm are not read as launches.
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
    if value is _MISSING:
        # Built at run time (`build_overrides()`, a name assigned twice): what it scales is unknown.
        return Override(origin=origin, raw=None)
    return None


Names = dict[str, ast.expr]
_SCOPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)


def _bindings(scope: ast.AST) -> Names:
    """`name = <expr>` statements of one module or function body (nested functions excluded)."""
    names: Names = {}
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, (*_SCOPES, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            previous = names.get(node.targets[0].id)
            # Reassigned: the value at the call is not known without running the code.
            names[node.targets[0].id] = node.value if previous is None else _AMBIGUOUS
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            names[node.target.id] = node.value
        stack.extend(ast.iter_child_nodes(node))
    return names


_AMBIGUOUS = ast.Constant(value=None)


def _calls(node: ast.AST, names: Names, found: list[tuple[ast.Call, Names]]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, _SCOPES):
            _calls(child, {**names, **_bindings(child)}, found)
            continue
        if isinstance(child, ast.Call) and _name_of(child.func) in _CALLS:
            found.append((child, names))
        _calls(child, names, found)


def parse_python(path: str, text: str) -> Extract:
    extract = Extract(path=path, source="python")
    if "vllm" not in text:
        return extract
    tree = ast.parse(text)
    calls: list[tuple[ast.Call, Names]] = []
    _calls(tree, _bindings(tree), calls)
    for call, names in sorted(calls, key=lambda pair: (pair[0].lineno, pair[0].col_offset)):
        extract.launches.append(_launch(path, call, names))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Subscript) and _is_environ(target.value):
                key, value = _literal(target.slice), _literal(node.value)
                if key == ALLOW_LONG_ENV and isinstance(value, str):
                    extract.env[ALLOW_LONG_ENV] = Value(value, node.lineno, verbatim=False)
    return extract


def _is_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _resolve(node: ast.expr, names: Names) -> ast.expr:
    if isinstance(node, ast.Name) and node.id in names and names[node.id] is not _AMBIGUOUS:
        return names[node.id]
    return node


def _launch(path: str, call: ast.Call, names: Names) -> Launch:
    launch = Launch(path=path, line=call.lineno, source="python")
    if call.args and isinstance(call.func, ast.Name) and call.func.id == "LLM":
        first_node = _resolve(call.args[0], names)
        first = _literal(first_node)
        if isinstance(first, str):
            launch.model = Value(first, first_node.lineno, verbatim=first_node is call.args[0])
    for keyword in call.keywords:
        if keyword.arg is None:
            continue
        node = _resolve(keyword.value, names)
        value = _literal(node)
        line = node.lineno
        if keyword.arg == "model" and isinstance(value, str):
            launch.model = Value(value, line, verbatim=node is keyword.value)
        elif keyword.arg == "max_model_len" and isinstance(value, int) and not isinstance(value, bool):
            launch.max_model_len = Value(str(value), line, verbatim=False)
        elif keyword.arg == "hf_overrides":
            override = _override("hf_overrides=", node)
            if override is not None:
                launch.overrides.append(override)
        elif keyword.arg == "rope_scaling":
            launch.rope_scaling_flag = _override("rope_scaling=", node)
        elif keyword.arg == "rope_theta" and isinstance(value, (int, float)):
            launch.rope_theta_flag = Value(str(value), line, verbatim=False)
    return launch


PYTHON = register(
    Source("python", parse_python, lambda name: name.lower().endswith(".py"), triggers=("vllm",))
)
