"""Test files in folders without __init__.py are imported by basename: two with one name break collection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_basenames_are_unique_outside_packages():
    loose = [p for p in TESTS.rglob("test_*.py") if not (p.parent / "__init__.py").exists()]
    twice = [name for name, n in Counter(p.name for p in loose).items() if n > 1]
    assert not twice, f"rename one of each: {twice}"
