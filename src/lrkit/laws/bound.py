"""The last-iterate bound of convex SGD used as a loss-curve law (Schaipp, Hägele, Taylor, Simsekli,
Bach 2025, "The Surprising Agreement Between Convex Optimization Theory and Learning-Rate Scheduling
for Large Model Training", ICML 2025, arXiv 2501.18965, Thm 3.1 = Defazio et al. 2023, arXiv
2310.07831, Thm 10).

For a schedule ``eta_0..eta_t`` (horizon ``T = t + 1``, gradient norms ``G = 1``) the bound is
``D^2 / (2 S(t)) + Omega(t)`` with ``S(t) = sum_{i<=t} eta_i`` and the schedule's noise part

``Omega(t) = sum_{i<=t} eta_i^2 / (2 S(t))
            + 1/2 sum_{k<t} eta_k / (sum_{i=k+1}^{t} eta_i) * (sum_{i=k}^{t} eta_i^2) / (sum_{i=k}^{t} eta_i)``,

indexed exactly as the reference code (fabian-sp/lr-scheduling,
``src/scheduled/schedules/base.py::ScheduleBase._compute_refined_rate``, terms 2 and 3).  As a law:
``L(t) = L0 + A S1(t)^-alpha + B Omega(t)`` (``alpha = 1``, ``A = D^2/2``, ``B = G^2`` is the bound
itself; a free ``alpha`` lets the deterministic part follow the power law of the other laws).  It
depends on the whole schedule, peak LR included, and its noise part is forgotten in *intrinsic time*
(LR area), so a drop to a small LR pays off slowly -- why it favours longer and 1-sqrt cooldowns.

Steps with LR exactly 0 are left out of the sums: SGD does not move there, so the bound is the one of
the last step with a positive LR (without that rule a final LR of 0 divides by zero).

The last weight (option ``last``; docs/methods.md, "The bound's free last weight"): in the theorem the
last LR ``eta_T`` only weights ``f(x_T)`` -- the iterate is made by ``eta_1..eta_{T-1}`` -- so the bound
holds for any ``eta_T > 0``.  The law takes the LR that made the iterate (the previous positive LR),
in ``Omega`` and in ``S1`` (``last="previous"``, the default since 3 Dec 2026, chosen by the rule written
there before it was measured); ``last="schedule"`` is the reference's choice, which makes the bound jump
up for a few steps after a sudden drop (``eta_{t-1} / eta_t`` in the last sum).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .areas import forward_area
from .base import Law, LawError, linear_start


def _positive(lr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positive LRs and, for every step, how many of them there are up to it (the bound's horizon)."""
    lr = np.asarray(lr, dtype=float)
    pos = lr > 0
    return lr[pos], np.cumsum(pos)


LAST_WEIGHTS = ("schedule", "previous")


def _sums(eta: np.ndarray, horizon: np.ndarray, t: int, last: str) -> tuple[int, float]:
    """The bound's sequence at step ``t``: how many positive LRs it takes from ``eta`` (the updates) and
    its last weight.  The reference's: those up to ``t``, the last of them the weight.  ``"previous"``:
    those up to ``t - 1`` (the updates that made the iterate) and the last of them again as the weight;
    at a step with no update before it, the reference's."""
    if last == "previous" and t > 0 and horizon[t - 1] > 0:
        P = int(horizon[t - 1])
        return P, float(eta[P - 1])
    T = int(horizon[t])
    if T == 0:
        raise LawError(f"step {int(t)}: no positive LR up to it; the bound needs some LR area")
    return T - 1, float(eta[T - 1])


def bound_noise(lr: np.ndarray, steps: np.ndarray, last: str = "schedule") -> np.ndarray:
    """``Omega(t)`` (module docstring) at each of ``steps``: exact, O(t) per step, memory O(N)."""
    eta, horizon = _positive(lr)
    c1 = np.concatenate([[0.0], np.cumsum(eta)])
    c2 = np.concatenate([[0.0], np.cumsum(eta * eta)])
    steps = np.asarray(steps, dtype=int)
    out = np.empty(steps.size)
    for j, t in enumerate(steps):
        P, w = _sums(eta, horizon, int(t), last)  # eta[:P], then the weight w
        s, sq_all = c1[P] + w, c2[P] + w * w
        k = np.arange(P)
        after = s - c1[k + 1]  # sum_{i=k+1}^{t} eta_i  (reference: alpha_k)
        from_k = after + eta[k]  # sum_{i=k}^{t} eta_i   (beta_k)
        sq = sq_all - c2[k]  # sum_{i=k}^{t} eta_i^2  (gamma_k)
        out[j] = sq_all / (2.0 * s) + 0.5 * float(np.sum(eta[k] / after * sq / from_k))
    return out


def last_weight_area(lr: np.ndarray, steps: np.ndarray, last: str) -> np.ndarray:
    """``S1(t)`` with the bound's last weight (``last``; the schedule's: :func:`forward_area`)."""
    if last == "schedule":
        return forward_area(lr, steps)
    eta, horizon = _positive(lr)
    c1 = np.concatenate([[0.0], np.cumsum(eta)])
    out = []
    for t in np.asarray(steps, dtype=int):
        P, w = _sums(eta, horizon, int(t), last)
        out.append(c1[P] + w)
    return np.array(out)


def bound_noise_grad(lr: np.ndarray) -> tuple[float, np.ndarray]:
    """``Omega`` at the last step and its gradient with respect to every step's LR, in O(N).

    Needs every LR positive (a zero LR is a kink of the bound).  With ``f_k = eta_k g_k / (a_k b_k)``
    (``a_k = sum_{i>k} eta_i``, ``b_k = a_k + eta_k``, ``g_k = sum_{i>=k} eta_i^2``):
    ``d f_k / d eta_k = f_k (1/eta_k + 2 eta_k/g_k - 1/b_k)`` and, for ``j > k``,
    ``d f_k / d eta_j = f_k (2 eta_j/g_k - 1/a_k - 1/b_k)``; prefix sums over ``k < j`` do the rest.
    """
    eta = np.asarray(lr, dtype=float)
    if eta.size < 2 or np.any(eta <= 0):
        raise LawError("the convex bound's gradient needs at least two steps, every LR positive")
    n = eta.size
    s, c2 = float(eta.sum()), float(np.sum(eta * eta))
    a = s - np.cumsum(eta)  # a_k = sum_{i>k}
    b = a + eta
    g = c2 - np.concatenate([[0.0], np.cumsum(eta * eta)])[:-1]
    k = np.arange(n - 1)
    f = eta[k] * g[k] / (a[k] * b[k])
    omega = c2 / (2.0 * s) + 0.5 * float(f.sum())
    p1 = np.concatenate([[0.0], np.cumsum(f / g[k])])  # p1[j] = sum_{k<j} f_k / g_k
    p2 = np.concatenate([[0.0], np.cumsum(f * (1.0 / a[k] + 1.0 / b[k]))])
    own = np.zeros(n)
    own[k] = f * (1.0 / eta[k] + 2.0 * eta[k] / g[k] - 1.0 / b[k])
    grad = eta / s - c2 / (2.0 * s * s) + 0.5 * (own + 2.0 * eta * p1[:n] - p2[:n])
    return omega, grad


@dataclass(frozen=True)
class BoundPrep:
    s1: np.ndarray
    omega: np.ndarray


class ConvexBoundLaw(Law):
    """Convex-bound law ``L0 + A S1^-alpha + B Omega``; parameters ``L0, A, alpha, B``; option ``last``
    (the theorem's free last weight: ``"previous"``, the default, or ``"schedule"``, the reference's)."""

    name = "bound"
    title = "convex last-iterate bound as a law (Schaipp et al. 2025)"
    param_names = ("L0", "A", "alpha", "B")

    def __init__(self, last: str = "previous") -> None:
        if last not in LAST_WEIGHTS:
            raise ValueError(f"bound last must be one of {LAST_WEIGHTS}, got {last!r}")
        self.last = last

    @property
    def options(self) -> dict[str, str]:
        """Always explicit in a fit file: a file without it was written with the reference's weight."""
        return {"last": self.last}

    def prepare(self, lr: np.ndarray, steps: np.ndarray) -> BoundPrep:
        return BoundPrep(last_weight_area(lr, steps, self.last), bound_noise(lr, steps, self.last))

    def evaluate(self, prep: BoundPrep, theta: np.ndarray, jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        L0, A, alpha, B = (float(v) for v in theta)
        pw = prep.s1 ** (-alpha)
        pred = L0 + A * pw + B * prep.omega
        if not jac:
            return pred, None
        return pred, np.stack([np.ones_like(pw), pw, -A * pw * np.log(prep.s1), prep.omega], axis=1)

    def final_loss_grad(self, lr: np.ndarray, theta: np.ndarray, warmup: int) -> tuple[float, np.ndarray]:
        """Loss at the last step and its gradient with respect to every step's LR (``warmup`` unused:
        the bound has no warmup rule)."""
        L0, A, alpha, B = (float(v) for v in theta)
        lr = np.asarray(lr, dtype=float)
        moved = self.last == "previous" and lr.size >= 2
        used = np.r_[lr[:-1], lr[-2]] if moved else lr  # the last weight: the LR before it (any last LR, 0 too)
        omega, d_omega = bound_noise_grad(used)
        pT = float(used.sum())
        grad = -alpha * A * pT ** (-alpha - 1.0) + B * d_omega
        if moved:  # the last weight is the step before's LR: its gradient goes there
            grad[-2] += grad[-1]
            grad[-1] = 0.0
        return L0 + A * pT ** (-alpha) + B * omega, grad

    def bounds(self, min_loss: float) -> tuple[np.ndarray, np.ndarray]:
        return np.array([0.0, 1e-8, 1e-3, 0.0]), np.array([min_loss * (1 - 1e-6), 1e4, 3.0, 1e9])

    def starts(self, preps: Sequence[BoundPrep], losses: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
        """Grid over ``alpha``; ``L0, A, B`` solved linearly for each."""
        loss = np.concatenate(list(losses))
        lo, hi = self.bounds(float(loss.min()))
        s1 = np.concatenate([p.s1 for p in preps])
        om = np.concatenate([p.omega for p in preps])
        cands = []
        for alpha in np.linspace(0.1, 1.5, 15):
            X = np.stack([np.ones_like(s1), s1 ** (-alpha), om], axis=1)
            coef, sse = linear_start(X, loss, lo[[0, 1, 3]], hi[[0, 1, 3]])
            cands.append((sse, np.array([coef[0], coef[1], alpha, coef[2]])))
        cands.sort(key=lambda c: c[0])
        return [np.clip(t, lo, hi) for _, t in cands[:n]]
