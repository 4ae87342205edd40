"""The Functional Scaling Law's loss-curve ansatz (``"fsl"``; Li, Chen, Huang, Wang, Wu 2025,
"Functional Scaling Laws in Kernel Regression: Loss Dynamics and Learning Rate Schedules", NeurIPS 2025,
arXiv 2509.19189).

The FSL describes SGD in intrinsic time ``T(t) = sum_{tau<=t} eta_tau``: a signal term ``T^-s`` and
noise that each LR drop lets the model forget over a power-law kernel of intrinsic time.  The noise a
step injects scales with the risk at that step (irreducible part plus signal term), so a drop made
earlier, at a higher loss, is worth more.  Its LLM ansatz, in lrkit's notation (``S1 = T``,
``S_k(t) = T(t) - T(k-1)``, ``alpha = s``):

``L(t) = L0 + A S1(t)^-alpha - B sum_k delta_k [(1 - omega) + omega S1(k)^-alpha] [1 - (1 + C S_k(t))^-beta]``

with ``omega`` in [0, 1]: the ansatz ``L0 + c1 T^-s - c2 sum_k dEta_k (c3 + T_k^-s) [1 - (1 + c4 (T - T_k))^-gamma]``
with ``c3 = (1 - omega) / omega`` and ``c2 = B omega``, bounded (``omega = 0`` is ``c3 = inf``, exactly the
``mpl-it`` law).  As published: no prior, no options.  LR changes ``delta_k = eta_{k-1} - eta_k`` count
from the first decrease on, as for the other laws (:mod:`lrkit.laws.areas`); the sum uses the
multi-power law's compressed pairs, with the change-weighted mean of ``log S1(k)`` per block.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .areas import LDPairs, final_changes
from .base import Law
from .itmpl import clock_grid_starts
from .multipower import MPLPrep, MultiPowerLaw

#: the weights ``omega`` of the start grid
_OMEGAS = (0.0, 0.5, 1.0)


def weighted_drop(pairs: LDPairs, C: float, beta: float, alpha: float, omega: float,
                  jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """``sum_k delta_k w_k G_k`` per evaluation step, ``w_k = (1 - omega) + omega S1(k)^-alpha``,
    ``G_k = 1 - (1 + C S_k(t))^-beta``; with ``jac``, its derivatives in ``(C, beta, alpha, omega)``, shape (M, 4)."""
    s = pairs.s
    e = np.exp(-alpha * pairs.log_s1k)  # S1(k)^-alpha
    w = (1.0 - omega) + omega * e
    lz = np.log1p(C * s)
    q = np.exp(-beta * lz)  # (1 + C S_k)^-beta
    dw = pairs.delta * w
    ld = pairs.segment_sum(dw * (1.0 - q))
    if not jac:
        return ld, None
    d_c = pairs.segment_sum(dw * beta * s * q / (1.0 + C * s))
    d_beta = pairs.segment_sum(dw * q * lz)
    g = pairs.delta * (1.0 - q)
    d_alpha = pairs.segment_sum(g * omega * e * -pairs.log_s1k)
    d_omega = pairs.segment_sum(g * (e - 1.0))
    return ld, np.stack([d_c, d_beta, d_alpha, d_omega], axis=1)


class FunctionalScalingLaw(Law):
    """The FSL ansatz; parameters ``L0, A, alpha, B, C, beta, omega``; no options."""

    name = "fsl"
    title = "Functional Scaling Law ansatz (Li et al. 2025)"
    param_names = ("L0", "A", "alpha", "B", "C", "beta", "omega")

    def __init__(self) -> None:
        self._mpl = MultiPowerLaw()

    def prepare(self, lr: np.ndarray, steps: np.ndarray) -> MPLPrep:
        return self._mpl.prepare(lr, steps)

    def predict_block(self, n: int) -> int:
        return self._mpl.predict_block(n)

    def drop(self, prep: MPLPrep, C: float, beta: float, alpha: float, omega: float) -> np.ndarray:
        """The loss drop divided by ``B`` at every prepared step."""
        out = np.zeros(prep.s1.size)
        for sl, pairs in prep.chunks:
            out[sl] = weighted_drop(pairs, C, beta, alpha, omega)[0]
        return out

    def evaluate(self, prep: MPLPrep, theta: np.ndarray, jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        L0, A, alpha, B, C, beta, omega = (float(v) for v in theta)
        pw = prep.s1 ** (-alpha)
        if not jac:
            return L0 + A * pw - B * self.drop(prep, C, beta, alpha, omega), None
        n = prep.s1.size
        ld, dld = np.zeros(n), np.zeros((n, 4))
        for sl, pairs in prep.chunks:
            ld[sl], dld[sl] = weighted_drop(pairs, C, beta, alpha, omega, jac=True)
        J = np.empty((n, 7))
        J[:, 0], J[:, 1], J[:, 3] = 1.0, pw, -ld
        J[:, 2] = -A * pw * np.log(prep.s1) - B * dld[:, 2]
        J[:, 4], J[:, 5], J[:, 6] = -B * dld[:, 0], -B * dld[:, 1], -B * dld[:, 3]
        return L0 + A * pw - B * ld, J

    def final_loss_grad(self, lr: np.ndarray, theta: np.ndarray, warmup: int) -> tuple[float, np.ndarray]:
        """Loss at the last step and its gradient with respect to every step's LR, in O(N) (changes
        counted from step ``warmup`` on; the planner fixes the warmup)."""
        L0, A, alpha, B, C, beta, omega = (float(v) for v in theta)
        lr, floor, cum, k, delta = final_changes(lr, warmup)
        n = lr.size
        pT = cum[n]
        s = np.maximum(pT - cum[k], floor)  # S_k(T) = sum_{tau=k}^{n-1} lr
        s1 = np.maximum(cum[k + 1], floor)  # S1(k)
        e = s1 ** (-alpha)
        wk = (1.0 - omega) + omega * e
        z = 1.0 + C * s
        g = 1.0 - z ** (-beta)
        gp = beta * C * z ** (-beta - 1.0)
        F = float(np.sum(delta * wk * g))
        grad_f = np.zeros(n)
        grad_f[k] -= wk * g  # via delta_k
        grad_f[k - 1] += wk * g
        # via S_k(T): lr[j] is in it for j >= k  ->  prefix sums over k <= j
        hs = np.zeros(n)
        hs[k] = delta * wk * gp
        grad_f += np.cumsum(hs)
        # via S1(k): lr[j] is in it for j <= k  ->  suffix sums over k >= j
        h1 = np.zeros(n)
        h1[k] = delta * g * omega * -alpha * e / s1
        grad_f += np.cumsum(h1[::-1])[::-1]
        loss = L0 + A * pT ** (-alpha) - B * F
        grad = -alpha * A * pT ** (-alpha - 1.0) - B * grad_f
        return loss, grad

    def bounds(self, min_loss: float) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([0.0, 1e-8, 1e-3, 0.0, 1e-6, 1e-3, 0.0]),
                np.array([min_loss * (1 - 1e-6), 1e4, 3.0, 1e7, 1e8, 5.0, 1.0]))

    def starts(self, preps: Sequence[MPLPrep], losses: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
        """``mpl-it``'s grid of starts (:func:`~lrkit.laws.itmpl.clock_grid_starts`) with ``omega`` on a grid too."""
        def weighted(C: float, beta: float, alpha: float, plain: np.ndarray) -> list:
            # plain: the drop at omega = 0 (mpl-it's); the drop is linear in omega
            full = np.concatenate([self.drop(p, C, beta, alpha, 1.0) for p in preps])
            return [((1.0 - om) * plain + om * full, (om,)) for om in _OMEGAS]

        return clock_grid_starts(preps, losses, n, self.bounds, weighted)
