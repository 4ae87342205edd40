"""The shape of the package (docs/architecture.md): no import circle between modules, no source file over
500 lines, no function over 80 lines of code (its docstring not counted)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "lrkit"
MAX_LINES = 500
MAX_FUNCTION_LINES = 80
SOURCES = sorted(PKG.rglob("*.py"))


def _module(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (imports for type hints only)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                todo.extend(child.orelse)
                continue
            todo.append(child)


def _targets(path: Path, modules: set[str]) -> set[str]:
    """The lrkit modules ``path`` imports anywhere in its body (lazy imports included)."""
    me = _module(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:  # ``from . import x`` may name a module
                if f"{mod}.{alias.name}" in modules:
                    out.add(f"{mod}.{alias.name}")
                elif mod in modules:
                    out.add(mod)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
    out.discard(me)
    return out


def _circles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), package faces left out:
    a face only hands names on, so a module importing its own package's face is not a circle."""
    modules = {_module(p): p for p in SOURCES}
    faces = {m for m, p in modules.items() if p.name == "__init__.py"}
    graph = {m: {t for t in _targets(p, set(modules)) if t not in faces} for m, p in modules.items() if m not in faces}
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in graph:
        if m not in index:
            visit(m)
    return out


def test_no_import_circle_between_modules():
    assert _circles() == []


def test_no_source_file_over_500_lines():
    big = {str(p.relative_to(PKG)): n for p in SOURCES if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert big == {}


def test_no_function_over_80_lines():
    long = {}
    for p in SOURCES:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                    n -= first.end_lineno - first.lineno + 1  # the docstring is not code
                if n > MAX_FUNCTION_LINES:
                    long[f"{p.relative_to(PKG)}:{node.name}"] = n
    assert long == {}
