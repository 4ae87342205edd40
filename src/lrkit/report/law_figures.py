"""Figures of the loss-curve laws: observed vs predicted curves with bands, planned vs standard
schedules (matplotlib; imported only when plotting)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..laws import Curve, FitResult, Plan, predict
from ..laws.base import usable_points
from ..spec import parse
from . import style

#: the standard schedules' colours: the palette without black, which is the planned schedule's
_COLOURS = [c for c in style.PALETTE if c != "#000000"]


def plot_curves(fit: FitResult, curves: Sequence[Curve], path: str | Path, title: str | None = None,
                fitted: Sequence[str] = (), size: tuple[float, float] | None = None, dpi: float | None = None) -> Path:
    """Observed loss (dots) against the law's prediction (line) and its band, one colour per run; saved
    to ``path`` (PNG, SVG or PDF by suffix) at ``size`` inches and ``dpi``.

    Runs named in ``fitted`` are drawn solid (fitted), the others dashed (predicted).  Losses logged
    before the first positive LR are left out, as the fit leaves them out.
    """
    curves, _ = usable_points(curves)
    style.figure_format(path)
    fig, (ax, axr) = style.new_figure(size or (8, 6.5), dpi, rows=2, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1.3]})
    for i, c in enumerate(curves):
        col = style.PALETTE[i % len(style.PALETTE)]
        p = predict(fit, c.lr, c.steps)
        is_fit = c.name in fitted
        rel = 100 * (p.loss - c.loss) / c.loss
        ax.plot(c.steps, c.loss, ".", ms=2.5, color=col, alpha=0.6)
        ax.plot(c.steps, p.loss, "-" if is_fit else "--", color=col, lw=1.3,
                label=f"{c.name} ({'fitted' if is_fit else 'predicted'}, mean err {np.abs(rel).mean():.2f}%)")
        ax.fill_between(c.steps, p.lower, p.upper, color=col, alpha=0.2, lw=0)
        axr.plot(c.steps, rel, "-" if is_fit else "--", color=col, lw=1)
    lo = min(float(c.loss.min()) for c in curves)
    hi = np.percentile(np.concatenate([c.loss for c in curves]), 97)
    ax.set_ylim(lo - 0.05 * (hi - lo), hi)
    ax.set_ylabel("training loss")
    style.title(ax, title or f"{fit.law}: observed (dots) vs law (lines), {int(100 * fit.band_level)}% band", 10)
    axr.axhline(0, color="#444444", lw=0.6)
    axr.set_ylabel("error (%)")
    axr.set_xlabel("step")
    for a in (ax, axr):
        style.apply(a, x="count", y="value")
    style.legend_below(fig)
    return style.save(fig, path, dpi=dpi)


def plot_plan(fit: FitResult, plan: Plan, path: str | Path, n_standard: int = 4,
              size: tuple[float, float] | None = None, dpi: float | None = None) -> Path:
    """The planned schedule beside standard ones (top) and their predicted loss curves (bottom); saved to
    ``path`` (PNG, SVG or PDF by suffix) at ``size`` inches and ``dpi``."""
    style.figure_format(path)
    fig, (a1, a2) = style.new_figure(size or (8, 7), dpi, rows=2, sharex=True)
    steps = np.arange(plan.steps)
    every = max(1, plan.steps // 400)
    sample = steps[max(1, plan.warmup)::every]
    if sample[-1] != plan.steps - 1:
        sample = np.r_[sample, plan.steps - 1]
    cands = [(plan.best, "#000000", 2.4, "planned")] + [
        (c, _COLOURS[i % len(_COLOURS)], 1.3, None) for i, c in enumerate(plan.standard[:n_standard])]
    for i, (cand, col, lw, tag) in enumerate(cands):
        label = f"{tag + ': ' if tag else ''}{parse(cand.spec).spec(full=True)}  ({cand.final_loss:.4f})"
        dash = style.LINESTYLES[i % len(style.LINESTYLES)]
        (line,) = a1.plot(steps, cand.lr, lw=lw, color=col, linestyle=dash, label=label)
        p = predict(fit, cand.lr, sample)
        a2.plot(sample, p.loss, lw=lw, color=line.get_color(), linestyle=dash)
        a2.fill_between(sample, p.lower, p.upper, color=line.get_color(), alpha=0.15, lw=0)
    a1.set_ylabel("learning rate")
    style.title(a1, f"planned vs standard schedules, {plan.steps:,} steps, peak LR {plan.peak_lr:g} "
                    f"({fit.law} law; predicted final loss in brackets)", 9.5)
    finals = [c.final_loss for c, *_ in cands]
    lo, hi = min(finals), max(finals)
    span = max(hi - lo, 1e-3)
    a2.set_ylim(lo - 0.5 * span, hi + 2.5 * span)
    a2.set_ylabel("predicted loss")
    a2.set_xlabel("step")
    for a in (a1, a2):
        style.apply(a, x="count", y="value")
    style.legend_below(fig)
    return style.save(fig, path, dpi=dpi)
