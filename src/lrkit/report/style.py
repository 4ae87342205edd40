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
#: legend text size (points)
LEGEND_FONT = 8.5


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
    each label wrapped to its column; kept inside the figure and to at most 60% of its height, in a
    smaller font where needed (8.5 down to 6.5 points), else a ``ValueError`` that names a size that
    fits.  The figure must use constrained layout (:func:`new_figure`)."""
    if handles is None:
        handles, labels = [], []
        for ax in fig.axes:
            h, lab = ax.get_legend_handles_labels()
            handles += h
            labels += lab
    if not handles:
        return None
    renderer = fig.canvas.get_renderer()
    for size in (LEGEND_FONT, 7.5, 6.5):
        legend = _legend_in_width(fig, handles, labels, renderer, {"fontsize": size, **kwargs})
        height = legend.get_window_extent(renderer).height
        if height <= 0.6 * fig.bbox.height:
            return legend
        legend.remove()
    w, h = fig.get_size_inches()
    need = height / fig.dpi / 0.6
    raise ValueError(f"a {w:g}x{h:g}-inch figure is too small for the legend of {len(labels)} schedules; "
                     f"give a larger size, e.g. {max(w, 8):g}x{max(need, h):.1f}")


def _legend_in_width(fig, handles, labels, renderer, kwargs):
    """The legend in the most columns whose wrapped labels fit the figure's width."""
    kwargs = {"loc": "outside lower center", "frameon": True, "edgecolor": "#bbbbbb", "fancybox": False,
              "handlelength": 2.6, **kwargs}
    chars = int(fig.get_figwidth() * 72 / (0.6 * kwargs["fontsize"]))  # characters across the figure
    longest = max(len(lab) for lab in labels)
    ncols = max(1, min(len(labels), chars // (min(longest, 48) + 10)))
    while True:  # the estimate, narrowed until the legend fits the figure's width
        width = chars // ncols - 10  # less the handle and the gaps
        legend = fig.legend(handles, [wrap(lab, width) for lab in labels], ncols=ncols, **kwargs)
        if ncols == 1 and width <= 20 or legend.get_window_extent(renderer).width <= 0.98 * fig.bbox.width:
            return legend
        legend.remove()
        if ncols > 1:
            ncols -= 1
        else:
            chars = int(chars * 0.9)


def title(ax, text: str, fontsize: float = 11, bold: bool = True) -> None:
    """A title (bold unless ``bold=False``) at the left of the axis, wrapped to the figure's width."""
    chars = int((ax.figure.get_figwidth() - 0.9) * 72 / ((0.68 if bold else 0.6) * fontsize))  # the axis's width
    ax.set_title(wrap(text, chars), loc="left", fontsize=fontsize, fontweight="bold" if bold else "normal")


def fit_labels(fig) -> None:
    """Wrap a y-axis label onto two lines where it is taller than its axis (a small figure, a tall legend),
    then three, in a smaller font down to 5 points where still needed, instead of letting it run off the figure."""
    fig.canvas.draw()
    for ax in fig.axes:
        label = ax.yaxis.label
        text, size = label.get_text(), label.get_fontsize()
        if not text or "\n" in text or label.get_window_extent().height <= ax.get_window_extent().height:
            continue
        for lines, smallest in ((2, size), (2, 6.0), (3, 5.0)):
            ax.set_ylabel(wrap(text, len(text) // lines + 1))
            while True:
                label.set_fontsize(size)
                fig.canvas.draw()
                if label.get_window_extent().height <= ax.get_window_extent().height or size <= smallest:
                    break
                size -= 0.5
            if label.get_window_extent().height <= ax.get_window_extent().height:
                break


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
    fit_labels(fig)
    fig.savefig(path, dpi=dpi or fig.dpi, format=fmt)
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return Path(path)


def shorten(label: str, width: int) -> str:
    """A label cut to ``width`` characters, ending in an ellipsis when cut (tables, where a line must stay
    one line; figures wrap instead, :func:`wrap`)."""
    return label if len(label) <= width else label[: width - 1] + "…"
