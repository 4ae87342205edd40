"""DESIGN.md's layers: nothing below imports from above (lazy imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "lrkit"
#: bottom to top; a module may import only from its own rank or below
RANK = {
    "_math": 0, "errors": 0,
    "schedules": 1,
    "spec": 2, "lint": 2, "summary": 2,
    "runs": 3,
    "laws": 4,
    "integrations": 5, "torch": 5,
    "adaptive": 6,
    "bench": 7,
    "report": 8,
    "demo": 9,  # the main job: bench trials, a law fit and plan, the HTML report
    "cli": 10, "__main__": 10,
}
#: deliberate lazy delegations upward, each part of a public contract (checked to still exist)
ALLOWED = {
    ("schedules/base.py", "spec"): "str(schedule) is its spec text and child schedules may be spec strings (DESIGN.md)",
    ("schedules/base.py", "integrations"): "Schedule.to_optax() hands the schedule to the optax adapter",
    ("schedules/plateau.py", "spec"): "PlateauController takes spec strings like every schedule argument",
}


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, top-level lrkit part)`` of every lrkit import in ``path``, relative ones resolved."""
    rel = path.relative_to(PKG).with_suffix("").parts
    pkg = list(rel[:-1]) if rel[-1] != "__init__" else list(rel[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                target = base + (node.module.split(".") if node.module else [])
                names = [target] if target else [[a.name] for a in node.names]
            elif node.module and node.module.split(".")[0] == "lrkit":
                names = [node.module.split(".")[1:] or [a.name for a in node.names][:1]]
            else:
                continue
            for t in names:
                if t:
                    out.append((node.lineno, t[0]))
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "lrkit" and len(parts) > 1:
                    out.append((node.lineno, parts[1]))
    return out


MODULES = sorted(p for p in PKG.rglob("*.py") if p.relative_to(PKG).parts[0].removesuffix(".py") in RANK)


def test_every_module_has_a_layer():
    top = {p.relative_to(PKG).parts[0].removesuffix(".py") for p in PKG.iterdir() if p.suffix == ".py" or p.is_dir()}
    assert top - set(RANK) - {"__init__", "__pycache__", "py.typed"} == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_upward_import(path):
    own = RANK[path.relative_to(PKG).parts[0].removesuffix(".py")]
    rel = str(path.relative_to(PKG))
    bad = [f"line {line}: imports lrkit.{name}" for line, name in _imports(path)
           if name in RANK and RANK[name] > own and (rel, name) not in ALLOWED]
    assert not bad, f"{rel} (layer {own}) reaches upward: {'; '.join(bad)}"


@pytest.mark.parametrize("rel, name", sorted(ALLOWED))
def test_allowed_exceptions_are_still_needed(rel, name):
    assert any(n == name for _, n in _imports(PKG / rel)), f"{rel} no longer imports lrkit.{name}: drop it from ALLOWED"
