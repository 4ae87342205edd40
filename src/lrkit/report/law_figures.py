"""Figures of the loss-curve laws: a fit and its pilots, a prediction with its band, planned vs
standard schedules (matplotlib, imported only when drawing).

The ``draw_*`` functions draw on an axes (a new figure when none is given) and return it; they are
what ``FitResult.plot()``, ``Prediction.plot()`` and ``Plan.plot()`` call, through the registry of
:mod:`lrkit.laws.figures`, filled at the bottom of this module.  The ``plot_*`` functions write a file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..laws import Curve, FitResult, Plan, Prediction
from ..laws.base import usable_points
from ..laws.figures import register
from ..laws.predict import evaluate
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


def _axes(ax, size=(8, 4.5)):
    if ax is None:
        _, ax = _plt().subplots(figsize=size, layout="constrained")
    style.apply(ax)
    return ax


def _label(fit: FitResult) -> str:
    return "validation loss" if fit.target == "val_loss" else "training loss"


def _ylim(ax, values: Sequence[np.ndarray]) -> None:
    v = np.concatenate([np.asarray(x, float)[np.isfinite(x)] for x in values if np.size(x)])
    if v.size:
        lo, hi = float(v.min()), float(np.percentile(v, 97))
        ax.set_ylim(lo - 0.05 * (hi - lo + 1e-9), hi + 0.02 * (hi - lo + 1e-9))


def _draw_pilots(ax, fit: FitResult, muted: bool = False) -> list[np.ndarray]:
    """The fit's pilots: logged loss (dots) and the fitted law (lines); returns the values drawn."""
    drawn = []
    for i, (name, pilot) in enumerate(fit.pilots.items()):
        col = "#999999" if muted else style.PALETTE[i % len(style.PALETTE)]
        ax.plot(pilot["steps"], pilot["loss"], ".", ms=2.5, color=col, alpha=0.6)
        ax.plot(pilot["steps"], pilot["fitted"], "-", color=col, lw=1.0 if muted else 1.3,
                label=f"pilot {style.shorten(name, 40)}" + (f" (R² {fit.metrics[name]['r2']:.4f})" if name in fit.metrics else ""))
        drawn.append(np.asarray(pilot["loss"]))
    return drawn


def draw_fit(fit: FitResult, ax=None) -> Any:
    """The pilots a fit was made on: logged loss (dots) and the fitted law (lines)."""
    ax = _axes(ax)
    drawn = _draw_pilots(ax, fit)
    _ylim(ax, drawn)
    ax.set_xlabel("step")
    ax.set_ylabel(_label(fit))
    ax.set_title(f"{fit.law} law fitted to {len(fit.pilots)} pilot run{'s' * (len(fit.pilots) != 1)}", loc="left",
                 fontsize=10, fontweight="bold")
    ax.legend(frameon=False, fontsize=7.5, loc="upper right")
    return ax


def draw_prediction(pred: Prediction, ax=None, observed: tuple[np.ndarray, np.ndarray] | None = None,
                    label: str = "prediction", pilots: bool = True) -> Any:
    """A prediction (line) and its band, the fit's pilots (grey) and, only when given, the observed
    loss of the run predicted (``observed = (steps, loss)``, dots)."""
    ax = _axes(ax)
    drawn = _draw_pilots(ax, pred.fit, muted=True) if pilots and pred.fit is not None else []
    ok = np.isfinite(pred.loss)
    col = style.PALETTE[0]
    ax.plot(pred.steps[ok], pred.loss[ok], "-", color=col, lw=1.6, label=style.shorten(label, 60))
    ax.fill_between(pred.steps[ok], pred.lower[ok], pred.upper[ok], color=col, alpha=0.2, lw=0,
                    label=f"{int(100 * pred.level)}% band")
    drawn.append(pred.loss[ok])
    title = "prediction"
    if observed is not None:
        steps, loss = (np.asarray(x) for x in observed)
        ax.plot(steps, loss, ".", ms=3, color=style.PALETTE[1], label="observed")
        drawn.append(loss)
        at = np.searchsorted(pred.steps, steps)
        hit = (at < pred.steps.size) & (pred.steps[np.minimum(at, pred.steps.size - 1)] == steps)
        p = pred.loss[at[hit]]
        rel = 100 * np.abs(p - loss[hit]) / loss[hit]
        if np.isfinite(rel).any():
            title = f"observed vs predicted: mean |error| {np.nanmean(rel):.2f}%"
    if pred.warnings:
        title += f" (outside the fit's domain: {', '.join(pred.warnings)})"
    _ylim(ax, drawn)
    ax.set_xlabel("step")
    ax.set_ylabel(_label(pred.fit) if pred.fit is not None else "loss")
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    ax.legend(frameon=False, fontsize=7.5, loc="upper right")
    return ax


def draw_plan(plan: Plan, ax=None, n_standard: int = 4) -> Any:
    """The planned schedule beside standard ones (LR, top) and their predicted loss with bands (bottom).

    With ``ax`` given, only the LR panel is drawn there (predicted final losses in the legend); returns
    that axes, or both axes ``(lr, loss)`` of a new figure."""
    fit = plan.fit
    if ax is None:
        _, (a1, a2) = _plt().subplots(2, 1, figsize=(8, 7), sharex=True, layout="constrained")
        style.apply(a2)
    else:
        a1, a2 = ax, None
    style.apply(a1)
    steps = np.arange(plan.steps)
    every = max(1, plan.steps // 400)
    sample = steps[max(1, plan.warmup)::every]
    if sample[-1] != plan.steps - 1:
        sample = np.r_[sample, plan.steps - 1]
    cands = [(plan.best, "#000000", 2.4, plan.label)] + [
        (c, style.PALETTE[i % (len(style.PALETTE) - 1)], 1.3, None) for i, c in enumerate(plan.standard[:n_standard])]
    finals = []
    for cand, col, lw, tag in cands:
        label = f"{tag + ': ' if tag else ''}{style.shorten(cand.spec, 60)}  ({cand.final_loss:.4f})"
        (line,) = a1.plot(steps, cand.lr, lw=lw, color=col, label=label)
        finals.append(cand.final_loss)
        if a2 is not None and fit is not None:
            p = evaluate(fit, cand.lr, sample)
            ok = np.isfinite(p.loss)
            a2.plot(sample[ok], p.loss[ok], lw=lw, color=line.get_color())
            a2.fill_between(sample[ok], p.lower[ok], p.upper[ok], color=line.get_color(), alpha=0.15, lw=0)
    a1.set_ylabel("learning rate")
    a1.set_title(f"planned vs standard schedules, {plan.steps:,} steps, peak LR {plan.peak_lr:g} "
                 f"(predicted final loss in brackets)", loc="left", fontsize=9.5, fontweight="bold")
    a1.legend(frameon=False, fontsize=7.5, loc="lower left", bbox_to_anchor=(0.1, 0.0))  # clear of the warmup
    if a2 is None:
        return a1
    lo, hi = min(finals), max(finals)
    span = max(hi - lo, 1e-3)
    a2.set_ylim(lo - 0.5 * span, hi + 2.5 * span)
    a2.set_ylabel(f"predicted {_label(fit) if fit is not None else 'loss'}")
    a2.set_xlabel("step")
    a2.set_title(plan.verdict(), loc="left", fontsize=8.5)
    return np.array([a1, a2])


def plot_curves(fit: FitResult, curves: Sequence[Curve], path: str | Path, title: str | None = None,
                fitted: Sequence[str] = ()) -> Path:
    """Observed loss (dots) against the law's prediction (line) and its band, one colour per run.

    Runs named in ``fitted`` are drawn solid (fitted), the others dashed (predicted).  Losses logged
    before the first positive LR are left out, as the fit leaves them out; the law's line starts where
    it applies (the end of the warmup).
    """
    curves, _ = usable_points(curves)
    plt = _plt()
    fig, (ax, axr) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, layout="constrained",
                                  gridspec_kw={"height_ratios": [3, 1.3]})
    for a in (ax, axr):
        style.apply(a)
    for i, c in enumerate(curves):
        col = style.PALETTE[i % len(style.PALETTE)]
        p = evaluate(fit, c.lr, c.steps)
        is_fit = c.name in fitted
        rel = 100 * (p.loss - c.loss) / c.loss
        ax.plot(c.steps, c.loss, ".", ms=2.5, color=col, alpha=0.6)
        ax.plot(c.steps, p.loss, "-" if is_fit else "--", color=col, lw=1.3,
                label=f"{c.name} ({'fitted' if is_fit else 'predicted'}, mean err {np.nanmean(np.abs(rel)):.2f}%)")
        ax.fill_between(c.steps, p.lower, p.upper, color=col, alpha=0.2, lw=0)
        axr.plot(c.steps, rel, "-" if is_fit else "--", color=col, lw=1)
    _ylim(ax, [c.loss for c in curves])
    ax.set_ylabel(_label(fit))
    ax.set_title(title or f"{fit.law}: observed (dots) vs law (lines), {int(100 * fit.band_level)}% band",
                 loc="left", fontsize=10, fontweight="bold")
    ax.legend(frameon=False, fontsize=7.5, loc="upper right")
    axr.axhline(0, color="#444444", lw=0.6)
    axr.set_ylabel("error (%)")
    axr.set_xlabel("step")
    return _save(fig, path)


def plot_prediction(pred: Prediction, path: str | Path, observed: tuple[np.ndarray, np.ndarray] | None = None,
                    label: str = "prediction") -> Path:
    """:func:`draw_prediction` written to ``path``."""
    ax = draw_prediction(pred, observed=observed, label=label)
    return _save(ax.figure, path)


def plot_plan(fit: FitResult, plan: Plan, path: str | Path, n_standard: int = 4) -> Path:
    """:func:`draw_plan` written to ``path`` (``fit``: the plan's fit, for plans made without one)."""
    if plan.fit is None:
        plan = replace(plan, fit=fit)
    axes = draw_plan(plan, n_standard=n_standard)
    return _save(axes[0].figure, path)


register("fit", draw_fit)
register("prediction", draw_prediction)
register("plan", draw_plan)
