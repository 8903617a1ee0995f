"""The layers contract: ropeguard's import graph has no cycle and points one way (docs/architecture.md).

Every module under src/ropeguard is parsed (not imported) and each `import` is an edge, wherever it
stands: at module level, inside a function, or under `if TYPE_CHECKING:`. Importing `a.b.c` also
imports the packages `a` and `a.b`, so those are edges too (except a package's own parents, which are
always loaded first). `importlib.import_module` with a computed name is not seen; ropeguard uses it
only in registries and lazy attribute tables, whose targets are checked by other tests.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "ropeguard"

# Lowest first. A module may import modules of its own layer's unit and of lower layers; units that
# share a layer (a tuple) must not import each other. A unit is a top-level module or subpackage.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("version", "files", "deprecation", "redaction", "validation"),
    ("lengths", "http_client"),
    ("models",),
    ("rope", "engines"),
    ("plan",),
    ("doctor", "lint", "serve", "evals"),
    ("api",),
    ("probe",),
    ("reports",),
    ("certify", "demo"),
    ("__init__",),  # the package root: the public names, re-exported lazily from api
    ("cli",),
    ("__main__",),
)
# A first-party import inside a function needs a comment on its own line, or on the lines just above
# it, that says why it is not at module level (test_function_level_imports_say_why).


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    kind: str  # "module", "function" or "typing"


def _modules() -> dict[str, tuple[Path, bool]]:
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            origin = ".".join(base + ([node.module] if node.module else []))
        else:
            origin = node.module or ""
        names = [
            f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in MODULES else origin
            for alias in node.names
        ]
    for name in names:
        if name.split(".")[0] != PACKAGE:
            continue
        while name not in MODULES:
            name = name.rsplit(".", 1)[0]
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            parent = ".".join(parts[:depth])
            if parent != module and not module.startswith(parent + "."):
                yield parent


def _typing_nodes(tree: ast.Module) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(child) for child in ast.walk(node))
    return inside


def _function_nodes(tree: ast.Module) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside.update(id(child) for child in ast.walk(node) if child is not node)
    return inside


def _edges() -> list[Edge]:
    edges: list[Edge] = []
    for module, (path, is_package) in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing, functions = _typing_nodes(tree), _function_nodes(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            kind = "typing" if id(node) in typing else "function" if id(node) in functions else "module"
            edges.extend(
                Edge(module, target, node.lineno, kind) for target in _targets(module, is_package, node)
            )
    return edges


EDGES = _edges()


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(unit: str) -> int:
    for index, layer in enumerate(LAYERS):
        if unit in layer:
            return index
    raise AssertionError(f"{unit} is in no layer of the contract: add it to LAYERS and docs/architecture.md")


def test_the_graph_is_read() -> None:
    # A parser that found nothing would pass every test below.
    assert len(MODULES) > 90
    assert Edge("ropeguard.plan.planner", "ropeguard.models.spec", 0, "module") in {
        Edge(e.source, e.target, 0, e.kind) for e in EDGES
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def test_the_cycle_finder_can_fail() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for edge in EDGES:
        if edge.kind != "typing":  # `if TYPE_CHECKING:` never runs, so it cannot close a cycle
            graph[edge.source].add(edge.target)
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_every_unit_has_a_layer() -> None:
    for module in MODULES:
        _layer(_unit(module))


def _against_layers(edges: list[Edge]) -> list[str]:
    wrong = []
    for edge in edges:
        source, target = _unit(edge.source), _unit(edge.target)
        if source != target and _layer(target) >= _layer(source):
            wrong.append(f"{edge.source}:{edge.line} imports {edge.target} ({edge.kind})")
    return wrong


def test_the_layer_check_can_fail() -> None:
    up = Edge("ropeguard.plan.planner", "ropeguard.lint.rules", 1, "function")
    sideways = Edge("ropeguard.rope.table", "ropeguard.engines.vllm", 2, "typing")
    down = Edge("ropeguard.lint.rules", "ropeguard.plan.planner", 3, "module")
    assert _against_layers([up, sideways, down]) == [
        "ropeguard.plan.planner:1 imports ropeguard.lint.rules (function)",
        "ropeguard.rope.table:2 imports ropeguard.engines.vllm (typing)",
    ]


def test_imports_point_down_the_layers() -> None:
    wrong = _against_layers(EDGES)
    assert not wrong, "imports against the layers contract:\n" + "\n".join(wrong)


def _reason_above(lines: list[str], line: int) -> bool:
    """A comment on the import's own line, or in the run of comment/import lines just above it."""
    if "#" in lines[line - 1]:
        return True
    index = line - 2
    while index >= 0:
        text = lines[index].strip()
        if text.startswith("#"):
            return True
        if not (text.startswith(("from ", "import ", ")")) or text.endswith(",") or text.endswith("(")):
            return False
        index -= 1
    return False


def test_function_level_imports_say_why() -> None:
    silent = []
    for edge in EDGES:
        if edge.kind != "function":
            continue
        path = MODULES[edge.source][0]
        lines = path.read_text(encoding="utf-8").splitlines()
        if not _reason_above(lines, edge.line):
            silent.append(
                f"{edge.source}:{edge.line} imports {edge.target} inside a function, no comment says why"
            )
    assert not sorted(set(silent)), "\n".join(sorted(set(silent)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("def f():\n    from ropeguard.plan import make_plan\n", False),
        ("def f():\n    # lazy: torch is heavy\n    from ropeguard.plan import make_plan\n", True),
        ("def f():\n    from ropeguard.plan import make_plan  # lazy: heavy\n", True),
        ("def f():\n    x = 1\n    from ropeguard.plan import make_plan\n", False),
    ],
)
def test_the_comment_rule_can_fail(text: str, expected: bool) -> None:
    lines = text.splitlines()
    assert _reason_above(lines, 2 if "x = 1" not in text else 3) is expected
