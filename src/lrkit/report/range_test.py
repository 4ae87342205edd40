"""The LR range test's figure (``lrkit find-lr --plot``): the result's own plot in the house style, saved."""

from __future__ import annotations

from pathlib import Path

from . import style


def save_lr_range(result, path: str | Path, dpi: int = 120) -> Path:
    """Draw ``result`` (an :class:`~lrkit.integrations.lr_range.LRRangeResult`) and save it (format by suffix)."""
    style.use_agg()
    import matplotlib.pyplot as plt

    ax = result.plot()
    style.apply(ax)
    ax.figure.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(ax.figure)
    return Path(path)
