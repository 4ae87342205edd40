"""One look for every lrkit figure: a quiet grid, a colour-blind-safe palette, labelled axes."""

from __future__ import annotations

#: Okabe & Ito's colour-blind-safe palette, without black.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def use_agg() -> None:
    """Select the non-interactive backend, so figures render on machines without a screen."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg", force=True)


def apply(ax) -> None:
    """The house style on an axis: light grid, no top or right spine."""
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#888888")
    ax.tick_params(colors="#444444", labelsize=9)


def shorten(label: str, width: int) -> str:
    """A label cut to ``width`` characters, ending in an ellipsis when cut (legends, tables)."""
    return label if len(label) <= width else label[: width - 1] + "…"
