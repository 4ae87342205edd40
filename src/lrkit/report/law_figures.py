"""Figures of the loss-curve laws: a fit and its pilots, a prediction with its band, planned vs
standard schedules (matplotlib, imported only when drawing).

The ``draw_*`` functions draw on an axes (a new figure of ``size`` inches at ``dpi`` when none is
given) and return it; they are what ``FitResult.plot()``, ``Prediction.plot()`` and ``Plan.plot()``
call, through the registry of :mod:`lrkit.laws.figures`, filled at the bottom of this module.  The
``plot_*`` functions write a file (PNG, SVG or PDF by suffix).  Labels carry the full spec, wrapped in
a framed legend below the data, never cut.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..laws import Curve, FitResult, Plan, Prediction
from ..laws.base import usable_points
from ..laws.figures import register
from ..laws.predict import evaluate, has_band
from ..laws.profile import marks
from ..spec import parse
from . import style

#: the standard schedules' colours: the palette without black, which is the planned schedule's
_COLOURS = [c for c in style.PALETTE if c != "#000000"]


def _axes(ax, size=None, dpi=None):
    """``(ax, own)``: the axes given, or that of a new figure (``own``: the legend may go below it)."""
    if ax is not None:
        return ax, False
    _, ax = style.new_figure(size or style.SIZE, dpi)
    return ax, True


def _finish(axes, own: bool) -> None:
    """House style and round ticks on every axes; the legend below the data of a figure drawn here, else
    a framed one inside the caller's axes."""
    for a in axes:
        style.apply(a, x="count", y="value")
    if own:
        style.legend_below(axes[0].figure)
    elif axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7.5, frameon=True, loc="best")


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
        dash = style.LINESTYLES[1 + i % (len(style.LINESTYLES) - 1)] if muted else "-"  # grey pilots told apart
        ax.plot(pilot["steps"], pilot["loss"], ".", ms=2.5, color=col, alpha=0.6)
        ax.plot(pilot["steps"], pilot["fitted"], linestyle=dash, color=col, lw=1.0 if muted else 1.3,
                label=f"pilot {name}" + (f" (R² {fit.metrics[name]['r2']:.4f})" if name in fit.metrics else ""))
        drawn.append(np.asarray(pilot["loss"]))
    return drawn


def draw_fit(fit: FitResult, ax=None, size=None, dpi=None) -> Any:
    """The pilots a fit was made on: logged loss (dots) and the fitted law (lines)."""
    ax, own = _axes(ax, size, dpi)
    drawn = _draw_pilots(ax, fit)
    _ylim(ax, drawn)
    ax.set_xlabel("step")
    ax.set_ylabel(_label(fit))
    style.title(ax, f"{fit.law} law fitted to {len(fit.pilots)} pilot run{'s' * (len(fit.pilots) != 1)}", 10)
    _finish([ax], own)
    return ax


def draw_prediction(pred: Prediction, ax=None, observed: tuple[np.ndarray, np.ndarray] | None = None,
                    label: str = "prediction", pilots: bool = True, size=None, dpi=None) -> Any:
    """A prediction (line) and its band, the fit's pilots (grey) and, only when given, the observed
    loss of the run predicted (``observed = (steps, loss)``, dots)."""
    ax, own = _axes(ax, size, dpi)
    drawn = _draw_pilots(ax, pred.fit, muted=True) if pilots and pred.fit is not None else []
    ok = np.isfinite(pred.loss)
    col = style.PALETTE[0]
    ax.plot(pred.steps[ok], pred.loss[ok], "-", color=col, lw=1.6, label=label)
    if pred.fit is None or has_band(pred.fit):  # a fit without a bootstrap has no band to draw
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
    style.title(ax, title, 10)
    _finish([ax], own)
    return ax


def _plan_lines(plan: Plan, a1, a2, n_standard: int) -> list[float]:
    """Each candidate's LR on ``a1`` (labelled with its full spec) and, with ``a2``, its predicted loss
    and band; returns their predicted final losses."""
    steps = np.arange(plan.steps)
    every = max(1, plan.steps // 400)
    sample = steps[max(1, plan.warmup)::every]
    if sample[-1] != plan.steps - 1:
        sample = np.r_[sample, plan.steps - 1]
    cands = [(plan.best, "#000000", 2.4, plan.label)] + [
        (c, _COLOURS[i % len(_COLOURS)], 1.3, None) for i, c in enumerate(plan.standard[:n_standard])]
    finals = []
    for i, (cand, col, lw, tag) in enumerate(cands):
        label = f"{tag + ': ' if tag else ''}{parse(cand.spec).spec(full=True)}  ({cand.final_loss:.4f})"
        dash = style.LINESTYLES[i % len(style.LINESTYLES)]
        a1.plot(steps, cand.lr, lw=lw, color=col, linestyle=dash, label=label)
        finals.append(cand.final_loss)
        if a2 is not None and plan.fit is not None:
            p = evaluate(plan.fit, cand.lr, sample)
            ok = np.isfinite(p.loss)
            a2.plot(sample[ok], p.loss[ok], lw=lw, color=col, linestyle=dash)
            a2.fill_between(sample[ok], p.lower[ok], p.upper[ok], color=col, alpha=0.15, lw=0)
    return finals


def draw_plan(plan: Plan, ax=None, n_standard: int = 4, size=None, dpi=None) -> Any:
    """The planned schedule beside standard ones (LR, top) and their predicted loss with bands (bottom).

    With ``ax`` given, only the LR panel is drawn there (predicted final losses in the legend); returns
    that axes, or the axes ``(lr, loss)`` of a new figure of ``size`` inches at ``dpi``, with a third,
    what the pilots allow (:func:`_draw_allowed`), when the plan has profile rows that predict."""
    fit = plan.fit
    allow = any(r["predictable"] for r in plan.profile)
    a3 = None
    if ax is not None:
        a1, a2 = ax, None
    elif allow:
        _, (a1, a2, a3) = style.new_figure(size or (8, 9.2), dpi, rows=3,
                                           gridspec_kw={"height_ratios": [1, 1, 0.72]})
        a2.sharex(a1)
    else:
        _, (a1, a2) = style.new_figure(size or (8, 7), dpi, rows=2, sharex=True)
    finals = _plan_lines(plan, a1, a2, n_standard)
    a1.set_ylabel("learning rate")
    law = f"{fit.law} law; " if fit is not None else ""
    style.title(a1, f"planned vs standard schedules, {plan.steps:,} steps, peak LR {plan.peak_lr:g} "
                    f"({law}predicted final loss in brackets)", 9.5)
    if a2 is None:
        _finish([a1], False)
        return a1
    lo, hi = min(finals), max(finals)
    span = max(hi - lo, 1e-3)
    a2.set_ylim(lo - 0.5 * span, hi + 2.5 * span)
    a2.set_ylabel(f"predicted {_label(fit) if fit is not None else 'loss'}")
    a2.set_xlabel("step")
    style.title(a2, plan.verdict(), 8.5, bold=False)
    _finish([a1, a2], True)
    if a3 is None:
        return np.array([a1, a2])
    _draw_allowed(a3, plan.profile, fit)
    return np.array([a1, a2, a3])


def _draw_allowed(ax, rows: Sequence[dict[str, Any]], fit: FitResult | None) -> None:
    """What the pilots allow (:attr:`Plan.profile`): for each value the undetermined parameter was held
    at, the best WSD decay it plans (x) against how well that refit describes the pilots (y); rows that
    predict no loss for the budget are left out (the fit's own and the pilots' best are marked as in
    ``lrkit plan``'s table, :func:`~lrkit.laws.profile.marks`)."""
    name = rows[0]["param"]
    mine, best = marks(rows, fit.params.get(name) if fit is not None else None)
    drawn = [i for i, r in enumerate(rows) if r["predictable"]]
    x = np.array([100 * rows[i]["decay"] for i in drawn])
    y = np.array([100 * rows[i]["mean_rel_error"] for i in drawn])
    ax.plot(x, y, "-", color="#bbbbbb", lw=1, zorder=1)
    for j, i in enumerate(drawn):
        col = "#000000" if i == mine else style.PALETTE[0]
        ax.plot(x[j], y[j], "o", ms=7 if i == mine else 5.5, color=col, zorder=3,
                mfc=col if i in (mine, best) else "white", mew=1.4)
        tag = f"{name} {rows[i]['value']:g}" + (" (this fit)" if i == mine else "") + (", pilots' best" if i == best else "")
        # labels alternate above and below, so neighbours that plan nearly the same decay stay legible
        ax.annotate(tag, (x[j], y[j]), xytext=(6, 5 if j % 2 == 0 else -12), textcoords="offset points",
                    fontsize=7.5, color="#333333")
    span = max(float(y.max() - y.min()), 1e-4)
    ax.set_ylim(float(y.min()) - 0.25 * span, float(y.max()) + 0.45 * span)
    ax.set_xlim(0, max(100.0, float(x.max()) + 5))
    ax.set_xlabel("best WSD decay to 0 under that refit (% of the run)")
    ax.set_ylabel("pilots' mean |error| (%)")
    style.title(ax, f"what the pilots allow: the fit with {name} held at each value, and the cooldown it plans",
                8.5, bold=False)
    style.apply(ax, x="value", y="value")


def plot_curves(fit: FitResult, curves: Sequence[Curve], path: str | Path, title: str | None = None,
                fitted: Sequence[str] = (), size: tuple[float, float] | None = None, dpi: float | None = None) -> Path:
    """Observed loss (dots) against the law's prediction (line) and its band, one colour per run; saved
    to ``path`` (PNG, SVG or PDF by suffix) at ``size`` inches and ``dpi``.

    Runs named in ``fitted`` are drawn solid (fitted), the others dashed (predicted).  Losses logged
    before the first positive LR are left out, as the fit leaves them out; the law's line starts where
    it applies (the end of the warmup).
    """
    curves, _ = usable_points(curves)
    style.figure_format(path)
    fig, (ax, axr) = style.new_figure(size or (8, 6.5), dpi, rows=2, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1.3]})
    for i, c in enumerate(curves):
        col = style.PALETTE[i % len(style.PALETTE)]
        p = evaluate(fit, c.lr, c.steps)
        is_fit = c.name in fitted
        rel = 100 * (p.loss - c.loss) / c.loss
        ax.plot(c.steps, c.loss, ".", ms=2.5, color=col, alpha=0.6)
        ax.plot(c.steps, p.loss, "-" if is_fit else "--", color=col, lw=1.3,
                label=f"{c.name} ({'fitted' if is_fit else 'predicted'}, mean err {np.nanmean(np.abs(rel)):.2f}%)")
        if has_band(fit):
            ax.fill_between(c.steps, p.lower, p.upper, color=col, alpha=0.2, lw=0)
        axr.plot(c.steps, rel, "-" if is_fit else "--", color=col, lw=1)
    _ylim(ax, [c.loss for c in curves])
    ax.set_ylabel(_label(fit))
    band = f"{int(100 * fit.band_level)}% band" if has_band(fit) else "no band (fitted with --boot 0)"
    style.title(ax, title or f"{fit.law}: observed (dots) vs law (lines), {band}", 10)
    axr.axhline(0, color="#444444", lw=0.6)
    axr.set_ylabel("error (%)")
    axr.set_xlabel("step")
    _finish([ax, axr], True)
    return style.save(fig, path, dpi=dpi)


def plot_prediction(pred: Prediction, path: str | Path, observed: tuple[np.ndarray, np.ndarray] | None = None,
                    label: str = "prediction", size: tuple[float, float] | None = None,
                    dpi: float | None = None) -> Path:
    """:func:`draw_prediction` written to ``path`` (PNG, SVG or PDF by suffix) at ``size`` inches and ``dpi``."""
    style.figure_format(path)
    ax = draw_prediction(pred, observed=observed, label=label, size=size, dpi=dpi)
    return style.save(ax.figure, path, dpi=dpi)


def plot_plan(fit: FitResult, plan: Plan, path: str | Path, n_standard: int = 4,
              size: tuple[float, float] | None = None, dpi: float | None = None) -> Path:
    """:func:`draw_plan` written to ``path`` (PNG, SVG or PDF by suffix) at ``size`` inches and ``dpi``
    (``fit``: the plan's fit, for plans made without one)."""
    style.figure_format(path)
    if plan.fit is None:
        plan = replace(plan, fit=fit)
    axes = draw_plan(plan, n_standard=n_standard, size=size, dpi=dpi)
    return style.save(axes[0].figure, path, dpi=dpi)


register("fit", draw_fit)
register("prediction", draw_prediction)
register("plan", draw_plan)
