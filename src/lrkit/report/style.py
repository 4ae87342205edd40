"""One look for every lrkit figure, fit for a paper: a quiet grid, ten colours that stay apart (each
line also with its own dash pattern), the legend framed below the data with labels wrapped (never
cut), round ticks, and a size and resolution the caller chooses."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from . import ticks

#: Okabe & Ito's colour-blind-safe palette (yellow left out: too pale on white), black, and Tol's wine,
#: olive and grey: ten colours, the two blues far apart in the order.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#000000", "#56B4E9", "#882255", "#999933",
           "#777777"]
#: dash patterns cycled beside the colours, so lines differ in print and for colour-blind readers too
LINESTYLES = ["-", "--", "-.", ":"]
#: inches and dots per inch of a figure when the caller gives none (1200 x 675 pixels)
SIZE = (8.0, 4.5)
DPI = 150
#: the file formats figures are written in, by suffix
FORMATS = ("png", "svg", "pdf")
#: legend text size (points) and the width of one of its characters, in inches, to wrap labels
LEGEND_FONT = 8.5
_CHAR_IN = 0.55 * LEGEND_FONT / 72


def use_agg() -> None:
    """Select the non-interactive backend, so figures render on machines without a screen."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg", force=True)


def series(i: int) -> dict:
    """``ax.plot`` keywords for the ``i``-th line of a figure: its colour and dash pattern."""
    return {"color": PALETTE[i % len(PALETTE)], "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def new_figure(size: tuple[float, float] | None = None, dpi: float | None = None, rows: int = 1, cols: int = 1,
               **kwargs):
    """``(fig, axes)``: a figure of ``size`` inches (default :data:`SIZE`) at ``dpi`` (default :data:`DPI`)
    with constrained layout, so a legend below stays inside the saved size."""
    use_agg()
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=size or SIZE, dpi=dpi or DPI, layout="constrained", **kwargs)


def apply(ax, x: str | None = None, y: str | None = None) -> None:
    """The house style on an axis: light grid, no top or right spine.  ``x``, ``y``: round tick labels
    on a linear axis, ``"count"`` (steps: ``7.5k``) or ``"value"`` (LRs, losses: one notation per axis,
    such as ``1e-4``); ``None`` leaves the axis's own (categories, log scales)."""
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#888888")
    ax.tick_params(colors="#444444", labelsize=9)
    if x and ax.get_xscale() == "linear":
        ax.xaxis.set_major_formatter(ticks.formatter(x))
    if y and ax.get_yscale() == "linear":
        ax.yaxis.set_major_formatter(ticks.formatter(y))


def wrap(label: str, width: int) -> str:
    """A label on lines of at most ``width`` characters, broken after commas and spaces (never cut)."""
    return "\n".join(textwrap.wrap(label, max(width, 12), break_on_hyphens=False)) or label


def legend_below(fig, handles: Sequence | None = None, labels: Sequence[str] | None = None, **kwargs):
    """A framed legend under the axes, in as many columns as the labels allow at the figure's width,
    each label wrapped to its column (the figure must use constrained layout: :func:`new_figure`)."""
    if handles is None:
        handles, labels = [], []
        for ax in fig.axes:
            h, lab = ax.get_legend_handles_labels()
            handles += h
            labels += lab
    if not handles:
        return None
    chars = int(fig.get_figwidth() / _CHAR_IN) - 4  # characters across the figure
    longest = max(len(lab) for lab in labels)
    ncols = max(1, min(len(labels), chars // (min(longest, 48) + 8)))
    width = chars // ncols - 8  # less the handle and the gap
    kwargs = {"loc": "outside lower center", "ncols": ncols, "frameon": True, "fontsize": LEGEND_FONT,
              "edgecolor": "#bbbbbb", "fancybox": False, "handlelength": 2.6, **kwargs}
    return fig.legend(handles, [wrap(lab, width) for lab in labels], **kwargs)


def title(ax, text: str, fontsize: float = 11) -> None:
    """A bold title at the left of the axis, wrapped to the figure's width."""
    chars = int((ax.figure.get_figwidth() - 0.9) * 72 / (0.68 * fontsize))  # the axis's width, bold letters
    ax.set_title(wrap(text, chars), loc="left", fontsize=fontsize, fontweight="bold")


def figure_format(path: str | Path, fmt: str | None = None) -> str:
    """The format a figure is written in: ``fmt`` when given, else the one ``path``'s suffix names (png,
    svg, pdf); anything else is a ``ValueError`` in one line."""
    fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"{Path(path).name}: a figure is written as .png, .svg or .pdf; got "
                         f"{'.' + fmt if fmt else 'no suffix'}")
    return fmt


def save(fig, path: str | Path, dpi: float | None = None, close: bool = True, fmt: str | None = None) -> Path:
    """Write ``fig`` to ``path`` at its own size in ``fmt`` (default: the format its suffix names: png,
    svg, pdf); ``dpi``: the resolution (default: the figure's)."""
    fmt = figure_format(path, fmt)
    fig.savefig(path, dpi=dpi or fig.dpi, format=fmt)
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return Path(path)


def shorten(label: str, width: int) -> str:
    """A label cut to ``width`` characters, ending in an ellipsis when cut (tables, where a line must stay
    one line; figures wrap instead, :func:`wrap`)."""
    return label if len(label) <= width else label[: width - 1] + "…"
