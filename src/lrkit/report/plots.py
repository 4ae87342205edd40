"""Schedule figures: one or several specs on one labelled plot, phase boundaries shaded; every
parameter group's LR (``lrkit show --groups``); a refined schedule beside its gradient norms
(``lrkit refine``).  Each takes labels and arrays, and saves or returns a matplotlib figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..schedules import Schedule
from ..schedules.conventions import Convention
from ..spec import parse
from . import style

_PHASE_SHADES = ["#f4f4f4", "#ffffff"]


def plot_schedules(specs: Sequence[str | Schedule] | str | Schedule, total: int, *, lr: float | None = None,
                   convention: str | Convention | None = None, ax=None, out: str | Path | None = None,
                   title: str | None = None, labels: Sequence[str] | None = None, log: bool = False):
    """Plot schedules over ``total`` steps; returns the matplotlib ``Figure``.

    ``lr`` turns multipliers into absolute LRs; ``out`` saves the figure (PNG, SVG or PDF by suffix).
    With a single schedule its phases are shaded and named.
    """
    style.use_agg()
    import matplotlib.pyplot as plt

    if isinstance(specs, (str, Schedule)):
        specs = [specs]
    schedules = [parse(s) for s in specs]
    labels = list(labels) if labels is not None else [str(s) for s in schedules]
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110, layout="constrained")
    else:
        fig = ax.figure
    style.apply(ax)
    steps = np.arange(total)
    scale = 1.0 if lr is None else float(lr)
    for i, (s, label) in enumerate(zip(schedules, labels)):
        ax.plot(steps, s.sample(total, convention) * scale, color=style.PALETTE[i % len(style.PALETTE)],
                linewidth=2.0, label=style.shorten(label, 70), zorder=3)
    if len(schedules) == 1:
        _shade_phases(ax, schedules[0], total, convention)
    ax.set_xlim(0, max(total - 1, 1))
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, ax.get_ylim()[1] * (1.08 if len(schedules) == 1 else 1.0))
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate" if lr is not None else "LR multiplier (× base LR)")
    if title:
        ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    if len(schedules) > 1 or title is None:
        ax.legend(frameon=False, fontsize=8.5, loc="best")
    if out is not None:
        fig.savefig(out, bbox_inches="tight")
    return fig


def _shade_phases(ax, schedule: Schedule, total: int, convention) -> None:
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


def plot_groups(labels: Sequence[str], values: Sequence[np.ndarray], out: str | Path, *,
                base_lrs: Sequence[float] | None = None, title: str | None = None, log: bool | None = None) -> Path:
    """Every parameter group's absolute LR (``values[i]`` at steps ``0..N-1``) on one figure, saved
    to ``out``; log scale (``log=None``) when the base LRs (default: each curve's peak) span more
    than 30x and every value is positive."""
    style.use_agg()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110, layout="constrained")
    style.apply(ax)
    steps = np.arange(len(values[0]))
    for i, (label, y) in enumerate(zip(labels, values)):
        ax.plot(steps, y, color=style.PALETTE[i % len(style.PALETTE)], linewidth=2.0, label=label, zorder=3)
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
    ax.set_title(title or "learning rate per parameter group", loc="left", fontsize=11, fontweight="bold")
    ax.legend(frameon=False, fontsize=8.5, loc="best")
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return Path(out)


def plot_refined(smoothed: np.ndarray, refined: np.ndarray, out: str | Path, *,
                 raw: tuple[np.ndarray, np.ndarray] | None = None, norm: str = "l2", title: str | None = None) -> Path:
    """Two panels: the gradient norms (``raw`` ``(steps, norms)`` as logged, and ``smoothed``, one
    per step of the new run) and the ``refined`` multipliers beside linear decay (Defazio et al. 2023);
    saved to ``out``.  ``norm``: ``"l2"`` or ``"l1"``, for the axis label."""
    style.use_agg()
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110, layout="constrained")
    for ax in (a, b):
        style.apply(ax)
    n = len(refined)
    x = np.arange(n)
    if raw is not None:
        s, g = raw
        a.plot((s - s[0]) / max(s[-1] - s[0], 1) * n, g, color="#bbbbbb", linewidth=0.8, label="logged")
    a.plot(x, smoothed, color=style.PALETTE[0], linewidth=2, label="median-filtered")
    a.set_xlabel("step (mapped onto the new run)")
    a.set_ylabel(f"gradient norm ({norm})")
    a.legend(frameon=False, fontsize=8.5)
    b.plot(x, 1 - x / n, color="#999999", linestyle="--", linewidth=1.5, label="linear()")
    b.plot(x, refined, color=style.PALETTE[1], linewidth=2, label="refined (piecewise spec)")
    b.set_xlabel("step")
    b.set_ylabel("LR multiplier (× peak LR)")
    b.set_ylim(0, 1.05)
    b.legend(frameon=False, fontsize=8.5)
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return Path(out)
