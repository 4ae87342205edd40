"""Choosing and checking a fit on the fitted runs' own futures: forward-chaining cross-validation of
the fit configuration (:func:`select_config`) and the forward hold-out that calibrates the law's
extrapolation error (:func:`model_error`, forward-chaining quantiles).  Both split every run in time and run
:func:`lrkit.laws.solve.solve` on the first part; neither calls :func:`lrkit.laws.fit`.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from .base import Curve, Law, LawError
from .result import get_law
from .solve import Problem, fixed_index, solve

#: The fit configurations :func:`select_config` chooses from: the warmup treatment of the multi-power
#: law and the weight of the shrinkage toward its simplified-law initialisation.
SELECT_MENU: tuple[dict[str, Any], ...] = tuple(
    {"law_options": lo, "shrink": s} for lo in ({}, {"warmup": "ld"}) for s in (0.0, 0.03)
)
#: Forward-chaining folds: fit the first fraction of every run, predict the rest.
CV_FRACTIONS = (0.5, 2.0 / 3.0)


def forward_split(curves: Sequence[Curve], fraction: float, min_head: int = 5) -> tuple[list[Curve], list[Curve]]:
    """Every run cut at ``fraction`` of its length: the heads (runs with at least ``min_head`` losses
    before the cut) and the tails after the cut of those runs (the futures the heads predict)."""
    heads, tails = [], []
    for c in curves:
        keep = c.steps < fraction * c.lr.size
        if keep.sum() >= min_head:
            heads.append(Curve(c.name, c.lr, c.steps[keep], c.loss[keep]))
            if (~keep).any():
                tails.append(Curve(c.name, c.lr, c.steps[~keep], c.loss[~keep]))
    return heads, tails


def _relative_errors(law: Law, theta: np.ndarray, preps: Sequence[Any], tails: Sequence[Curve]) -> list[np.ndarray]:
    """``|pred - loss| / loss`` on every tail (``preps``: the law's preparation of each tail)."""
    return [np.abs(law.evaluate(p, theta)[0] - c.loss) / c.loss for p, c in zip(preps, tails)]


def select_config(curves: Sequence[Curve], law_name: str = "multipower", menu: Sequence[dict[str, Any]] = SELECT_MENU,
                  fractions: Sequence[float] = CV_FRACTIONS, *, huber_delta: float = 1e-3,
                  prior_weight: float | None = None, n_starts: int = 1) -> dict[str, Any]:
    """Choose a fit configuration by forward-chaining (temporal) cross-validation on the fitted runs.

    For each fraction ``f`` in ``fractions``, every configuration in ``menu`` is fitted to the part of
    every run before ``f`` of its length and predicts the rest; its score is the mean over folds of the
    mean over runs of the mean relative error of that prediction (the benchmark's PredE, on the
    runs' own futures).  Returns ``{"config", "score", "scores"}`` (``{}`` if no fold has enough
    points on both sides).  Only the runs passed in are used.
    """
    groups: dict[str, list[int]] = {}
    for i, cfg in enumerate(menu):
        groups.setdefault(json.dumps(cfg.get("law_options", {}), sort_keys=True), []).append(i)
    pe = np.full((len(menu), len(fractions)), np.nan)
    we = np.full((len(menu), len(fractions)), np.nan)
    for key, idx in groups.items():
        law = get_law(law_name, **json.loads(key))
        for j, frac in enumerate(fractions):
            heads, tails = forward_split(curves, frac)
            if not tails or sum(h.steps.size for h in heads) < len(law.param_names) + 1:
                continue
            problem = Problem.of(law, heads)
            tpreps = [law.prepare(c.lr, c.steps) for c in tails]
            starts = list(law.starts(problem.preps, problem.losses, n_starts))  # shared by this fold's configs
            for i in idx:
                theta = solve(problem, prior_weight, float(menu[i]["shrink"]), n_starts, huber_delta, starts).theta
                rel = _relative_errors(law, theta, tpreps, tails)
                pe[i, j] = float(np.mean([r.mean() for r in rel]))
                we[i, j] = float(np.mean([r.max() for r in rel]))
    if np.all(np.isnan(pe)):
        return {}
    score = np.nanmean(pe, axis=1)
    best = int(np.nanargmin(score))
    return {
        "config": dict(menu[best]),
        "score": float(score[best]),
        "fractions": [float(f) for f in fractions],
        "scores": [{"config": dict(m), "prede": pe[i].tolist(), "worste": we[i].tolist()} for i, m in enumerate(menu)],
    }


#: Forward-chaining folds of the band calibration (:func:`model_error`).
CAL_FRACTIONS = (0.4, 0.5, 0.6, 0.7)


def _fold_errors(curves: Sequence[Curve], law: Law, fraction: float, solve_args: dict[str, Any],
                 fixed: dict[str, float]) -> tuple[np.ndarray, np.ndarray] | None:
    """One forward fold: the law fitted to the first ``fraction`` of every run predicts the rest;
    the relative errors there and their log-horizons ``log(t / T_c)`` (``T_c``: the fold's last fitted
    step).  ``None`` if the fold has too few points or cannot be fitted."""
    heads, tails = forward_split(curves, fraction)
    if not tails or sum(h.steps.size for h in heads) < len(law.param_names) + 1:
        return None
    try:
        problem = Problem.of(law, heads)
        held = fixed_index(law, fixed, problem.lo, problem.hi)
        theta = solve(problem, fixed=held, **solve_args).theta
    except LawError:
        return None
    t_cut = float(max(h.steps.max() for h in heads))
    e = np.concatenate(_relative_errors(law, theta, [law.prepare(c.lr, c.steps) for c in tails], tails))
    h = np.maximum(np.concatenate([np.log(c.steps / t_cut) for c in tails]), 0.0)
    return e, h


def model_error(curves: Sequence[Curve], law: Law, holdout: float | Sequence[float] = CAL_FRACTIONS, *,
                level: float = 0.9, huber_delta: float = 1e-3, n_starts: int = 3,
                prior_weight: float | None = None, shrink: float = 0.0,
                fixed: dict[str, float] | None = None) -> dict[str, float]:
    """Calibrate the law's own (extrapolation) error on the fitted runs only, by forward chaining.

    For each fraction ``f`` in ``holdout`` (default :data:`CAL_FRACTIONS`; one number: one fold) the
    law is fitted to the first ``f`` of every run and predicts the rest: relative errors ``e_i`` at
    log-horizons ``h_i = log(t_i / T_c)``.  The points are split at the median horizon; ``a`` is the
    ``level`` quantile of ``|e|`` of the nearer half, ``q`` that of the farther half, and the band's
    model half-width is ``(a + b * h) * loss`` with ``h = log(t / T)`` beyond the last fitted step
    ``T`` (0 before it: another schedule within the fitted horizon gets ``a``) and
    ``b = max((q - a) / (mean h_far - mean h_near), q / mean h_far)``: the growth the folds show, and
    at least the far half's error per unit of log-horizon (an extrapolation does not get better
    with distance; the folds only reach ``log(1 / 0.4)``, the targets often further).  A quantile, not a mean, so the band's coverage is the level's by
    construction on the runs' own futures (conformal prediction by forward chaining).  Returns
    ``{"a", "b", "horizon", "points", "quantile"}`` (``quantile``: the level), or ``{}`` if no fold
    has enough points held out.
    """
    fractions = (holdout,) if isinstance(holdout, (int, float)) else tuple(holdout)
    args = {"prior_weight": prior_weight, "shrink": shrink, "n_starts": n_starts, "huber_delta": huber_delta}
    folds = [r for f in fractions if 0 < f < 1 and (r := _fold_errors(curves, law, f, args, dict(fixed or {})))]
    if not folds:
        return {}
    e, h = np.concatenate([f[0] for f in folds]), np.concatenate([f[1] for f in folds])
    near = h <= np.median(h)
    a = float(np.quantile(e[near], level))
    b = 0.0
    if (~near).any():
        far, h_far = float(np.quantile(e[~near], level)), float(h[~near].mean())
        b = max((far - a) / max(h_far - float(h[near].mean()), 1e-12), far / max(h_far, 1e-12))
    return {"a": a, "b": float(b), "horizon": float(max(c.steps.max() for c in curves)), "points": int(e.size),
            "quantile": float(level)}
