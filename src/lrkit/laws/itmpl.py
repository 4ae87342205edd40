"""The multi-power law with its loss drop forgotten in intrinsic time (``"mpl-it"``).

The multi-power law (Luo et al. 2025, arXiv 2503.12811, eq. (6)) realises each LR drop
``delta_k = eta_{k-1} - eta_k`` through ``G(eta_k^-gamma S_k(t))``, ``G(x) = 1 - (C x + 1)^-beta``:
with ``gamma > 0`` a drop made at a small LR (the end of a cooldown) is realised almost at once, which
over-values short cooldowns; and constant + cosine pilots do not determine ``gamma`` (see
docs/methods.md).  The Functional Scaling Law (Li et al. 2025, NeurIPS 2025, arXiv 2509.19189)
forgets SGD noise by a kernel of intrinsic time ``T(t) - T(k)``, ``T = sum eta``.  Taking that clock
in the multi-power law's drop term is ``gamma = 0``:

``L(t) = L0 + A S1(t)^-alpha - B sum_k delta_k [1 - (1 + C S_k(t))^-beta]``,
``S1(t) = sum_{tau<=t} eta_tau``, ``S_k(t) = sum_{tau=k}^{t} eta_tau``

(only the FSL's clock is used, not its weights).  Areas, warmup rule (changes counted from the first
decrease) and the compressed exact sum are the multi-power law's (:mod:`lrkit.laws.areas`).
"""

from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np

from .areas import loss_drop_jac
from .base import Law, linear_start
from .multipower import MPLPrep, MultiPowerLaw


class IntrinsicTimeMPL(Law):
    """Multi-power law with ``gamma = 0``; parameters ``L0, A, alpha, B, C, beta``; no options."""

    name = "mpl-it"
    title = "multi-power law, loss drop in intrinsic time (Luo et al. 2025; Li et al. 2025)"
    param_names = ("L0", "A", "alpha", "B", "C", "beta")

    def __init__(self) -> None:
        self._mpl = MultiPowerLaw()

    def prepare(self, lr: np.ndarray, steps: np.ndarray) -> MPLPrep:
        return self._mpl.prepare(lr, steps)

    def evaluate(self, prep: MPLPrep, theta: np.ndarray, jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        L0, A, alpha, B, C, beta = (float(v) for v in theta)
        pw = prep.s1 ** (-alpha)
        if not jac:
            return L0 + A * pw - B * prep.ld(C, beta, 0.0), None
        n = prep.s1.size
        ld, dld = np.zeros(n), np.zeros((n, 2))
        for sl, pairs in prep.chunks:
            v, d = loss_drop_jac(pairs, C, beta, 0.0)
            ld[sl], dld[sl] = v, d[:, :2]
        J = np.empty((n, 6))
        J[:, 0], J[:, 1], J[:, 2], J[:, 3] = 1.0, pw, -A * pw * np.log(prep.s1), -ld
        J[:, 4:] = -B * dld
        return L0 + A * pw - B * ld, J

    def final_loss_grad(self, lr: np.ndarray, theta: np.ndarray, warmup: int) -> tuple[float, np.ndarray]:
        """The multi-power law's exact O(N) gradient at ``gamma = 0``."""
        return self._mpl.final_loss_grad(lr, np.r_[np.asarray(theta, dtype=float), 0.0], warmup)

    def bounds(self, min_loss: float) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([0.0, 1e-8, 1e-3, 0.0, 1e-6, 1e-3]),
                np.array([min_loss * (1 - 1e-6), 1e4, 3.0, 1e7, 1e8, 5.0]))

    def starts(self, preps: Sequence[MPLPrep], losses: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
        """Variable projection: ``C`` on a grid relative to the largest fitted area (the clock's unit is
        LR area), ``beta`` and ``alpha`` on grids, ``L0, A, B`` solved linearly for each."""
        return clock_grid_starts(preps, losses, n, self.bounds)


def clock_grid_starts(preps: Sequence[MPLPrep], losses: Sequence[np.ndarray], n: int, bounds,
                      variants: Callable[[float, float, float, np.ndarray], list] | None = None) -> list[np.ndarray]:
    """The ``n`` best starts of the intrinsic-clock laws' grid: ``C`` relative to the largest fitted area,
    ``beta``, ``alpha``; the loss drop at ``gamma = 0`` is computed once per ``(C, beta)``, and
    ``variants(C, beta, alpha, drop)`` gives each ``(drop per point, parameters after beta)`` to try
    (default: the drop itself, no more parameters); ``L0, A, B`` are solved linearly for each."""
    loss = np.concatenate(list(losses))
    lo, hi = bounds(float(loss.min()))
    s1 = np.concatenate([p.s1 for p in preps])
    area = float(s1.max())
    cands = []
    for c_rel, beta in itertools.product((1.0, 10.0, 100.0, 1000.0), (0.3, 0.6, 1.0)):
        C = c_rel / area
        plain = np.concatenate([p.ld(C, beta, 0.0) for p in preps])
        for alpha in (0.2, 0.35, 0.5, 0.7, 1.0):
            for ld, extra in (variants(C, beta, alpha, plain) if variants else [(plain, ())]):
                X = np.stack([np.ones_like(s1), s1 ** (-alpha), -ld], axis=1)
                coef, sse = linear_start(X, loss, lo[[0, 1, 3]], hi[[0, 1, 3]])
                cands.append((sse, np.array([coef[0], coef[1], alpha, coef[2], C, beta, *extra])))
    cands.sort(key=lambda c: c[0])
    return [np.clip(t, lo, hi) for _, t in cands[:n]]
