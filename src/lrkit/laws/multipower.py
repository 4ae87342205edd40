"""The multi-power law (Luo, Wen, Hu, ..., Lyu, Chen 2025, "A Multi-Power Law for Loss Curve
Prediction Across Learning Rate Schedules", ICLR 2025, arXiv 2503.12811).

``L(t) = L0 + A * S1(t)^-alpha - LD(t)`` with
``LD(t) = B * sum_{k<=t} (lr[k-1] - lr[k]) * G(lr[k]^-gamma * S_k(t))``,
``G(x) = 1 - (C x + 1)^-beta`` and ``S_k(t) = sum_{tau=k}^{t} lr[tau]``.
``S1`` includes the warmup area, as in the reference code; LR changes count from the first
decrease on (see :mod:`lrkit.laws.areas`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .areas import (MAX_PAIRS, LDPairs, change_steps, final_changes, forward_area, ld_chunks, loss_drop,
                    loss_drop_jac, pairs_per_step)
from .base import Law, linear_start


@dataclass(frozen=True)
class MPLPrep:
    s1: np.ndarray
    chunks: list[tuple[slice, LDPairs]]
    #: the loss drop's saturated limit (``G = 1``): the sum of the counted LR changes up to each step
    sat: np.ndarray
    #: the schedule's peak LR (the unit of ``multipower-it``'s prior on ``C``)
    peak: float = 0.0

    def ld(self, C: float, beta: float, gamma: float) -> np.ndarray:
        out = np.zeros(self.s1.size)
        for sl, pairs in self.chunks:
            out[sl] = loss_drop(pairs, C, beta, gamma)
        return out


class MultiPowerLaw(Law):
    """Multi-power law; parameters ``L0, A, alpha, B, C, beta, gamma``."""

    name = "multipower"
    title = "multi-power law (Luo et al. 2025)"
    param_names = ("L0", "A", "alpha", "B", "C", "beta", "gamma")
    #: The shape parameters (C, beta, gamma) lie in a flat valley of the fit objective when only a
    #: few runs are fitted; a prior centred on the reference code's initial values picks a point in
    #: it: through the Huber loss a constant pull (1e-4) that holds them at the centres unless the
    #: pilots pull harder (docs/methods.md; ``fit(..., prior_weight=0)`` turns it off).
    prior = {"C": 1.0, "beta": 0.5, "gamma": 0.5}
    prior_weight = 0.1
    WARMUP_MODES = ("skip", "ld")

    def __init__(self, warmup: str = "skip") -> None:
        """``warmup="skip"``: LR changes count from the first decrease on (the warmup enters through
        ``S1`` only); ``"ld"``: the warmup increases are summed into ``LD`` too (the reference code)."""
        if warmup not in self.WARMUP_MODES:
            raise ValueError(f"multipower warmup must be one of {self.WARMUP_MODES}, got {warmup!r}")
        self.warmup = warmup

    @property
    def options(self) -> dict[str, str]:
        return {} if self.warmup == "skip" else {"warmup": self.warmup}

    def prepare(self, lr: np.ndarray, steps: np.ndarray) -> MPLPrep:
        lr = np.asarray(lr, dtype=float)
        steps = np.asarray(steps, dtype=int)
        fs = self.warmup == "ld"
        k, delta = change_steps(lr, fs)
        csum = np.concatenate([[0.0], np.cumsum(delta)])
        sat = csum[np.searchsorted(k, steps, side="right")]
        return MPLPrep(forward_area(lr, steps), ld_chunks(lr, steps, from_start=fs), sat, float(lr.max()))

    def predict_block(self, n: int) -> int:
        """As many evaluation steps as keep their loss-drop pairs below :data:`~lrkit.laws.areas.MAX_PAIRS`."""
        return max(256, MAX_PAIRS // pairs_per_step(n))

    def evaluate(self, prep: MPLPrep, theta: np.ndarray, jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        L0, A, alpha, B, C, beta, gamma = (float(v) for v in theta)
        pw = prep.s1 ** (-alpha)
        if not jac:
            return L0 + A * pw - B * prep.ld(C, beta, gamma), None
        n = prep.s1.size
        ld = np.zeros(n)
        dld = np.zeros((n, 3))
        for sl, pairs in prep.chunks:
            ld[sl], dld[sl] = loss_drop_jac(pairs, C, beta, gamma)
        J = np.empty((n, 7))
        J[:, 0] = 1.0
        J[:, 1] = pw
        J[:, 2] = -A * pw * np.log(prep.s1)
        J[:, 3] = -ld
        J[:, 4:] = -B * dld
        return L0 + A * pw - B * ld, J

    def final_loss_grad(self, lr: np.ndarray, theta: np.ndarray, warmup: int) -> tuple[float, np.ndarray]:
        """Loss at the last step and its gradient with respect to every step's LR, in O(N).

        LR changes are counted from step ``warmup`` on (the planner fixes the warmup).
        """
        L0, A, alpha, B, C, beta, gamma = (float(v) for v in theta)
        w = 1 if self.warmup == "ld" else max(int(warmup), 1)
        lr, floor, cum, k, delta = final_changes(lr, w)
        n = lr.size
        pT = cum[n]
        eta = np.maximum(lr[k], floor)
        ek = eta ** (-gamma)
        x = ek * np.maximum(pT - cum[k], floor)
        z = 1.0 + C * x
        g = 1.0 - z ** (-beta)
        gp = beta * C * z ** (-beta - 1.0)  # G'(x)
        F = float(np.sum(delta * g))
        h = delta * gp * ek  # d/dP terms
        grad_f = np.zeros(n)
        grad_f[k] -= g  # via delta_k
        grad_f[k - 1] += g  # via delta_k = lr[k-1] - lr[k]
        grad_f[k] += delta * gp * (-gamma) * x / eta
        grad_f += h.sum()  # via P_T
        # via -P_{k-1}: lr[j] is in P_{k-1} for k >= j + 1
        tail = np.concatenate([np.cumsum(h[::-1])[::-1], [0.0]])  # tail[i] = sum_{k index >= i} h
        j = np.arange(n)
        first = np.maximum(j + 1, w) - w  # index into k of the first k >= j+1
        grad_f -= np.where(first < k.size, tail[np.minimum(first, k.size)], 0.0)
        loss = L0 + A * pT ** (-alpha) - B * F
        grad = -alpha * A * pT ** (-alpha - 1.0) - B * grad_f
        return loss, grad

    def bounds(self, min_loss: float) -> tuple[np.ndarray, np.ndarray]:
        lo = np.array([0.0, 1e-8, 1e-3, 0.0, 1e-6, 1e-3, 1e-3])
        hi = np.array([min_loss * (1 - 1e-6), 1e4, 3.0, 1e7, 1e6, 5.0, 3.0])
        return lo, hi

    def starts(self, preps: Sequence[MPLPrep], losses: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
        """Variable projection on a grid: for each (alpha, C, beta, gamma), solve L0, A, B linearly."""
        loss = np.concatenate(list(losses))
        lo, hi = self.bounds(float(loss.min()))
        s1 = np.concatenate([p.s1 for p in preps])
        log_s1 = np.log(s1)
        cands: list[tuple[float, np.ndarray]] = []
        for C, beta, gamma in itertools.product((0.5, 2.0, 8.0), (0.4, 0.7), (0.4, 0.65)):
            ld = np.concatenate([p.ld(C, beta, gamma) for p in preps])
            for alpha in (0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0):
                X = np.stack([np.ones_like(s1), np.exp(-alpha * log_s1), -ld], axis=1)
                coef, sse = linear_start(X, loss, lo[[0, 1, 3]], hi[[0, 1, 3]])
                theta = np.array([coef[0], coef[1], alpha, coef[2], C, beta, gamma])
                cands.append((sse, theta))
        cands.sort(key=lambda c: c[0])
        return [np.clip(t, lo, hi) for _, t in cands[:n]]

    def simplified_fit(self, preps: Sequence[MPLPrep], losses: Sequence[np.ndarray]) -> np.ndarray:
        """The reference code's initialisation: the saturated law ``L0 + A S1^-alpha - B sum(delta)``
        (``G = 1``) fitted by variable projection over ``alpha`` and a bounded least-squares polish,
        with ``C, beta, gamma`` at the prior centres (:meth:`prior_centres`; 1, 0.5, 0.5)."""
        from scipy.optimize import least_squares  # lazy

        loss = np.concatenate(list(losses))
        lo, hi = self.bounds(float(loss.min()))
        log_s1 = np.log(np.concatenate([p.s1 for p in preps]))
        sat = np.concatenate([p.sat for p in preps])
        best = None
        for alpha in np.arange(0.1, 1.21, 0.05):
            X = np.stack([np.ones_like(log_s1), np.exp(-alpha * log_s1), -sat], axis=1)
            coef, sse = linear_start(X, loss, lo[[0, 1, 3]], hi[[0, 1, 3]])
            if best is None or sse < best[0]:
                best = (sse, np.array([coef[0], coef[1], alpha, coef[2]]))
        assert best is not None
        l4, h4 = lo[[0, 1, 2, 3]], hi[[0, 1, 2, 3]]
        x0 = np.clip(best[1], l4 + 1e-9 * (h4 - l4), h4 - 1e-9 * (h4 - l4))
        log_loss = np.log(loss)

        def res(x: np.ndarray) -> np.ndarray:
            return np.log(np.maximum(x[0] + x[1] * np.exp(-x[2] * log_s1) - x[3] * sat, 1e-8)) - log_loss

        x = least_squares(res, x0, bounds=(l4, h4), x_scale="jac", max_nfev=200).x
        c = {**MultiPowerLaw.prior, **self.prior_centres(preps)}
        return np.array([x[0], x[1], x[2], x[3], c["C"], c["beta"], c["gamma"]])  # the shape at the prior centres


class IntrinsicClockMPL(MultiPowerLaw):
    """The multi-power law with its loss drop realised on the intrinsic-time clock (``"multipower-it"``).

    ``L(t) = L0 + A S1(t)^-alpha - B sum_k delta_k [1 - (1 + C S_k(t))^-beta]``: Luo et al.'s eq. (6)
    with ``gamma = 0``, i.e. the relaxation of a drop runs on LR area ``S_k(t)`` alone, as in the
    Functional Scaling Law (Li et al. 2025, NeurIPS, arXiv 2509.19189: SGD noise is forgotten by a
    kernel of intrinsic time ``T(t) - T(k)``, ``T = sum eta``) and the convex bound of Schaipp et al.
    2025 (arXiv 2501.18965).  With ``gamma > 0`` a drop made at a small LR (the end of a cooldown) is
    realised almost at once, which over-values short cooldowns, and constant + cosine pilots do not
    determine ``gamma`` (docs/methods.md).  Everything else is the multi-power law's: the prior
    (``beta`` at 0.5; ``C`` at ``eta_peak^-0.5``, the pilots' peak LR, so that at the peak the clock
    runs as the multi-power prior's ``C eta^-gamma = 1 * eta_peak^-0.5`` and only the speed-up of
    drops made at lower LRs is removed), the warmup option, the fit configurations and the exact O(N)
    sums.  Unlike ``"mpl-it"`` (no prior, no selection) its ``C, beta`` stay in the prior's region on
    pilots that do not determine them.  Parameters ``L0, A, alpha, B, C, beta``.
    """

    name = "multipower-it"
    title = "multi-power law, loss drop in intrinsic time (Luo et al. 2025; Li et al. 2025)"
    param_names = ("L0", "A", "alpha", "B", "C", "beta")
    #: the parameters with a prior; ``C``'s centre is scaled by the pilots' peak LR (:meth:`prior_centres`)
    prior = {"C": 1.0, "beta": 0.5}

    def prior_centres(self, preps: Sequence[MPLPrep]) -> dict[str, float]:
        """``C`` at ``eta_peak^-0.5`` (the multi-power prior's clock at the peak LR), ``beta`` at 0.5."""
        peak = max((p.peak for p in preps), default=0.0)
        return {"C": self.prior["C"] * peak ** -0.5 if peak > 0 else self.prior["C"], "beta": self.prior["beta"]}

    def evaluate(self, prep: MPLPrep, theta: np.ndarray, jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        pred, J = super().evaluate(prep, np.r_[np.asarray(theta, dtype=float), 0.0], jac)
        return pred, (None if J is None else J[:, :6])

    def final_loss_grad(self, lr: np.ndarray, theta: np.ndarray, warmup: int) -> tuple[float, np.ndarray]:
        return super().final_loss_grad(lr, np.r_[np.asarray(theta, dtype=float), 0.0], warmup)

    def bounds(self, min_loss: float) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = super().bounds(min_loss)
        return lo[:6], hi[:6]

    def starts(self, preps: Sequence[MPLPrep], losses: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
        """Variable projection on a grid of ``(alpha, C, beta)``: ``C`` around the prior's centre,
        ``L0, A, B`` solved linearly for each."""
        loss = np.concatenate(list(losses))
        lo, hi = self.bounds(float(loss.min()))
        s1 = np.concatenate([p.s1 for p in preps])
        c0 = self.prior_centres(preps)["C"]
        cands: list[tuple[float, np.ndarray]] = []
        for C, beta in itertools.product((0.5 * c0, 2.0 * c0, 8.0 * c0), (0.4, 0.7)):
            ld = np.concatenate([p.ld(C, beta, 0.0) for p in preps])
            for alpha in (0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0):
                X = np.stack([np.ones_like(s1), s1 ** (-alpha), -ld], axis=1)
                coef, sse = linear_start(X, loss, lo[[0, 1, 3]], hi[[0, 1, 3]])
                cands.append((sse, np.array([coef[0], coef[1], alpha, coef[2], C, beta])))
        cands.sort(key=lambda c: c[0])
        return [np.clip(t, lo, hi) for _, t in cands[:n]]

    def simplified_fit(self, preps: Sequence[MPLPrep], losses: Sequence[np.ndarray]) -> np.ndarray:
        """The multi-power law's simplified-law initialisation, without ``gamma`` and with ``C, beta`` at
        this law's prior centres."""
        x = super().simplified_fit(preps, losses)[:6]
        c = self.prior_centres(preps)
        x[4], x[5] = c["C"], c["beta"]
        return x
