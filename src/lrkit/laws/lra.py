"""The LR-annealing law (Tissue, Wang, Wang 2024, "Scaling Law with Learning Rate Annealing",
arXiv 2408.11029).

``L(t) = L0 + A * S1(t)^-alpha - C * S2(t)``: ``S1`` is the forward area (sum of LRs, warmup
included), ``S2`` the annealing area with momentum ``lam`` (0.999 by default, the value used in
public reproductions). ``lam`` is a fixed setting, not fitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .areas import annealing_area, forward_area
from .base import Law, LawError, linear_start


@dataclass(frozen=True)
class LRAPrep:
    s1: np.ndarray
    s2: np.ndarray


class LRALaw(Law):
    """LR-annealing law; parameters ``L0, A, alpha, C`` (``lam`` fixed)."""

    name = "lra"
    title = "LR-annealing law (Tissue et al. 2024)"
    param_names = ("L0", "A", "alpha", "C")

    def __init__(self, lam: float = 0.999) -> None:
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0.0 <= lam < 1.0:
            raise LawError(f"lra lam must be a number in [0, 1), got {lam!r}")
        self.lam = float(lam)

    def prepare(self, lr: np.ndarray, steps: np.ndarray) -> LRAPrep:
        return LRAPrep(forward_area(lr, steps), annealing_area(lr, steps, self.lam))

    def evaluate(self, prep: LRAPrep, theta: np.ndarray, jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        L0, A, alpha, C = (float(v) for v in theta)
        pw = prep.s1 ** (-alpha)
        pred = L0 + A * pw - C * prep.s2
        if not jac:
            return pred, None
        J = np.stack([np.ones_like(pw), pw, -A * pw * np.log(prep.s1), -prep.s2], axis=1)
        return pred, J

    def final_loss_grad(self, lr: np.ndarray, theta: np.ndarray, warmup: int) -> tuple[float, np.ndarray]:
        """Loss at the last step and its gradient with respect to every step's LR (changes from ``warmup`` on)."""
        L0, A, alpha, C = (float(v) for v in theta)
        lr = np.asarray(lr, dtype=float)
        n = lr.size
        pT = float(lr.sum())
        w = max(int(warmup), 1)
        c = np.zeros(n + 1)  # c[k] = dS2(T)/d delta_k
        k = np.arange(w, n)
        lam = self.lam
        c[k] = (1.0 - lam ** (n - k)) / (1.0 - lam) if lam > 0 else 1.0
        delta = lr[k - 1] - lr[k]
        s2 = float(np.sum(delta * c[k]))
        ds2 = c[1:] - c[:-1]  # d S2 / d lr[j] = c[j+1] - c[j]
        loss = L0 + A * pT ** (-alpha) - C * s2
        return loss, -alpha * A * pT ** (-alpha - 1.0) - C * ds2

    def bounds(self, min_loss: float) -> tuple[np.ndarray, np.ndarray]:
        return np.array([0.0, 1e-8, 1e-3, 0.0]), np.array([min_loss * (1 - 1e-6), 1e4, 3.0, 1e6])

    def starts(self, preps: Sequence[LRAPrep], losses: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
        """Grid over ``alpha``; ``L0, A, C`` solved linearly for each."""
        loss = np.concatenate(list(losses))
        lo, hi = self.bounds(float(loss.min()))
        s1 = np.concatenate([p.s1 for p in preps])
        s2 = np.concatenate([p.s2 for p in preps])
        cands = []
        for alpha in np.linspace(0.1, 1.5, 15):
            X = np.stack([np.ones_like(s1), s1 ** (-alpha), -s2], axis=1)
            coef, sse = linear_start(X, loss, lo[[0, 1, 3]], hi[[0, 1, 3]])
            cands.append((sse, np.array([coef[0], coef[1], alpha, coef[2]])))
        cands.sort(key=lambda c: c[0])
        return [np.clip(t, lo, hi) for _, t in cands[:n]]
