"""The demo's own figure: each schedule's realised final validation loss per seed beside the law's
prediction, with the tolerance the demo promises (:mod:`lrkit.report.demo_story`)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from . import style
from .bench_figures import H, W, _plt
from .demo_story import TOLERANCE, ScheduleResult


def final_losses(rows: Sequence[ScheduleResult], cmap: Mapping[str, str], tolerance: float = TOLERANCE):
    """Dots: each seed's final validation loss; bar: the seeds' mean; shaded: the mean ± ``tolerance``;
    diamond with whiskers: the law's prediction and its band.  Best realised schedule on the left."""
    plt = _plt()
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(2 * W, H * 1.05), dpi=100, layout="constrained")
    style.apply(ax, y="value")
    rng = np.random.default_rng(0)
    near = []
    for i, r in enumerate(rows):
        col = cmap.get(r.schedule, "#333333")
        finals = np.asarray(r.finals, dtype=float)
        m = r.mean
        ax.add_patch(plt.Rectangle((i - 0.32, m * (1 - tolerance)), 0.64, 2 * tolerance * m, color=col, alpha=0.10,
                                   linewidth=0, zorder=1))
        ax.plot([i - 0.3, i + 0.3], [m, m], color=col, linewidth=2.4, zorder=3)
        ax.scatter(i - 0.12 + rng.uniform(-0.05, 0.05, finals.size), finals, s=22, color=col, zorder=4,
                   edgecolor="white", linewidth=0.6)
        ax.errorbar([i + 0.14], [r.predicted], yerr=[[r.predicted - r.lower], [r.upper - r.predicted]], fmt="D",
                    ms=6, color="#333333", mfc="white", mew=1.4, capsize=3, linewidth=1.1, zorder=5)
        near += [m * (1 - tolerance), m * (1 + tolerance), r.predicted, *finals[np.isfinite(finals)]]
    lo, hi = float(np.nanmin(near)), float(np.nanmax(near))
    pad = (hi - lo) * 0.12 or 1e-3
    ax.set_ylim(lo - pad, hi + pad)  # a band wider than this runs off the axes (its whiskers end there)
    ax.set_xticks(range(len(rows)), [style.shorten(("planned: " if r.planned else "") + r.label, 34) for r in rows],
                  fontsize=9)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("final validation loss")
    handles = [Line2D([], [], color="#555555", marker="o", linestyle="", ms=5),
               Line2D([], [], color="#555555", linewidth=2.4),
               Line2D([], [], color="#333333", marker="D", mfc="white", linestyle="-", ms=6),
               plt.Rectangle((0, 0), 1, 1, color="#555555", alpha=0.15, linewidth=0)]
    fig.legend(handles, ["each seed", "mean over seeds", "predicted (band)", f"mean ± {tolerance:.0%}"],
               frameon=False, fontsize=8.5, loc="outside right upper")
    ax.set_title("final validation loss: realised per seed and predicted", loc="left", fontsize=10.5,
                 fontweight="bold", color="#333333")
    return fig
