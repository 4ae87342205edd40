"""Which fitted parameters the runs do not determine (issue 12: "a parameter that the pilots do not
determine is reported as such, and its interval says so").

A parameter is *undetermined* when any of these holds (fixed parameters are never flagged):

* it sits at a bound of the fit: within 1e-6 (relative) of a non-zero bound, or within 1e-9 of the
  parameter's range from a bound at 0 (the solver stopped at the wall, not at an optimum);
* its estimate is the prior's: within 2% (in log) of the centre of the law's prior
  (:attr:`lrkit.laws.base.Law.prior`, as scaled by ``Law.prior_centres``) while the prior or the shrinkage is on -- the data did not move it;
* its ``level`` bootstrap interval is wider than its value.

Such a parameter is set by the prior, a bound or chance, and so is every prediction that depends on
it: for the multi-power law fitted to constant + cosine pilots, ``C, beta, gamma`` decide how a
cooldown's drop is realised and hence the best decay fraction (docs/methods.md).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import Law


def at_bound(theta: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Which parameters sit on a bound of their range: within 1e-6 (relative) of a non-zero bound,
    within ``1e-9 * min(range, 1)`` of a bound at 0."""
    theta, lo, hi = (np.asarray(x, dtype=float) for x in (theta, lo, hi))
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    out = np.zeros(theta.shape, dtype=bool)
    for bound in (lo, hi):
        tol = np.where(bound != 0, 1e-6 * np.abs(bound), 1e-9 * np.minimum(span, 1.0))
        out |= np.abs(theta - bound) <= tol
    return out


def undetermined(law: Law, theta: np.ndarray, samples: np.ndarray, lo: np.ndarray, hi: np.ndarray, *,
                 prior_on: bool, fixed: Sequence[str] = (), level: float = 0.9,
                 centres: dict[str, float] | None = None) -> dict[str, str]:
    """``{parameter: reason}`` for the parameters of ``law`` the fit did not determine (module doc)."""
    out: dict[str, str] = {}
    samples = np.asarray(samples, dtype=float)
    q = (1 - level) / 2
    on_bound = at_bound(theta, lo, hi)
    for i, name in enumerate(law.param_names):
        if name in fixed:
            continue
        v = float(theta[i])
        reasons = []
        if on_bound[i]:
            side, bound = ("lower", lo[i]) if abs(v - lo[i]) <= abs(v - hi[i]) else ("upper", hi[i])
            reasons.append(f"at its {side} bound {bound:g}")
        centre = (law.prior if centres is None else centres).get(name) if prior_on else None
        if centre is not None and v > 0 and abs(np.log(v / centre)) < 0.02:
            reasons.append(f"at the prior's centre {centre:g}")
        if samples.ndim == 2 and samples.shape[0] > 1:
            a, b = np.quantile(samples[:, i], [q, 1 - q])
            if b - a > abs(v):
                reasons.append(f"{int(round(100 * level))}% bootstrap interval {a:.3g}..{b:.3g} wider than the value")
        if reasons:
            out[name] = f"{name}={v:.4g}: " + "; ".join(reasons)
    return out


def note(flags: dict[str, str]) -> str:
    """The one human line for :attr:`lrkit.laws.FitResult.notes` and the warning."""
    return ("not determined by these runs (their intervals are not measurements; predictions that depend on "
            "them, e.g. the best cooldown, rest on the prior or a bound): " + "; ".join(flags.values()))
