"""DESIGN.md's layers: nothing below imports from above (lazy imports inside functions included), and nothing
inside the package imports its face (``import lrkit``, ``from lrkit import parse``): the face imports the
layers, so a module that reaches for it depends on every layer the face pulls in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "lrkit"
#: bottom to top; a module may import only from its own rank or below
RANK = {
    "_math": 0, "errors": 0,
    "schedules": 1,  # the mathematics and its language (schedules/spec.py)
    "spec": 2, "lint": 2, "summary": 2,  # (spec.py: the public path lrkit.spec, a face over schedules)
    "runs": 3,
    "laws": 4,
    "integrations": 5, "torch": 5,
    "adaptive": 6,
    "bench": 7,
    "report": 8,
    "demo": 9,  # the main job: bench trials, a law fit and plan, the HTML report
    "cli": 10, "__main__": 10,
}
#: deliberate imports upward, each part of a public contract (checked to still exist): none are left
ALLOWED: dict[tuple[str, str], str] = {}
#: what :func:`_imports` reports for an import of the package's face, ``lrkit/__init__.py``
FACE = "lrkit"
#: the top-level parts of the package: modules and subpackages (``from lrkit import spec`` names one of them)
PARTS = {p.name.removesuffix(".py") for p in PKG.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}


def _imports(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """``(line, top-level lrkit part)`` of every lrkit import in ``path``, relative ones resolved; an import
    of the face itself (``import lrkit``, ``from lrkit import parse``, ``from .. import parse``) is ``FACE``."""
    rel = path.relative_to(PKG).with_suffix("").parts
    pkg = list(rel[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text() if text is None else text)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "lrkit":
                target = node.module.split(".")[1:]
            else:
                continue
            if target:
                out.append((node.lineno, target[0]))
            else:  # from the package root: a submodule by name, or a name of the face
                out.extend((node.lineno, a.name if a.name in PARTS else FACE) for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "lrkit":
                    out.append((node.lineno, parts[1] if len(parts) > 1 else FACE))
    return out


MODULES = sorted(p for p in PKG.rglob("*.py") if p.relative_to(PKG).parts[0].removesuffix(".py") in RANK)


def test_every_module_has_a_layer():
    top = {p.relative_to(PKG).parts[0].removesuffix(".py") for p in PKG.iterdir() if p.suffix == ".py" or p.is_dir()}
    assert top - set(RANK) - {"__init__", "__pycache__", "py.typed"} == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_upward_import(path):
    own = RANK[path.relative_to(PKG).parts[0].removesuffix(".py")]
    rel = str(path.relative_to(PKG))
    found = _imports(path)
    bad = [f"line {line}: imports lrkit.{name}" for line, name in found
           if name in RANK and RANK[name] > own and (rel, name) not in ALLOWED]
    bad += [f"line {line}: imports the face lrkit (import the module that defines the name)"
            for line, name in found if name == FACE]
    assert not bad, f"{rel} (layer {own}) reaches upward: {'; '.join(bad)}"


@pytest.mark.parametrize("source, expected", [
    ("import lrkit", [FACE]), ("import lrkit.spec", ["spec"]), ("from lrkit import parse, spec", [FACE, "spec"]),
    ("from lrkit.schedules.spec import parse", ["schedules"]), ("from .. import parse", [FACE]),
    ("from ..spec import parse", ["spec"]), ("from . import validate", ["schedules"]), ("import numpy", []),
])
def test_imports_are_resolved(source, expected):
    """``_imports`` as a module in a subpackage (``lrkit/schedules/x.py``) would see them."""
    assert [name for _, name in _imports(PKG / "schedules" / "x.py", source)] == expected


def test_allowed_exceptions_are_still_needed():
    stale = [f"{rel} no longer imports lrkit.{name}" for rel, name in sorted(ALLOWED)
             if not any(n == name for _, n in _imports(PKG / rel))]
    assert not stale, f"drop them from ALLOWED: {'; '.join(stale)}"
