"""Figures of the loss-curve laws: observed vs predicted curves with bands, planned vs standard
schedules (matplotlib; imported only when plotting)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..laws import Curve, FitResult, Plan, predict
from ..laws.base import usable_points
from . import style


def _plt():
    style.use_agg()
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    fig.savefig(path, dpi=130, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return Path(path)


def plot_curves(fit: FitResult, curves: Sequence[Curve], path: str | Path, title: str | None = None,
                fitted: Sequence[str] = ()) -> Path:
    """Observed loss (dots) against the law's prediction (line) and its band, one colour per run.

    Runs named in ``fitted`` are drawn solid (fitted), the others dashed (predicted).  Losses logged
    before the first positive LR are left out, as the fit leaves them out.
    """
    curves, _ = usable_points(curves)
    plt = _plt()
    fig, (ax, axr) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, layout="constrained",
                                  gridspec_kw={"height_ratios": [3, 1.3]})
    for a in (ax, axr):
        style.apply(a)
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
    ax.set_title(title or f"{fit.law}: observed (dots) vs law (lines), {int(100 * fit.band_level)}% band",
                 loc="left", fontsize=10, fontweight="bold")
    ax.legend(frameon=False, fontsize=7.5, loc="upper right")
    axr.axhline(0, color="#444444", lw=0.6)
    axr.set_ylabel("error (%)")
    axr.set_xlabel("step")
    return _save(fig, path)


def plot_plan(fit: FitResult, plan: Plan, path: str | Path, n_standard: int = 4) -> Path:
    """The planned schedule beside standard ones (top) and their predicted loss curves (bottom)."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 7), sharex=True, layout="constrained")
    for a in (a1, a2):
        style.apply(a)
    steps = np.arange(plan.steps)
    every = max(1, plan.steps // 400)
    sample = steps[max(1, plan.warmup)::every]
    if sample[-1] != plan.steps - 1:
        sample = np.r_[sample, plan.steps - 1]
    cands = [(plan.best, "#000000", 2.4, "planned")] + [
        (c, style.PALETTE[i % (len(style.PALETTE) - 1)], 1.3, None) for i, c in enumerate(plan.standard[:n_standard])]
    for cand, col, lw, tag in cands:
        label = f"{tag + ': ' if tag else ''}{cand.spec if len(cand.spec) < 60 else cand.spec[:57] + '...'}  ({cand.final_loss:.4f})"
        (line,) = a1.plot(steps, cand.lr, lw=lw, color=col, label=label)
        p = predict(fit, cand.lr, sample)
        a2.plot(sample, p.loss, lw=lw, color=line.get_color())
        a2.fill_between(sample, p.lower, p.upper, color=line.get_color(), alpha=0.15, lw=0)
    a1.set_ylabel("learning rate")
    a1.set_title(f"planned vs standard schedules, {plan.steps} steps, peak LR {plan.peak_lr:g} "
                 f"({fit.law} law; predicted final loss in brackets)", loc="left", fontsize=9.5, fontweight="bold")
    a1.legend(frameon=False, fontsize=7.5, loc="lower left", bbox_to_anchor=(0.1, 0.0))  # clear of the warmup
    finals = [c.final_loss for c, *_ in cands]
    lo, hi = min(finals), max(finals)
    span = max(hi - lo, 1e-3)
    a2.set_ylim(lo - 0.5 * span, hi + 2.5 * span)
    a2.set_ylabel("predicted loss")
    a2.set_xlabel("step")
    return _save(fig, path)
