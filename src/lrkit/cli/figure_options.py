"""``--dpi`` and ``--size``: the resolution and size of a figure, the same on every command that writes
one (show, fit, predict, plan, refine), and which file format a path asks for."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ..report import style

#: the most pixels on either side of a figure (matplotlib's own limit is 2**16; this keeps a PNG in memory)
MAX_PIXELS = 16_000
#: suffixes of image formats lrkit does not write, refused rather than filled with text
OTHER_IMAGES = (".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp", ".webp", ".eps", ".ps")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*[x×]\s*(\d+(?:\.\d*)?|\.\d+)\s*(px|in)?\s*$", re.IGNORECASE)


class SizeType(click.ParamType):
    """``WxH`` in inches (``8x4.5``), or in pixels with ``px`` (``1600x900px``): ``(w, h, unit)``."""

    name = "WxH"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        m = _SIZE.match(str(value))
        if not m:
            self.fail(f"{value!r} is not a size; expected WIDTHxHEIGHT in inches (8x4.5) or pixels (1600x900px)",
                      param, ctx)
        w, h = float(m.group(1)), float(m.group(2))
        if not (w > 0 and h > 0):
            self.fail(f"{value!r}: width and height must be above 0", param, ctx)
        return w, h, (m.group(3) or "in").lower()


def figure_options(f):
    """Add ``--dpi`` and ``--size`` to a command; it receives ``dpi`` and ``size`` (give both to
    :func:`figure_kwargs`)."""
    f = click.option("--size", type=SizeType(), default=None, metavar="WxH",
                     help=f"Figure size: inches ({style.SIZE[0]:g}x{style.SIZE[1]:g}, the default) or pixels "
                          f"(1600x900px).")(f)
    f = click.option("--dpi", type=click.IntRange(20, 2400), default=None, metavar="N",
                     help=f"Figure resolution in dots per inch (default {style.DPI}; PNG pixels = inches x dpi).")(f)
    return f


def figure_kwargs(dpi: int | None, size: tuple[float, float, str] | None) -> dict:
    """``{"size": (w, h) inches or None, "dpi": dpi or None}`` for the report's figure functions; a size in
    pixels is divided by the dpi.  More than :data:`MAX_PIXELS` on a side is refused in one line."""
    res = dpi or style.DPI
    inches = None
    if size is not None:
        w, h, unit = size
        inches = (w / res, h / res) if unit == "px" else (w, h)
    w_in, h_in = inches or style.SIZE
    if max(w_in, h_in) * res > MAX_PIXELS:
        raise click.BadParameter(f"{w_in:g}x{h_in:g} inches at {res} dpi is {round(w_in * res):,}x"
                                 f"{round(h_in * res):,} pixels; at most {MAX_PIXELS:,} on a side", param_hint="'--size'")
    if min(w_in, h_in) < 1.5:
        raise click.BadParameter(f"{w_in:g}x{h_in:g} inches leaves no room for the axes and legend; expected at "
                                 f"least 1.5 inches ({round(1.5 * res)} pixels at {res} dpi) a side",
                                 param_hint="'--size'")
    return {"size": inches, "dpi": dpi}


def plot_figure(plot: str | None, dpi: int | None, size) -> dict:
    """``--dpi`` and ``--size`` for the ``--plot`` figure, its suffix (.png, .svg, .pdf: the format) checked
    before any work is done."""
    if plot is None and (dpi is not None or size is not None):
        raise click.UsageError("--dpi and --size apply to the --plot figure; give --plot FILE.png")
    if plot is not None:
        style.figure_format(plot)
    return figure_kwargs(dpi, size)


def format_of(path: str | Path | None) -> str | None:
    """The output format a path's suffix names: ``png``, ``svg``, ``pdf``, ``csv``, ``json``; ``None`` for
    another suffix or none.  An image suffix lrkit cannot write (``.jpg``) is refused in one line."""
    if not path:
        return None
    suffix = Path(path).suffix.lower()
    if suffix in OTHER_IMAGES:
        raise click.BadParameter(f"{Path(path).name}: lrkit writes figures as .png, .svg or .pdf, not {suffix}",
                                 param_hint="'--out'")
    return {".png": "png", ".svg": "svg", ".pdf": "pdf", ".csv": "csv", ".json": "json"}.get(suffix)


def resolve_format(fmt: str | None, out: str | None, default: str = "table") -> str:
    """The format to write: ``--format`` when given, else the one ``--out``'s suffix names, else
    ``default``; a ``--format`` that contradicts the suffix is refused in one line."""
    implied = format_of(out)
    if fmt is None:
        return implied or default
    if implied is not None and implied != fmt:
        raise click.UsageError(f"--format {fmt} but --out {Path(out).name} names {implied}: give one of them, "
                               f"or make them agree")
    return fmt
