"""The robust multi-start least squares every fit of a law runs (the full fit, its forward hold-out,
the cross-validation folds of :func:`lrkit.laws.selection.select_config`).

Objective (as in both papers' reference fits, Luo et al. 2025; Tissue et al. 2024): Huber loss on log
residuals ``log pred - log loss`` summed over all logged points of all runs, plus optional rows
pulling parameters (in log scale) toward the law's prior or its simplified-law initialisation.
Minimised with ``scipy.optimize.least_squares`` (trust-region reflective, analytic Jacobian, bounds)
from several starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from .base import Curve, Law, LawError

Model = Callable[[np.ndarray, bool], "tuple[np.ndarray, np.ndarray | None]"]


@dataclass(frozen=True)
class Problem:
    """What a fit needs that does not depend on the parameters: the law's preparation of every
    curve, the losses, and the parameter bounds (``L0`` below the smallest loss)."""

    law: Law
    preps: list
    losses: list[np.ndarray]
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def of(cls, law: Law, curves: Sequence[Curve]) -> "Problem":
        preps = [law.prepare(c.lr, c.steps) for c in curves]
        losses = [c.loss for c in curves]
        lo, hi = law.bounds(float(min(x.min() for x in losses)))
        return cls(law, preps, losses, lo, hi)

    @property
    def points(self) -> int:
        return int(sum(x.size for x in self.losses))

    def model(self) -> Model:
        """``model(theta, jac) -> (pred, J)`` over the logged points of every curve, concatenated."""
        law, preps = self.law, self.preps

        def model(theta: np.ndarray, jac: bool) -> tuple[np.ndarray, np.ndarray | None]:
            outs = [law.evaluate(p, theta, jac) for p in preps]
            pred = np.concatenate([o[0] for o in outs])
            J = np.concatenate([o[1] for o in outs]) if jac else None
            return pred, J

        return model


class Solution(NamedTuple):
    """The optimum, its cost, the residual and Jacobian functions, and the indices of the parameters
    that have a prior or shrinkage row (those rows follow the data rows in the residuals)."""

    theta: np.ndarray
    cost: float
    resid: Callable[[np.ndarray], np.ndarray]
    jacobian: Callable[[np.ndarray], np.ndarray]
    prior_rows: np.ndarray


def fixed_index(law: Law, fixed: dict[str, Any], lo: np.ndarray, hi: np.ndarray) -> dict[int, float]:
    """``{parameter index: value}`` for ``fit(..., fixed=...)``, checked against the law's bounds."""
    names = law.param_names
    out = {}
    for n, v in fixed.items():
        if n not in names:
            raise LawError(f"cannot fix {n!r}: law {law.name!r} has parameters {', '.join(names)}")
        i = names.index(n)
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise LawError(f"fixed {n} must be a number, got {v!r}") from None
        if not (lo[i] <= v <= hi[i]):
            raise LawError(f"fixed {n}={v:g} is outside its range [{lo[i]:g}, {hi[i]:g}]")
        out[i] = v
    if len(out) == len(names):
        raise LawError("every parameter is fixed: nothing to fit")
    return out


def block_resample(res: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    """A moving-block bootstrap resample of one run's residuals (blocks of ``block`` points)."""
    n = res.size
    b = max(1, min(block, n))
    starts = rng.integers(0, n - b + 1, size=-(-n // b))
    idx = (starts[:, None] + np.arange(b)[None, :]).ravel()[:n]
    return res[idx]


def _penalty(problem: Problem, pw: float, shrink: float, fixed: dict[int, float]):
    """Weights and log-scale centres of the prior/shrinkage rows, and the shrinkage start (or None)."""
    law, lo, hi = problem.law, problem.lo, problem.hi
    names = law.param_names
    weight = np.zeros(len(names))
    center = np.zeros(len(names))
    if pw > 0:
        for n, c in law.prior_centres(problem.preps).items():
            weight[names.index(n)] = pw
            center[names.index(n)] = np.log(c)
    x_simple = None
    if shrink > 0:
        x_simple = np.clip(law.simplified_fit(problem.preps, problem.losses),  # type: ignore[attr-defined]
                           np.maximum(lo, 1e-12), hi)
        weight = weight + shrink
        center = np.log(x_simple)
    if fixed:
        weight[list(fixed)] = 0.0  # no prior or shrinkage on a held parameter
    return weight, center, x_simple


def solve(problem: Problem, prior_weight: float | None, shrink: float, n_starts: int, huber_delta: float = 1e-3,
          starts: Sequence[np.ndarray] | None = None, fixed: dict[int, float] | None = None) -> Solution:
    """Robust (Huber) least squares on log residuals plus the prior/shrinkage rows, multi-start.

    ``prior_weight``: weight of the law's prior rows (``None``: ``Law.prior_weight``).  ``fixed``
    (index -> value) parameters are held; the returned Jacobian has zero columns for them.
    """
    from scipy.optimize import least_squares  # lazy

    law, lo, hi = problem.law, problem.lo, problem.hi
    pw = law.prior_weight if prior_weight is None else float(prior_weight)
    fixed = fixed or {}
    log_loss = np.log(np.concatenate(problem.losses))
    weight, center, x_simple = _penalty(problem, pw, shrink, fixed)
    pidx = np.nonzero(weight > 0)[0]
    wv, cv = weight[pidx], center[pidx]
    n = len(law.param_names)
    free = np.array([i for i in range(n) if i not in fixed], dtype=int)
    model = problem.model()

    def full(x: np.ndarray) -> np.ndarray:
        theta = np.empty(n)
        theta[free] = x
        for i, v in fixed.items():
            theta[i] = v
        return theta

    def resid(theta: np.ndarray) -> np.ndarray:
        pred, _ = model(theta, False)
        r = np.log(np.maximum(pred, 1e-8)) - log_loss
        return np.concatenate([r, wv * (np.log(np.maximum(theta[pidx], 1e-12)) - cv)])

    def jacobian(theta: np.ndarray) -> np.ndarray:
        pred, J = model(theta, True)
        Jp = np.zeros((pidx.size, theta.size))
        Jp[np.arange(pidx.size), pidx] = wv / np.maximum(theta[pidx], 1e-12)
        # where the prediction is clipped at 1e-8 (a non-positive loss) the residual is flat in theta
        out = np.concatenate([np.where((pred > 1e-8)[:, None], J / np.maximum(pred, 1e-8)[:, None], 0.0), Jp])
        out[:, list(fixed)] = 0.0
        return out

    starts = list(law.starts(problem.preps, problem.losses, n_starts) if starts is None else starts)
    if x_simple is not None:
        starts = [x_simple] + starts[: max(n_starts - 1, 1)]
    best = None
    flo, fhi = lo[free], hi[free]
    for x0 in starts:
        x0 = np.clip(np.asarray(x0, dtype=float)[free], flo, fhi)
        x0 = np.where(x0 <= flo, flo + 1e-9 * (fhi - flo), x0)
        x0 = np.where(x0 >= fhi, fhi - 1e-9 * (fhi - flo), x0)
        res = least_squares(
            lambda x: resid(full(x)), x0, jac=lambda x: jacobian(full(x))[:, free], bounds=(flo, fhi),
            loss="huber", f_scale=huber_delta, x_scale="jac", method="trf", max_nfev=300,
            ftol=1e-12, xtol=1e-12, gtol=1e-10,
        )
        if best is None or res.cost < best.cost:
            best = res
    assert best is not None
    return Solution(full(best.x), float(best.cost), resid, jacobian, pidx)
