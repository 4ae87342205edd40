"""The hook through which ``Schedule.plot()`` draws (as :mod:`lrkit.laws.figures` is for fits).

The drawing code lives in :mod:`lrkit.report.plots`, a layer above the schedules, which they must not
import.  That module fills this hook when it is imported, and the package's face
(``lrkit/__init__.py``) imports it, so the hook is filled whenever any part of lrkit is.
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import SpecError

#: ``draw(schedule, total, ax=None, **options) -> matplotlib Axes``; ``None`` until report.plots is imported
DRAWER: list[Callable[..., Any]] = []


def register(drawer: Callable[..., Any]) -> None:
    """Name the function that draws a schedule."""
    DRAWER[:] = [drawer]


def draw(schedule: Any, total: int, **options: Any) -> Any:
    """Draw ``schedule`` over ``total`` steps with the registered function; returns the axes."""
    if not DRAWER:
        raise SpecError("no figure for a schedule is registered; import lrkit.report.plots (needs matplotlib)")
    return DRAWER[0](schedule, total, **options)
