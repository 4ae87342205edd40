"""Figures of a benchmark: loss curves with the seed spread, LR curves, LR sensitivity, performance
profile, and predicted-versus-realised loss curves.  Each function returns a matplotlib ``Figure``."""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

import numpy as np

from . import style

W, H = 6.4, 3.6  # inches: two figures side by side in the report


def _plt():
    style.use_agg()
    import matplotlib.pyplot as plt

    return plt


def colours(labels: Sequence[str]) -> dict[str, str]:
    """One colour per method, the same in every figure."""
    return {lab: style.PALETTE[i % len(style.PALETTE)] for i, lab in enumerate(labels)}


def short(label: str, width: int = 48, names: Mapping[str, str] | None = None) -> str:
    """A method's display name (``names`` maps long specs to short names), cut to ``width``."""
    return style.shorten((names or {}).get(label, label), width)


def _text(label: str, width: int = 48, names: Mapping[str, str] | None = None) -> str:
    """:func:`short` for a figure: a ``$`` is shown as itself, never read as the start of mathtext (a label
    comes from a database, so ``a$^$b`` must not fail the report)."""
    return short(label, width, names).replace("$", r"\$")


#: a legend's labels are whole: :func:`style.legend_below` wraps them
FULL = 10_000


def _legend(fig, handles=None, labels=None) -> None:
    """The methods' legend framed below the axes, full labels wrapped (:func:`style.legend_below`), clear
    of the curves; for a legend taller than the figure allows, the figure grows rather than the legend cut."""
    for _ in range(4):
        try:
            style.legend_below(fig, handles, labels)
            return
        except ValueError:
            w, h = fig.get_size_inches()
            fig.set_size_inches(w, h * 1.5)
    style.legend_below(fig, handles, labels)


def _stack(hists: Sequence[Mapping[str, Sequence[float]]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps (updates) and a seeds x points array on the union of logged steps (NaN where a seed has none,
    e.g. after it diverged)."""
    steps = np.array(sorted({int(x) for h in hists for x in h["step"]}), dtype=int)
    rows = []
    for h in hists:
        idx = {int(s): i for i, s in enumerate(h["step"])}
        rows.append([h[key][idx[s]] if s in idx else np.nan for s in steps])
    return steps + 1, np.array(rows, dtype=float).reshape(len(hists), steps.size)


def _ylim(ax, arrays: Sequence[np.ndarray], lo_pad: float = 0.03, skip: int = 5) -> None:
    """Zoom on the interesting part: from just below the best value to the highest value after a fifth of the run."""
    vals = np.concatenate([a[np.isfinite(a)].ravel() for a in arrays if a.size]) if arrays else np.array([])
    if vals.size == 0:
        return
    lo = float(vals.min())
    tops = []
    for a in arrays:
        if a.size:
            k = max(1, a.shape[-1] // skip)
            col = a[..., k:]
            col = col[np.isfinite(col)]
            if col.size:
                tops.append(float(col.max()))
    hi = max(tops) if tops else float(vals.max())
    if hi <= lo:
        hi = lo + 1e-3
    pad = (hi - lo) * lo_pad
    ax.set_ylim(lo - pad, hi + pad * 2)


def loss_curves(methods: Sequence[Any], histories: Mapping[int, Mapping[str, Sequence[float]]], cmap: Mapping[str, str],
                target: float | None = None, names: Mapping[str, str] | None = None):
    """Validation and training loss per method at its tuned LR: median over seeds, band = min–max."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(2 * W, H), dpi=100, layout="constrained")
    for ax, key, title in ((axes[0], "val_loss", "validation loss"), (axes[1], "loss", "training loss")):
        style.apply(ax, x="count", y="value")
        arrays = []
        for m in methods:
            hs = [histories[i] for i in m.trial_ids]
            steps, a = _stack(hs, key)
            if not steps.size:
                continue
            arrays.append(a)
            c = cmap[m.label]
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(a, axis=0)
            ax.plot(steps, med, color=c, linewidth=1.8, label=f"{_text(m.label, FULL, names)} (lr {m.lr:g})", zorder=3)
            if a.shape[0] > 1:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns after a divergence
                    lo, hi = np.nanmin(a, axis=0), np.nanmax(a, axis=0)
                ax.fill_between(steps, lo, hi, color=c, alpha=0.18, linewidth=0, zorder=2)
        _ylim(ax, arrays)
        if key == "val_loss" and target is not None and math.isfinite(target):
            lo, hi = ax.get_ylim()
            if lo <= target <= hi:
                ax.axhline(target, color="#555555", linestyle=(0, (4, 3)), linewidth=1.0, zorder=1)
                ax.annotate(f"target {target:.4g}", xy=(1.0, target), xycoords=("axes fraction", "data"),
                            xytext=(-4, 4), textcoords="offset points", ha="right", va="bottom", fontsize=8,
                            color="#555555")
            else:  # far from every curve: say where it is rather than squash the curves or draw off the axes
                ax.annotate(f"target {target:.4g} ({'below' if target < lo else 'above'} the plot)",
                            xy=(1.0, 0.0 if target < lo else 1.0), xycoords="axes fraction", xytext=(-4, 4 if target < lo else -4),
                            textcoords="offset points", ha="right", va="bottom" if target < lo else "top", fontsize=8,
                            color="#555555")
        ax.set_xlabel("step")
        ax.set_title(title, loc="left", fontsize=10.5, fontweight="bold", color="#333333")
    _legend(fig, *axes[0].get_legend_handles_labels())  # the two panels share their lines: one legend
    return fig


def lr_curves(methods: Sequence[Any], histories: Mapping[int, Mapping[str, Sequence[float]]], cmap: Mapping[str, str],
              names: Mapping[str, str] | None = None):
    """The LR each method applied (its first seed at its tuned LR)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(W, H), dpi=100, layout="constrained")
    style.apply(ax, x="count", y="value")
    for m in methods:
        h = histories[m.trial_ids[0]]
        ax.plot(np.asarray(h["step"]) + 1, h["lr"], color=cmap[m.label], linewidth=1.8, label=_text(m.label, FULL, names))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title("learning rate", loc="left", fontsize=10.5, fontweight="bold", color="#333333")
    _legend(fig)
    return fig


def lr_sensitivity(methods: Sequence[Any], cmap: Mapping[str, str], initial_loss: float | None = None,
                   names: Mapping[str, str] | None = None):
    """Final validation loss against peak LR (median over seeds); diverged runs drawn at the top."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(W, H), dpi=100, layout="constrained")
    style.apply(ax, y="value")
    finite = [v for m in methods for v in m.lr_sweep.values() if math.isfinite(v)]
    top = max(finite) if finite else 1.0
    if initial_loss is not None and math.isfinite(initial_loss):
        top = min(max(finite) if finite else initial_loss, initial_loss)
    for m in methods:
        lrs = np.array(sorted(m.lr_sweep))
        vals = np.array([m.lr_sweep[x] for x in lrs], dtype=float)
        ok = np.isfinite(vals)
        sens = f", sensitivity {m.sensitivity:.3f}" if m.sensitivity is not None else ""
        ax.plot(lrs[ok], vals[ok], "-o", color=cmap[m.label], linewidth=1.6, markersize=4, label=_text(m.label, FULL, names) + sens)
        if (~ok).any():
            ax.plot(lrs[~ok], np.full((~ok).sum(), top), "x", color=cmap[m.label], markersize=7, mew=2)
    ax.set_xscale("log")
    ax.set_xlabel("peak learning rate")
    ax.set_ylabel("final validation loss")
    ax.set_title("LR sensitivity (× = diverged)", loc="left", fontsize=10.5, fontweight="bold", color="#333333")
    _legend(fig)
    return fig


def performance_profile(times: Mapping[str, Mapping[str, float]], cmap: Mapping[str, str], r_max: float = 4.0,
                        scores: Mapping[str, float] | None = None, names: Mapping[str, str] | None = None):
    """rho_s(tau): fraction of problems each method solves within tau times the fastest."""
    from ..bench.scoring import performance_profile as profile

    plt = _plt()
    fig, ax = plt.subplots(figsize=(W, H), dpi=100, layout="constrained")
    style.apply(ax, x="value", y="value")
    taus = np.linspace(1.0, r_max, 601)
    prof = profile(times, taus)
    n = len(prof)
    for i, (lab, rho) in enumerate(sorted(prof.items(), key=lambda kv: -(scores or {}).get(kv[0], 0))):
        offset = (i - (n - 1) / 2) * 0.006  # keep identical profiles visible
        lbl = _text(lab, FULL, names) + (f"  (score {scores[lab]:.3f})" if scores and lab in scores else "")
        ax.step(taus, rho + offset, where="post", color=cmap.get(lab, "#333333"), linewidth=1.8, label=lbl)
    ax.set_xlim(1.0, r_max)
    ax.set_ylim(-0.04, 1.06)
    ax.set_xlabel("τ (steps to target ÷ fastest)")
    ax.set_ylabel("fraction of problems")
    ax.set_title("performance profile", loc="left", fontsize=10.5, fontweight="bold", color="#333333")
    _legend(fig)
    return fig


def predicted_vs_realised(curves: Sequence[Mapping[str, Any]], realised: Mapping[str, tuple[np.ndarray, np.ndarray]],
                          cmap: Mapping[str, str], pilots: Sequence[tuple[str, np.ndarray, np.ndarray]] = (),
                          names: Mapping[str, str] | None = None):
    """Predicted validation loss (dashed) against the realised curve (solid) per schedule.

    The prediction band (parameter uncertainty) is drawn for the planned schedule only, to keep the
    figure readable; the pilots the law was fitted on are grey.
    """
    plt = _plt()
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(2 * W, H * 1.2), dpi=100, layout="constrained")
    style.apply(ax, x="count", y="value")
    arrays = []
    for _, s, v in pilots:
        ax.plot(s, v, color="#a0a0a0", linewidth=1.3, zorder=2)
        arrays.append(np.asarray(v)[None, :])
    handles, labels = [], []
    banded = [c for c in curves if c.get("planned")] or list(curves[:1])
    for c in curves:
        col = cmap.get(c["label"], "#333333")
        s = np.asarray(c["steps"]) + 1
        ax.plot(s, c["loss"], color=col, linestyle=(0, (5, 3)), linewidth=1.6, zorder=3)
        if c in banded and c.get("lower") is not None:
            ax.fill_between(s, c["lower"], c["upper"], color=col, alpha=0.12, linewidth=0, zorder=1)
        if c["label"] in realised:
            rs, rv = realised[c["label"]]
            arrays.append(np.asarray(rv)[None, :])
            ax.plot(rs, rv, color=col, linewidth=2.0, zorder=4)
        arrays.append(np.asarray(c["loss"])[None, :])
        handles.append(Line2D([], [], color=col, linewidth=2.4))
        labels.append(_text(c["label"], 44, names))
    _ylim(ax, arrays, skip=3)
    handles += [Line2D([], [], color="#333333", linewidth=2.0), Line2D([], [], color="#333333", linestyle=(0, (5, 3))),
                Line2D([], [], color="#a0a0a0", linewidth=1.3)]
    labels += ["realised", "predicted before training", "pilot runs (fitted)"]
    fig.legend(handles, labels, frameon=False, fontsize=8.5, loc="outside right upper")
    ax.set_xlabel("step")
    ax.set_ylabel("validation loss")
    ax.set_title("predicted vs realised validation loss", loc="left", fontsize=10.5, fontweight="bold", color="#333333")
    return fig


def to_svg(fig) -> str:
    """The figure as SVG text (and closes it)."""
    import io

    plt = _plt()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()
