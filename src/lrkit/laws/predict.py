"""Predict a loss curve (with a band) from a fitted law and any LR schedule.

:func:`predict` checks the schedule against the fit's domain of validity
(:mod:`lrkit.laws.domain`: warnings, and refusals far outside it); :func:`evaluate` is the same
prediction without the checks, for callers that made them (plans, figures of the pilots).
Predictions start where the laws apply (:func:`lrkit.laws.domain.law_start`, the end of the warmup):
the loss is NaN at earlier steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .base import LawError
from .domain import check_losses, check_schedule, law_start, settle, warmup_steps
from .figures import draw
from .result import FitResult


@dataclass(frozen=True)
class Prediction:
    """Predicted loss at ``steps`` with a ``level`` band ``[lower, upper]``.

    ``start``: the first step where the law applies (the end of the warmup); the loss is NaN before.
    ``warnings``: ``{kind: message}`` for every way the schedule leaves the fit's domain of validity.
    """

    steps: np.ndarray
    loss: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    start: int = 0
    warnings: dict[str, str] = field(default_factory=dict)
    fit: FitResult | None = field(default=None, repr=False, compare=False)

    @property
    def final(self) -> float:
        return float(self.loss[-1])

    def __repr__(self) -> str:
        warn = f", outside the fit's domain: {', '.join(self.warnings)}" if self.warnings else ""
        return (f"Prediction({self.steps.size} steps to {int(self.steps[-1]):,}: final loss {self.final:.4f} "
                f"[{self.lower[-1]:.4f}, {self.upper[-1]:.4f}] at {int(100 * self.level)}%{warn})")

    def summary(self) -> str:
        """A few lines: the final loss and band, where the law starts, the domain warnings."""
        lines = [f"predicted final loss at step {int(self.steps[-1]):,}: {self.final:.4f} "
                 f"({int(100 * self.level)}% band {self.lower[-1]:.4f} .. {self.upper[-1]:.4f})",
                 f"  the law applies from step {self.start:,} (the end of the warmup, the pilots' if later); NaN before"]
        lines += [f"  warning ({k}): {m}" for k, m in self.warnings.items()]
        return "\n".join(lines)

    def plot(self, ax=None, **kw):
        """The prediction and its band (and the fit's pilots); matplotlib, returns the axes."""
        return draw("prediction", self, ax=ax, **kw)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: steps, loss, band (``None`` where the law does not apply), start, level, warnings."""
        def nums(a: np.ndarray) -> list:
            return [float(x) if np.isfinite(x) else None for x in a]

        return {"steps": self.steps.tolist(), "loss": nums(self.loss), "lower": nums(self.lower),
                "upper": nums(self.upper), "level": self.level, "start": self.start,
                "warnings": [{"kind": k, "message": m} for k, m in self.warnings.items()]}


def _check(lr_per_step: np.ndarray, steps: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    lr = np.asarray(lr_per_step, dtype=float)
    if lr.ndim != 1 or lr.size == 0:
        raise LawError("lr_per_step must be a non-empty 1-D array (the LR of every step 0..N-1)")
    if not np.all(np.isfinite(lr)) or np.any(lr < 0):
        bad = int(np.nonzero(~np.isfinite(lr) | (lr < 0))[0][0])
        raise LawError(f"lr_per_step[{bad}] = {lr[bad]}: LRs must be finite and non-negative")
    if lr.max() <= 0:
        raise LawError("the LR is 0 at every step (lr_per_step); the laws need a positive LR")
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
    return lr, steps


def _model_scale(me: dict, q: float) -> float:
    """1 for a quantile calibration (its ``a``, ``b`` are half-widths already); the normal-theory
    factor ``z * sqrt(pi/2)`` for an older fit file's mean absolute error."""
    if "quantile" in me:
        return 1.0
    from scipy.stats import norm

    return float(norm.ppf(1 - q) * np.sqrt(np.pi / 2))


#: steps whose (steps x bootstrap samples) prediction shifts are held at once for the band's quantiles
BAND_BLOCK = 8192


def _parameter_band(J: np.ndarray, shifts: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``q`` and ``1 - q`` quantiles of the linearised prediction shifts ``J @ shift`` over the
    bootstrap parameter shifts, clipped to include 0; a block of steps at a time."""
    lo, hi = np.empty(J.shape[0]), np.empty(J.shape[0])
    for i in range(0, J.shape[0], BAND_BLOCK):
        d = J[i:i + BAND_BLOCK] @ shifts.T
        lo[i:i + BAND_BLOCK] = np.minimum(np.quantile(d, q, axis=1), 0.0)
        hi[i:i + BAND_BLOCK] = np.maximum(np.quantile(d, 1 - q, axis=1), 0.0)
    return lo, hi


def _predict_at(fit: FitResult, lr: np.ndarray, steps: np.ndarray, band: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The law's loss at ``steps`` (where it applies) and its band.

    The band is the ``fit.band_level`` interval of the predictions under the bootstrap parameter
    samples, propagated linearly (Jacobian at the fitted parameters), widened by the law's own
    error calibrated on the fitted runs (``fit.model_error``, forward-chaining quantiles; see
    :func:`lrkit.laws.selection.model_error`): the two half-widths add in quadrature, the model part
    being ``(a + b * log(t / T)) * loss`` (``T``: last fitted step; the log term is 0 before it).
    Fit files written before the quantile calibration (no ``quantile`` in ``model_error``) keep their
    mean-based scale, ``z * sqrt(pi/2) * (a + b * log(t / T)) * loss``.  A fit with fewer than two
    bootstrap samples has no parameter part (the band is the model part alone); one with neither has
    no band (``lower == upper == loss``; :func:`has_band`).
    """
    law = fit.law_obj
    theta = fit.theta
    with_params = band and len(fit.param_samples) > 1  # one resample has no spread
    me = fit.model_error if band else {}
    pred, J = law.predict(lr, steps, theta, jac=with_params)
    lo_p, hi_p = np.zeros(pred.shape), np.zeros(pred.shape)
    q = (1 - fit.band_level) / 2
    if with_params:
        assert J is not None
        lo_p, hi_p = _parameter_band(J, np.asarray(fit.param_samples) - theta, q)
    if me:  # the law's own error counts even without a parameter bootstrap
        h = np.maximum(np.log(np.maximum(steps, 1) / me["horizon"]), 0.0)
        m = _model_scale(me, q) * (me["a"] + me["b"] * h) * np.abs(pred)
        lo_p, hi_p = -np.hypot(lo_p, m), np.hypot(hi_p, m)
    lower, upper = pred + lo_p, pred + hi_p
    return pred, np.minimum(lower, pred), np.maximum(upper, pred)


def has_band(fit: FitResult) -> bool:
    """Whether predictions from ``fit`` have a band: a parameter bootstrap (two samples or more) or a
    model-error calibration (``fit(..., n_boot=0)`` has neither)."""
    return len(fit.param_samples) > 1 or bool(fit.model_error)


def model_band(fit: FitResult, horizon_ratio: float = 1.0) -> float | None:
    """The model part of the band's half-width, as a fraction of the loss, at ``horizon_ratio`` times
    the last fitted step (1: within the pilots' horizon); ``None`` for a fit without a calibration."""
    me = fit.model_error
    if not me:
        return None
    q = (1 - fit.band_level) / 2
    return _model_scale(me, q) * (me["a"] + me["b"] * max(np.log(horizon_ratio), 0.0))


def start_of(fit: FitResult, lr_per_step: np.ndarray) -> int:
    """The first step of ``lr_per_step`` the fit predicts: the end of the schedule's warmup, and never
    before the end of the pilots' (a schedule without warmup is not predicted where the fit saw no loss)."""
    d = fit.validity
    return max(law_start(np.asarray(lr_per_step, dtype=float)), d.law_start() if d is not None else 0)


def evaluate(fit: FitResult, lr_per_step: np.ndarray, steps: np.ndarray | None = None, band: bool = True,
             pilots_start: bool = False) -> Prediction:
    """:func:`predict` without the domain checks (no warnings, no refusals): for callers that checked
    the schedule already, or draw the pilots themselves.  ``pilots_start``: start where
    :func:`start_of` says (predict's rule) instead of at the schedule's own warmup end."""
    lr, steps = _check(lr_per_step, steps)
    start = start_of(fit, lr) if pilots_start else law_start(lr)
    valid = steps >= start
    pred = np.full(steps.size, np.nan)
    lower, upper = pred.copy(), pred.copy()
    if valid.any():
        with np.errstate(all="ignore"):  # far outside the domain the law overflows: the caller checks
            pred[valid], lower[valid], upper[valid] = _predict_at(fit, lr, steps[valid], band)
    return Prediction(steps, pred, lower, upper, fit.band_level, start, {}, fit)


def predict(fit: FitResult, lr_per_step: np.ndarray, steps: np.ndarray | None = None, band: bool = True, *,
            extrapolate: bool = False, convention: str | None = None) -> Prediction:
    """Predict the loss at ``steps`` (default: every step) for absolute LRs ``lr_per_step``.

    The loss is NaN before the law applies (``Prediction.start``: the end of the warmup, never before
    the first positive LR).  The schedule is checked against the fit's domain of validity
    (:mod:`lrkit.laws.domain`): outside it, one :class:`~lrkit.laws.domain.ExtrapolationWarning` per
    kind (also in ``Prediction.warnings``); far outside it, or for a predicted loss that is not finite
    or below the fitted ``L0``, an :class:`~lrkit.laws.domain.ExtrapolationError` unless
    ``extrapolate=True``.  ``convention``: the one the schedule was evaluated with, if known (checked
    against the pilots').  The band: parameter uncertainty and the law's own error (see
    :func:`_predict_at`).
    """
    p = evaluate(fit, lr_per_step, steps, band, pilots_start=True)
    if not (p.steps >= p.start).any():
        raise LawError(f"every step asked for is before step {p.start:,}, where predictions start (the end of the "
                       "schedule's warmup, never before the pilots'): nothing to predict; ask for more steps")
    lr = np.asarray(lr_per_step, dtype=float)
    findings = check_schedule(fit.validity, peak_lr=float(lr.max()), horizon=int(p.steps[-1]) + 1,
                              warmup=warmup_steps(lr), convention=convention)
    valid = p.steps >= p.start
    found = check_losses(p.loss[valid], p.steps[valid], fit.params.get("L0"))
    warned = settle(found + findings, extrapolate)
    return Prediction(p.steps, p.loss, p.lower, p.upper, p.level, p.start, warned, fit)


def final_loss(fit: FitResult, lr_per_step: np.ndarray) -> float:
    """Predicted loss at the last step of ``lr_per_step`` (no band, no domain checks)."""
    lr = np.asarray(lr_per_step, dtype=float)
    return evaluate(fit, lr, np.array([lr.size - 1]), band=False).final


def difference(a: Prediction, b: Prediction) -> tuple[float, float, float]:
    """The final loss of prediction ``a`` minus that of ``b``, with a band taken as if the two
    predictions' errors were independent (their band half-widths add in quadrature).  Conservative:
    both come from one law, whose errors on similar schedules move together, but how much is not
    measured; a difference whose band excludes 0 is a difference the law stands behind."""
    d = a.final - b.final
    lo = np.hypot(a.final - a.lower[-1], b.upper[-1] - b.final)
    hi = np.hypot(a.upper[-1] - a.final, b.final - b.lower[-1])
    return float(d), float(d - lo), float(d + hi)


def lr_mismatch(logged_steps: np.ndarray, logged_lr: np.ndarray, lr: np.ndarray) -> tuple[float, int] | None:
    """The largest difference between a run's logged LRs and the LR of its schedule, relative to the
    logged peak, and the step where it is; ``None`` when nothing is logged where the schedule is known."""
    s = np.asarray(logged_steps, dtype=int)
    keep = s < lr.size
    if not keep.any():
        return None
    s, v = s[keep], np.asarray(logged_lr, dtype=float)[keep]
    peak = float(np.max(np.abs(v))) or 1.0
    rel = np.abs(lr[s] - v) / peak
    i = int(np.argmax(rel))
    return float(rel[i]), int(s[i])
