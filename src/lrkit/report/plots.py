"""Schedule figures: one or several specs on one labelled plot, phase boundaries shaded; every
parameter group's LR (``lrkit show --groups``); a refined schedule beside its gradient norms
(``lrkit refine``).  Each takes labels and arrays, and saves or returns a matplotlib figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..schedules import Schedule
from ..schedules.conventions import Convention
from ..schedules.plotting import draw
from ..spec import parse
from . import style

Size = tuple[float, float]


def plot_schedules(specs: Sequence[str | Schedule] | str | Schedule, total: int, *, lr: float | None = None,
                   convention: str | Convention | None = None, ax=None, out: str | Path | None = None,
                   title: str | None = None, labels: Sequence[str] | None = None, log: bool = False,
                   size: Size | None = None, dpi: float | None = None, fmt: str | None = None):
    """Plot schedules over ``total`` steps; returns the matplotlib ``Figure``.

    ``lr`` turns multipliers into absolute LRs; ``labels``: the legend's entries (default: each full
    spec, defaults spelled out); ``out`` saves the figure in ``fmt`` (default: PNG, SVG or PDF by
    suffix) at ``size`` inches and ``dpi``.  With a single schedule its phases are shaded and named and its spec is the
    title (or the legend, under a ``title``).  On a new figure the legend sits framed below the data;
    on a given ``ax`` the lines carry their labels and the caller places the legend.
    """
    if isinstance(specs, (str, Schedule)):
        specs = [specs]
    schedules = [parse(s) for s in specs]
    labels = list(labels) if labels is not None else [s.spec(full=True) for s in schedules]
    own = ax is None
    if own:
        fig, ax = style.new_figure(size, dpi)
    else:
        fig = ax.figure
    single = len(schedules) == 1
    if log:
        ax.set_yscale("log")
    for i, (s, label) in enumerate(zip(schedules, labels)):
        draw(s, total, ax=ax, lr=lr, convention=convention, label=label, phases=single, linewidth=1.8,
             **style.series(i))
    if not log and not single and all(float(np.min(line.get_ydata())) >= 0 for line in ax.lines):
        ax.set_ylim(0, ax.get_ylim()[1])
    style.apply(ax, x="count", y="value")
    if title or (single and own):
        style.title(ax, title or labels[0])
    if own and (not single or title):
        style.legend_below(fig)
    if out is not None:
        style.save(fig, out, dpi=dpi, close=False, fmt=fmt)
    return fig


def plot_groups(labels: Sequence[str], values: Sequence[np.ndarray], out: str | Path, *,
                base_lrs: Sequence[float] | None = None, title: str | None = None, log: bool | None = None,
                size: Size | None = None, dpi: float | None = None, fmt: str | None = None) -> Path:
    """Every parameter group's absolute LR (``values[i]`` at steps ``0..N-1``) on one figure, saved
    to ``out`` in ``fmt`` (default: PNG, SVG or PDF by suffix); log scale (``log=None``) when the base LRs (default: each
    curve's peak) span more than 30x and every value is positive."""
    fig, ax = style.new_figure(size, dpi)
    steps = np.arange(len(values[0]))
    for i, (label, y) in enumerate(zip(labels, values)):
        ax.plot(steps, y, linewidth=1.8, label=label, zorder=3, **style.series(i))
    lrs = list(base_lrs) if base_lrs is not None else [float(np.max(y)) for y in values]
    if log is None:
        log = max(lrs) / min(lrs) > 30 and all(float(np.min(y)) > 0 for y in values)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, ax.get_ylim()[1])
    ax.set_xlim(0, max(len(steps) - 1, 1))
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    style.apply(ax, x="count", y="value")
    style.title(ax, title or "learning rate per parameter group")
    style.legend_below(fig)
    return style.save(fig, out, dpi=dpi, fmt=fmt)


def plot_refined(smoothed: np.ndarray, refined: np.ndarray, out: str | Path, *,
                 raw: tuple[np.ndarray, np.ndarray] | None = None, norm: str = "l2", title: str | None = None,
                 size: Size | None = None, dpi: float | None = None, fmt: str | None = None) -> Path:
    """Two panels: the gradient norms (``raw`` ``(steps, norms)`` as logged, and ``smoothed``, one
    per step of the new run) and the ``refined`` multipliers beside linear decay (Defazio et al. 2023);
    saved to ``out``.  ``norm``: ``"l2"`` or ``"l1"``, for the axis label."""
    fig, (a, b) = style.new_figure(size or (10, 4.2), dpi, cols=2)
    n = len(refined)
    x = np.arange(n)
    if raw is not None:
        s, g = raw
        a.plot((s - s[0]) / max(s[-1] - s[0], 1) * n, g, color="#bbbbbb", linewidth=0.8, label="logged")
    a.plot(x, smoothed, color=style.PALETTE[0], linewidth=2, label="median-filtered")
    a.set_xlabel("step (mapped onto the new run)")
    a.set_ylabel(f"gradient norm ({norm})")
    b.plot(x, 1 - x / n, color="#999999", linestyle="--", linewidth=1.5, label="linear()")
    b.plot(x, refined, color=style.PALETTE[1], linewidth=2, label="refined (piecewise spec)")
    b.set_xlabel("step")
    b.set_ylabel("LR multiplier (× peak LR)")
    b.set_ylim(0, 1.05)
    for ax in (a, b):
        style.apply(ax, x="count", y="value")
    style.legend_below(fig)
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
    return style.save(fig, out, dpi=dpi, fmt=fmt)
