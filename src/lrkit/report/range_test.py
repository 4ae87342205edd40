"""The LR range test's figure (``lrkit find-lr --plot``): the result's own plot in the house style, saved."""

from __future__ import annotations

from pathlib import Path

from . import style


def save_lr_range(result, path: str | Path, size: tuple[float, float] | None = None,
                  dpi: float | None = None) -> Path:
    """Draw ``result`` (an :class:`~lrkit.integrations.lr_range.LRRangeResult`) on a figure of ``size``
    inches (default 6x4) at ``dpi`` and save it (PNG, SVG or PDF by suffix)."""
    style.figure_format(path)
    fig, ax = style.new_figure(size or (6, 4), dpi)
    result.plot(ax=ax)
    style.apply(ax, x="value", y="value")  # round ticks on linear axes; a log LR axis keeps its own
    return style.save(fig, path, dpi=dpi)
