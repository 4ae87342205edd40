"""Plan the schedule with the lowest predicted final loss for a budget, from a fitted law.

Two searches (Luo et al. 2025 optimise a free schedule under the multi-power law the same way):

* within a family -- ``wsd`` (decay fraction for each decay form and floor), ``cosine`` (floor),
  ``linear`` (end value), ``rex`` (its ``beta``, Chen et al. 2022), ``uba`` (its ``phi``, Tang et al.
  2025) -- with ``scipy.optimize.minimize_scalar``;
* ``free`` -- a non-increasing piecewise-linear curve after warmup with ``knots`` knots, written as
  products of per-segment factors in [0, 1] (so monotonicity is a box constraint) and optimised with
  L-BFGS-B on the exact gradient of the predicted final loss.

Every candidate is built and scored through the lrkit schedule language, so the returned spec
string is exactly the schedule that was scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..schedules.budget import DECAY_FORMS
from ..schedules.validate import clip
from ..spec import parse
from .base import LawError, schedule_lr
from .result import FitResult
from .predict import final_loss

#: one-parameter families: spec template (``{x}`` the searched value, ``{w}`` the warmup), search
#: bounds, and values always scored too (the family's usual settings)
SCALAR_FAMILIES = {
    "cosine": ("cosine(floor={x}, {w})", (0.0, 0.9), (0.0,)),
    "linear": ("linear(end={x}, {w})", (0.0, 0.9), (0.0,)),
    "rex": ("rex(beta={x}, {w})", (0.0, 0.99), (0.5, 0.9)),
    "uba": ("uba(phi={x}, {w})", (0.05, 4.0), (1.0, 2.0)),
}
FAMILIES = ("wsd", *SCALAR_FAMILIES, "free")
#: planning evaluates the law at every step, hundreds of times: ~25 s at 10^6 steps on 2 cores
MAX_STEPS = 10_000_000


@dataclass(frozen=True)
class Candidate:
    """A schedule spec, its absolute LR per step and its predicted final loss."""

    spec: str
    final_loss: float
    lr: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Plan:
    """The recommended schedule and the standard schedules it was compared with."""

    best: Candidate
    standard: list[Candidate]
    family: str
    steps: int
    peak_lr: float
    warmup: int


def _score(fit: FitResult, spec: str, steps: int, peak_lr: float) -> Candidate:
    spec = str(parse(spec))  # canonical: defaults dropped, as users write it
    lr = schedule_lr(spec, steps, peak_lr)
    return Candidate(spec, final_loss(fit, lr), lr)


def _drop_collinear(pos: np.ndarray, val: np.ndarray, tol: float = 5e-5) -> list[tuple[float, float]]:
    """The points of a piecewise-linear curve without those that lie on the line through their
    neighbours (within ``tol``): the same curve, a spec a person can read."""
    keep = [0]
    for i in range(1, len(pos) - 1):
        a, b = keep[-1], i + 1
        on_line = val[a] + (val[b] - val[a]) * (pos[i] - pos[a]) / (pos[b] - pos[a])
        if abs(val[i] - on_line) > tol:
            keep.append(i)
    keep.append(len(pos) - 1)
    return [(float(pos[i]), float(val[i])) for i in keep]


def standard_specs(warmup: int) -> list[str]:
    """The standard schedules every plan is compared with."""
    w = f"warmup={warmup}"
    return [
        f"constant({w})",
        f"cosine(floor=0.1, {w})",
        f"cosine(floor=0.0, {w})",
        f"linear(end=0.0, {w})",
        f'wsd(decay=0.2, form="linear", floor=0.0, {w})',
        f'wsd(decay=0.2, form="1-sqrt", floor=0.0, {w})',
    ]


def _family_search(fit: FitResult, family: str, steps: int, peak_lr: float, warmup: int) -> Candidate:
    from scipy.optimize import minimize_scalar  # lazy

    w = f"warmup={warmup}"
    if family == "wsd":
        max_decay = max(0.02, min(0.9, 1.0 - warmup / steps - 1e-3))
        best: Candidate | None = None
        for form in DECAY_FORMS:
            for floor in ((0.01, 0.1) if form == "exp" else (0.0, 0.01, 0.1)):
                def spec_of(d: float, form: str = form, floor: float = floor) -> str:
                    return f'wsd(decay={round(float(d), 3)}, form="{form}", floor={floor}, {w})'

                res = minimize_scalar(lambda d: _score(fit, spec_of(d), steps, peak_lr).final_loss,
                                      bounds=(0.02, max_decay), method="bounded", options={"xatol": 2e-3})
                cand = _score(fit, spec_of(res.x), steps, peak_lr)
                if best is None or cand.final_loss < best.final_loss:
                    best = cand
        assert best is not None
        return best
    if family in SCALAR_FAMILIES:
        template, bounds, usual = SCALAR_FAMILIES[family]

        def spec_of(v: float) -> str:
            return template.format(x=round(float(v), 3), w=w)

        res = minimize_scalar(lambda v: _score(fit, spec_of(v), steps, peak_lr).final_loss,
                              bounds=bounds, method="bounded", options={"xatol": 1e-3})
        cands = [_score(fit, spec_of(v), steps, peak_lr) for v in (res.x, *usual)]
        return min(cands, key=lambda c: c.final_loss)
    raise LawError(f"unknown family {family!r}; valid: {', '.join(FAMILIES)}")


def _free_search(fit: FitResult, steps: int, peak_lr: float, warmup: int, knots: int, seeds: Sequence[np.ndarray]) -> Candidate:
    from scipy.optimize import minimize  # lazy

    law, theta = fit.law_obj, fit.theta
    ramp = schedule_lr(f"constant(warmup={warmup})", steps, 1.0)
    pos = np.round(np.linspace(warmup / steps, 1.0, knots), 4)
    t = np.arange(steps)
    # linear interpolation between knots, kept sparse (two weights per step): O(steps) memory
    x = pos * steps
    idx = np.clip(np.searchsorted(x, t, side="right") - 1, 0, knots - 2)
    frac = np.clip((t - x[idx]) / (x[idx + 1] - x[idx]), 0.0, 1.0)
    lo = 1e-3

    def values(s: np.ndarray) -> np.ndarray:
        return np.cumprod(s)

    def objective(s: np.ndarray) -> tuple[float, np.ndarray]:
        v = values(s)
        lr = peak_lr * ramp * (v[idx] * (1.0 - frac) + v[idx + 1] * frac)
        loss, g_lr = law.final_loss_grad(lr, theta, warmup)
        g = g_lr * peak_lr * ramp
        g_v = np.bincount(idx, g * (1.0 - frac), minlength=knots) + np.bincount(idx + 1, g * frac, minlength=knots)
        # v_j = prod_{i<=j} s_i  ->  dL/ds_i = sum_{j>=i} g_v_j v_j / s_i
        g_s = np.cumsum((g_v * v)[::-1])[::-1] / s
        return float(loss), g_s

    best_s, best_f = None, np.inf
    for seed in seeds:
        v0 = np.clip(np.interp(x, t, seed / peak_lr), lo, 1.0)
        v0 = np.minimum.accumulate(v0)
        s0 = np.clip(np.r_[v0[0], v0[1:] / v0[:-1]], lo, 1.0)
        res = minimize(objective, s0, jac=True, method="L-BFGS-B", bounds=[(lo, 1.0)] * knots,
                       options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-10})
        if res.fun < best_f:
            best_s, best_f = res.x, res.fun
    v = np.round(np.minimum.accumulate(values(best_s)), 4)
    pts = ", ".join(f"({p!r}, {val!r})" for p, val in _drop_collinear(np.asarray(pos, float), v))
    return _score(fit, f"piecewise(points=[{pts}], warmup={warmup})", steps, peak_lr)


def check_predictable(fit: FitResult, candidates: Sequence[Candidate], steps: int, peak_lr: float) -> None:
    """Refuse a predicted final loss that is not a finite number or lies below the fit's irreducible
    loss ``L0``: the law is then used outside what the fitted runs can tell (e.g. a peak LR far above
    theirs), and its number is no prediction."""
    floor = fit.params.get("L0")
    for c in candidates:
        v = c.final_loss
        if math.isfinite(v) and (floor is None or v >= floor):
            continue
        what = "not a finite number" if not math.isfinite(v) else f"{v:.4g}, below the fitted irreducible loss L0={floor:.4g}"
        raise LawError(f"peak LR {peak_lr:g}, {steps:,} steps: the predicted final loss of {clip(c.spec, 80)} is {what}; "
                       f"the schedule is outside what the fit can predict (fitted on runs of peak LR {fit.peak_lr:g}, "
                       f"{max(fit.totals, default=0):,} steps)")


def plan(
    fit: FitResult,
    steps: int,
    peak_lr: float,
    family: str = "free",
    warmup: int | None = None,
    knots: int = 32,
) -> Plan:
    """The schedule with the lowest predicted final loss after ``steps`` steps at peak LR ``peak_lr``.

    ``family``: ``wsd``, ``cosine``, ``linear``, ``rex``, ``uba`` or ``free`` (non-increasing
    piecewise-linear after warmup).  ``warmup``: steps of linear warmup (default: the warmup of the fitted runs, if it fits).
    The result's ``standard`` list holds the predicted final losses of standard schedules.  A budget
    or peak LR for which a predicted final loss is not finite or lies below the fitted ``L0`` is
    refused (:func:`check_predictable`).
    """
    if family not in FAMILIES:
        raise LawError(f"unknown family {family!r}; valid: {', '.join(FAMILIES)}")
    if not isinstance(steps, (int, np.integer)) or steps < 10:
        raise LawError(f"steps must be an integer >= 10, got {steps!r}")
    if steps > MAX_STEPS:
        raise LawError(f"steps={steps:,} is more than plan handles ({MAX_STEPS:,}): it evaluates the law at every step "
                       "hundreds of times")
    if not (peak_lr > 0 and np.isfinite(peak_lr)):
        raise LawError(f"peak LR must be positive, got {peak_lr!r}")
    if knots < 3:
        raise LawError(f"knots must be >= 3, got {knots}")
    steps = int(steps)
    if warmup is None:
        warmup = fit.warmup if fit.warmup < steps // 2 else 0
    if not 0 <= warmup < steps - 2:
        raise LawError(f"warmup must be in 0..{steps - 3} steps, got {warmup}")
    with np.errstate(all="ignore"):  # an overflow ends as a refused non-finite loss, not a warning
        standard = sorted((_score(fit, s, steps, peak_lr) for s in standard_specs(warmup)), key=lambda c: c.final_loss)
        check_predictable(fit, standard, steps, peak_lr)
        if family == "free":
            wsd = _family_search(fit, "wsd", steps, peak_lr, warmup)
            seeds = [wsd.lr, standard[0].lr, schedule_lr(f"linear(end=0.0, warmup={warmup})", steps, peak_lr)]
            best = _free_search(fit, steps, peak_lr, warmup, knots, seeds)
            best = min([best, wsd], key=lambda c: c.final_loss)
        else:
            best = _family_search(fit, family, steps, peak_lr, warmup)
        check_predictable(fit, [best], steps, peak_lr)
    return Plan(best, standard, family, steps, float(peak_lr), int(warmup))
