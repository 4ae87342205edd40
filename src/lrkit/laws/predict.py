"""Predict a loss curve (with a band) from a fitted law and any LR schedule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import LawError
from .result import FitResult


@dataclass(frozen=True)
class Prediction:
    """Predicted loss at ``steps`` with a ``level`` band ``[lower, upper]`` from parameter uncertainty."""

    steps: np.ndarray
    loss: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float

    @property
    def final(self) -> float:
        return float(self.loss[-1])


def _check(lr_per_step: np.ndarray, steps: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    lr = np.asarray(lr_per_step, dtype=float)
    if lr.ndim != 1 or lr.size == 0:
        raise LawError("lr_per_step must be a non-empty 1-D array (the LR of every step 0..N-1)")
    if not np.all(np.isfinite(lr)) or np.any(lr < 0):
        bad = int(np.nonzero(~np.isfinite(lr) | (lr < 0))[0][0])
        raise LawError(f"lr_per_step[{bad}] = {lr[bad]}: LRs must be finite and non-negative")
    if lr.max() <= 0:
        raise LawError("lr_per_step is zero everywhere; the laws need a positive LR")
    if steps is None:
        steps = np.arange(lr.size)
    steps = np.asarray(steps)
    if steps.ndim != 1 or steps.size == 0:
        raise LawError("steps must be a non-empty 1-D array of step numbers")
    if not np.all(steps == np.round(steps)):
        raise LawError("steps must be integers")
    steps = steps.astype(int)
    if steps.min() < 0 or steps.max() >= lr.size:
        raise LawError(f"steps must lie in 0..{lr.size - 1} (the LR is known there), got {steps.min()}..{steps.max()}")
    if np.any(np.diff(steps) <= 0):
        raise LawError("steps must be strictly increasing")
    first = int(np.nonzero(lr > 0)[0][0])
    if steps[0] < first:
        raise LawError(f"step {steps[0]} comes before the first step with a positive LR ({first}); the laws need S1 > 0")
    return lr, steps


def _model_scale(me: dict, q: float) -> float:
    """1 for a quantile calibration (its ``a``, ``b`` are half-widths already); the normal-theory
    factor ``z * sqrt(pi/2)`` for an older fit file's mean absolute error."""
    if "quantile" in me:
        return 1.0
    from scipy.stats import norm

    return float(norm.ppf(1 - q) * np.sqrt(np.pi / 2))


def predict(fit: FitResult, lr_per_step: np.ndarray, steps: np.ndarray | None = None, band: bool = True) -> Prediction:
    """Predict the loss at ``steps`` (default: every step) for absolute LRs ``lr_per_step``.

    The band is the ``fit.band_level`` interval of the predictions under the bootstrap parameter
    samples, propagated linearly (Jacobian at the fitted parameters), widened by the law's own
    error calibrated on the fitted runs (``fit.model_error``, forward-chaining quantiles; see
    :func:`lrkit.laws.selection.model_error`): the two half-widths add in quadrature, the model part
    being ``(a + b * log(t / T)) * loss`` (``T``: last fitted step; the log term is 0 before it).
    Fit files written before the quantile calibration (no ``quantile`` in ``model_error``) keep their
    mean-based scale, ``z * sqrt(pi/2) * (a + b * log(t / T)) * loss``.
    """
    lr, steps = _check(lr_per_step, steps)
    law = fit.law_obj
    theta = fit.theta
    want_band = band and len(fit.param_samples) > 1
    pred, J = law.predict(lr, steps, theta, jac=want_band)
    if want_band:
        assert J is not None
        d = J @ (np.asarray(fit.param_samples) - theta).T
        q = (1 - fit.band_level) / 2
        lo_p = np.minimum(np.quantile(d, q, axis=1), 0.0)
        hi_p = np.maximum(np.quantile(d, 1 - q, axis=1), 0.0)
        me = fit.model_error
        if me:
            h = np.maximum(np.log(np.maximum(steps, 1) / me["horizon"]), 0.0)
            m = _model_scale(me, q) * (me["a"] + me["b"] * h) * np.abs(pred)
            lo_p, hi_p = -np.hypot(lo_p, m), np.hypot(hi_p, m)
        lower, upper = pred + lo_p, pred + hi_p
    else:
        lower = upper = pred
    return Prediction(steps, pred, np.minimum(lower, pred), np.maximum(upper, pred), fit.band_level)


def final_loss(fit: FitResult, lr_per_step: np.ndarray) -> float:
    """Predicted loss at the last step of ``lr_per_step`` (no band)."""
    lr = np.asarray(lr_per_step, dtype=float)
    return predict(fit, lr, np.array([lr.size - 1]), band=False).final
