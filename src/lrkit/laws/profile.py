"""What the pilots allow for a shape parameter they do not determine: the fit refitted with it held
at each value of a grid (a profile), and how well each refit describes the pilots.

The multi-power law's ``gamma`` decides how fast a drop made at a low LR pays off, hence the best
cooldown; constant + cosine pilots leave it to the prior (docs/methods.md, "Why the shipped laws
over-value short cooldowns": at 25M the pilots' fit cost differs by 25% over gamma 0.001..1 while the
best decay moves from 60% to 5%).  ``lrkit fit`` stores the profile when ``gamma`` is flagged;
``lrkit plan`` plans the best WSD cooldown under each refit, so the user sees the range of plans
the pilots are consistent with and which of them the pilots themselves fit best.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from .base import Law, LawError
from .solve import Problem, Solution, fixed_index, solve

#: the values the profiled parameter is held at (the grid of docs/methods.md's table)
GRID = (0.001, 0.25, 0.5, 0.75, 1.0)
#: the profiled parameter of a law that has it
PARAM = "gamma"


def profile_fits(problem: Problem, sol: Solution, flags: dict[str, str], fixed: dict[str, float],
                 prior_weight: float | None, shrink: float, huber_delta: float) -> dict[str, Any]:
    """The profile of :data:`PARAM` (empty when the law has no such parameter, it is held by the user, or
    the pilots determine it): ``{"param", "values", "params", "mean_rel_error"}``, one refit per value of
    :data:`GRID` with everything else as the fit (prior, shrinkage, warmup treatment), started from it."""
    law = problem.law
    if PARAM not in law.param_names or PARAM not in flags or PARAM in fixed:
        return {}
    i = law.param_names.index(PARAM)
    y = np.concatenate(problem.losses)
    model = problem.model()
    values, params, errors = [], [], []
    for v in GRID:
        start = sol.theta.copy()
        start[i] = v
        held = fixed_index(law, {**fixed, PARAM: v}, problem.lo, problem.hi)
        theta = solve(problem, prior_weight, shrink, 1, huber_delta, starts=[start], fixed=held).theta
        pred = model(theta, False)[0]
        values.append(float(v))
        params.append([float(t) for t in theta])
        errors.append(float(np.mean(np.abs(pred - y) / y)))
    return {"param": PARAM, "values": values, "params": params, "mean_rel_error": errors}


def describe(profile: dict[str, Any]) -> str:
    """One clause: the values held and how well the refits describe the pilots, e.g. ``held at gamma =
    0.001, 0.25, 0.5, 0.75, 1, the pilots are described within 0.0304-0.0486% mean error (best at 0.25)``."""
    errs = [100 * e for e in profile["mean_rel_error"]]
    best = profile["values"][int(np.argmin(errs))]
    held = ", ".join(f"{v:g}" for v in profile["values"])
    return (f"held at {profile['param']} = {held}, the pilots are described within {min(errs):.3g}-{max(errs):.3g}% "
            f"mean error (best at {best:g})")


def marks(rows: Sequence[dict[str, Any]], own: float | None) -> tuple[int | None, int]:
    """For :attr:`~lrkit.laws.plan.Plan.profile` rows: the index of the row of the fit's own value ``own``
    (the nearest; ``None`` without one) and that of the pilots' best (the lowest mean relative error)."""
    mine = None if own is None else min(range(len(rows)), key=lambda i: abs(rows[i]["value"] - own))
    return mine, min(range(len(rows)), key=lambda i: rows[i]["mean_rel_error"])


def check_profile(profile: Any, law: Law) -> None:
    """Raise :class:`~lrkit.laws.base.LawError` unless ``profile`` (a fit file's) is empty or well formed."""
    if profile == {}:
        return
    if not isinstance(profile, dict) or set(profile) != {"param", "values", "params", "mean_rel_error"}:
        raise LawError("its profile must hold param, values, params and mean_rel_error")
    if profile["param"] not in law.param_names:
        raise LawError(f"its profile's parameter {profile['param']!r} is not one of the law's")
    rows = [profile["values"], profile["params"], profile["mean_rel_error"]]
    if not all(isinstance(r, list) and len(r) == len(rows[0]) > 0 for r in rows):
        raise LawError("its profile's values, params and mean_rel_error must be lists of one length")
    flat = [*rows[0], *rows[2], *(x for p in rows[1] for x in (p if isinstance(p, list) else [None]))]
    if any(not isinstance(p, list) or len(p) != len(law.param_names) for p in rows[1]) \
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) for x in flat):
        raise LawError(f"its profile's params must be rows of {len(law.param_names)} finite numbers")


def refits(fit: Any) -> list[tuple[float, float, Any]]:
    """``(value, pilots' mean relative error, FitResult)`` per row of ``fit.profile``; each refit has no
    band (its parameters are a what-if, not a fit with a bootstrap)."""
    p = fit.profile
    if not p:
        return []
    names = fit.law_obj.param_names
    return [(v, e, replace(fit, params=dict(zip(names, row)), param_samples=[], model_error={}, profile={}))
            for v, row, e in zip(p["values"], p["params"], p["mean_rel_error"])]
