"""Drawing a schedule on a matplotlib axis: the line and its shaded, named phases.

The one drawing of a schedule, shared by :meth:`Schedule.plot` (notebooks: the user's own style) and
``lrkit.report.plots`` (the house style, legends and files).  matplotlib is imported only when a new
figure is needed, so ``import lrkit`` needs only numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SpecError
from . import validate as v

if TYPE_CHECKING:
    from .base import Schedule

_PHASE_SHADES = ["#f4f4f4", "#ffffff"]


def draw(schedule: "Schedule", total: int | None = None, *, ax=None, lr: float | None = None,
         convention=None, label: str | None = None, phases: bool | None = None, **line: Any):
    """Draw ``schedule`` over steps ``0..total-1`` on ``ax`` (a new figure when ``None``); returns the axes.

    ``lr`` turns multipliers into absolute LRs; ``label``: the line's legend entry (default: the full
    spec); ``phases``: shade and name the phases (default: on a new axis only); ``line``: keyword
    arguments for ``ax.plot`` (colour, line style, width).
    """
    if total is None:
        total = getattr(schedule, "steps", None)
    if total is None:
        raise SpecError(f"{schedule.family}: plot needs the number of steps: plot(total=N), or give steps= "
                          f"in the spec")
    y = schedule.sample(total, convention)  # (checks total)
    if lr is not None:
        y = y * v.number("plot", "lr", lr, lo=0.0, lo_open=True)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
        phases = True if phases is None else phases
    line.setdefault("zorder", 3)
    ax.plot(np.arange(len(y)), y, label=schedule.spec(full=True) if label is None else label, **line)
    ax.set_xlim(0, max(len(y) - 1, 1))
    if not ax.get_xlabel():
        ax.set_xlabel("step")
    if not ax.get_ylabel():
        ax.set_ylabel("learning rate" if lr is not None else "LR multiplier (× base LR)")
    if phases:
        if ax.get_yscale() == "linear":  # room above the lines for the phases' names
            top = max(float(np.max(ln.get_ydata())) for ln in ax.lines)
            ax.set_ylim(0.0 if float(y.min()) >= 0 else ax.get_ylim()[0], top * 1.08 if top > 0 else None)
        shade_phases(ax, schedule, len(y), convention)
    return ax


def shade_phases(ax, schedule: "Schedule", total: int, convention=None) -> None:
    """Shade a schedule's phases in alternating greys, each named at the top when it is wide enough, with a
    dashed line where each one begins."""
    phases = [p for p in schedule.phases(total, convention) if p.end is None or p.end > p.start]
    if len(phases) < 2:
        return
    top = ax.get_ylim()[1]
    for i, p in enumerate(phases):
        end = total if p.end is None else min(p.end, total)
        if p.start >= total:
            continue
        ax.axvspan(p.start, end, color=_PHASE_SHADES[i % 2], zorder=0, linewidth=0)
        if (end - p.start) / total > 0.07:
            ax.text((p.start + end) / 2, top * 0.985, p.label, ha="center", va="top", fontsize=8, color="#666666",
                    zorder=4, clip_on=True)
        if i:
            ax.axvline(p.start, color="#bbbbbb", linewidth=0.8, linestyle="--", zorder=1)
