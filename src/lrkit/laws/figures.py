"""The hook through which ``.plot()`` of a fit, a prediction or a plan draws.

The drawing code lives in :mod:`lrkit.report.law_figures`, a layer above the laws, which the laws
must not import.  That module fills this registry when it is imported, and the package's face
(``lrkit/__init__.py``) imports it, so the registry is filled whenever any part of lrkit is.
"""

from __future__ import annotations

from typing import Any, Callable

from .base import LawError

#: kind (``fit``, ``prediction``, ``plan``) -> ``draw(obj, ax=None, **options) -> matplotlib Axes``
DRAWERS: dict[str, Callable[..., Any]] = {}


def register(kind: str, drawer: Callable[..., Any]) -> None:
    """Name the function that draws objects of ``kind``."""
    DRAWERS[kind] = drawer


def draw(kind: str, obj: Any, **options: Any) -> Any:
    """Draw ``obj`` with the function registered for ``kind``; returns the axes it drew on."""
    drawer = DRAWERS.get(kind)
    if drawer is None:
        raise LawError(f"no figure for a {kind} is registered; import lrkit.report.law_figures (needs matplotlib)")
    return drawer(obj, **options)
