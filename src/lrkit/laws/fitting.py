"""Fit a loss-curve law to one or more runs.

Objective (as in both papers' reference fits): Huber loss (``delta = 1e-3``) on log residuals
``log pred - log loss``, summed over all logged points of all runs.  Minimised with
``scipy.optimize.least_squares`` (trust-region reflective, analytic Jacobian, bounds) from several
starts found by variable projection (linear parameters solved exactly on a grid of the nonlinear
ones).  Parameter uncertainty: a moving-block bootstrap of the residuals of each run, each resample
refitted by one Gauss-Newton step from the optimum (linearised bootstrap); the spread of the
resampled parameters gives the parameter part of the prediction band (:func:`lrkit.laws.predict`).
Model (extrapolation) error: a forward hold-out -- the same fit on the first ``holdout`` fraction of
every run predicts the rest; the relative errors there, regressed on the log-horizon
``log(t / last fitted step)``, give an error scale ``a + b * horizon`` that widens the band (see
:func:`model_error`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .base import Curve, Law, LawError
from .lra import LRALaw
from .multipower import MultiPowerLaw

LAW_NAMES = ("multipower", "lra")


def get_law(name: str, **options: Any) -> Law:
    """The law called ``name`` (``"multipower"`` or ``"lra"``); ``options`` go to its constructor."""
    if name == "multipower":
        if options:
            raise LawError(f"law 'multipower' takes no options, got {sorted(options)}")
        return MultiPowerLaw()
    if name == "lra":
        return LRALaw(**options)
    raise LawError(f"unknown law {name!r}; valid laws: {', '.join(LAW_NAMES)}")


@dataclass
class FitResult:
    """A fitted law: parameters, fit quality per run and bootstrap parameter samples for bands."""

    law: str
    params: dict[str, float]
    runs: list[str]
    law_options: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    param_samples: list[list[float]] = field(default_factory=list)
    band_level: float = 0.9
    band_method: str = "linearised moving-block residual bootstrap"
    huber_delta: float = 1e-3
    warmup: int = 0
    peak_lr: float = 0.0
    totals: list[int] = field(default_factory=list)
    rank: int = 0
    #: model-error scale from the forward hold-out: relative error ``a + b * log(t / horizon)``
    #: (``log`` term only beyond ``horizon``, the last fitted step); empty: no model error in bands
    model_error: dict[str, float] = field(default_factory=dict)
    cost: float = 0.0
    seconds: float = 0.0

    @property
    def theta(self) -> np.ndarray:
        return np.array([self.params[n] for n in self.law_obj.param_names])

    @property
    def law_obj(self) -> Law:
        return get_law(self.law, **self.law_options)

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text of the fit (also written to ``path`` if given)."""
        text = json.dumps({"lrkit_fit": 1, **asdict(self)}, indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "FitResult":
        """Read a fit from JSON text or a file written by :meth:`to_json`."""
        src = str(text_or_path)
        try:
            text = Path(src).read_text() if not src.lstrip().startswith("{") else src
        except OSError as exc:
            raise LawError(f"{src}: cannot read fit file ({exc.strerror})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LawError(f"{src[:60]}: not a JSON fit file ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict) or data.pop("lrkit_fit", None) != 1:
            raise LawError(f"{src[:60]}: not an lrkit fit file (no 'lrkit_fit' marker)")
        try:
            fit = cls(**data)
            law = fit.law_obj
            missing = [n for n in law.param_names if n not in fit.params]
        except TypeError as exc:
            raise LawError(f"{src[:60]}: malformed fit file ({exc})") from None
        if missing:
            raise LawError(f"{src[:60]}: fit file lacks parameters {missing}")
        return fit


def as_curves(runs: Sequence[Any], totals: Sequence[int | None] | None = None) -> list[Curve]:
    """Turn :class:`lrkit.runs.Run` objects (or ready :class:`Curve` objects) into curves."""
    out = []
    for i, r in enumerate(runs):
        if isinstance(r, Curve):
            out.append(r)
            continue
        total = totals[i] if totals is not None else None
        lr = r.lr_per_step(total)
        steps, loss = r.logged("loss")
        keep = steps < lr.size
        out.append(Curve(r.name, lr, steps[keep], loss[keep]))
    return out


def _block_resample(res: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    n = res.size
    b = max(1, min(block, n))
    starts = rng.integers(0, n - b + 1, size=-(-n // b))
    idx = (starts[:, None] + np.arange(b)[None, :]).ravel()[:n]
    return res[idx]


def fit(
    runs: Sequence[Any],
    law: str | Law = "multipower",
    *,
    totals: Sequence[int | None] | None = None,
    huber_delta: float = 1e-3,
    n_starts: int = 3,
    n_boot: int = 200,
    block: int = 10,
    band_level: float = 0.9,
    seed: int = 0,
    law_options: dict[str, Any] | None = None,
    prior_weight: float | None = None,
    holdout: float = 0.6,
) -> FitResult:
    """Fit ``law`` to ``runs`` (``lrkit.runs.Run`` or :class:`Curve`); returns a :class:`FitResult`.

    ``totals[i]``: number of steps of run ``i`` (default: last logged step + 1).
    ``prior_weight``: strength of the law's weak log-normal prior on its shape parameters
    (``Law.prior``; default ``Law.prior_weight``; 0 turns it off).
    ``holdout``: fraction of each run used by the forward hold-out fit that calibrates the model-error
    part of the band (:func:`model_error`); 0 leaves it out (parameter uncertainty only).
    """
    from scipy.optimize import least_squares  # lazy

    t0 = time.perf_counter()
    law_options = dict(law_options or {})
    if isinstance(law, str):
        law_obj = get_law(law, **law_options)
    else:
        law_obj = law
        if isinstance(law, LRALaw):
            law_options = {"lam": law.lam}
    if not runs:
        raise LawError("fit needs at least one run")
    curves = as_curves(runs, totals)
    names = [c.name for c in curves]
    if len(set(names)) != len(names):
        raise LawError(f"run names must be unique, got {names}")
    preps = [law_obj.prepare(c.lr, c.steps) for c in curves]
    losses = [c.loss for c in curves]
    log_loss = np.log(np.concatenate(losses))
    npts = log_loss.size
    if npts < len(law_obj.param_names) + 1:
        raise LawError(f"{npts} logged losses are too few to fit {len(law_obj.param_names)} parameters")
    lo, hi = law_obj.bounds(float(np.exp(log_loss.min())))

    def model(theta: np.ndarray, jac: bool) -> tuple[np.ndarray, np.ndarray | None]:
        outs = [law_obj.evaluate(p, theta, jac) for p in preps]
        pred = np.concatenate([o[0] for o in outs])
        J = np.concatenate([o[1] for o in outs]) if jac else None
        return pred, J

    pw = law_obj.prior_weight if prior_weight is None else float(prior_weight)
    pidx = np.array([law_obj.param_names.index(n) for n in law_obj.prior], dtype=int) if pw > 0 else np.zeros(0, int)
    pcenter = np.log(np.array([law_obj.prior[n] for n in law_obj.prior])) if pw > 0 else np.zeros(0)

    def resid(theta: np.ndarray) -> np.ndarray:
        pred, _ = model(theta, False)
        r = np.log(np.maximum(pred, 1e-8)) - log_loss
        return np.concatenate([r, pw * (np.log(theta[pidx]) - pcenter)])

    def jacobian(theta: np.ndarray) -> np.ndarray:
        pred, J = model(theta, True)
        Jp = np.zeros((pidx.size, theta.size))
        Jp[np.arange(pidx.size), pidx] = pw / theta[pidx]
        return np.concatenate([J / np.maximum(pred, 1e-8)[:, None], Jp])

    best = None
    for x0 in law_obj.starts(preps, losses, n_starts):
        x0 = np.clip(x0, lo, hi)
        x0 = np.where(x0 <= lo, lo + 1e-9 * (hi - lo), x0)
        x0 = np.where(x0 >= hi, hi - 1e-9 * (hi - lo), x0)
        res = least_squares(
            resid, x0, jac=jacobian, bounds=(lo, hi), loss="huber", f_scale=huber_delta,
            x_scale="jac", method="trf", max_nfev=300, ftol=1e-12, xtol=1e-12, gtol=1e-10,
        )
        if best is None or res.cost < best.cost:
            best = res
    assert best is not None
    theta = best.x
    r = resid(theta)
    Jr = jacobian(theta)

    # linearised moving-block bootstrap of the residuals (per run)
    w = np.minimum(1.0, huber_delta / np.maximum(np.abs(r), 1e-300))
    r = r[:npts]  # residual bootstrap over the data rows; prior rows stay fixed
    scale = np.linalg.norm(Jr, axis=0)
    scale[scale == 0] = 1.0
    Js = Jr / scale * np.sqrt(w)[:, None]
    rank = int(np.linalg.matrix_rank(Js, tol=1e-9 * max(1.0, float(np.abs(Js).max()))))
    pinv = np.linalg.pinv(Js, rcond=1e-9)
    rng = np.random.default_rng(seed)
    bounds_idx = np.cumsum([0] + [len(x) for x in losses])
    samples = np.empty((n_boot, theta.size))
    for b in range(n_boot):
        e = np.concatenate([
            _block_resample(r[bounds_idx[i]:bounds_idx[i + 1]], block, rng) for i in range(len(losses))
        ] + [np.zeros(pidx.size)])
        step = pinv @ (np.sqrt(w) * e) / scale
        samples[b] = np.clip(theta + step, lo, hi)

    pred_all, _ = model(theta, False)
    metrics = {}
    for i, c in enumerate(curves):
        p = pred_all[bounds_idx[i]:bounds_idx[i + 1]]
        rel = np.abs(p - c.loss) / c.loss
        ss_tot = float(np.sum((c.loss - c.loss.mean()) ** 2))
        metrics[c.name] = {
            "points": int(c.loss.size),
            "mean_rel_error": float(rel.mean()),
            "max_rel_error": float(rel.max()),
            "r2": float(1 - np.sum((p - c.loss) ** 2) / ss_tot) if ss_tot > 0 else float("nan"),
        }
    from .areas import warmup_end

    first = curves[0].lr
    peak_at = int(np.argmax(first))
    warm = peak_at + 1 if peak_at > 0 else 0  # steps 0..peak_at ramp up
    merr: dict[str, float] = {}
    if 0 < holdout < 1 and n_boot > 0:
        merr = model_error(curves, law_obj, holdout, huber_delta=huber_delta, n_starts=n_starts,
                           prior_weight=prior_weight, law_options=law_options)
    return FitResult(
        law=law_obj.name,
        params={n: float(v) for n, v in zip(law_obj.param_names, theta)},
        runs=names,
        law_options=law_options,
        metrics=metrics,
        param_samples=samples.tolist(),
        band_level=band_level,
        huber_delta=huber_delta,
        warmup=min(warm, warmup_end(first)),  # steps of the first run's warmup
        peak_lr=float(max(c.lr.max() for c in curves)),
        totals=[int(c.lr.size) for c in curves],
        rank=rank,
        model_error=merr,
        cost=float(best.cost),
        seconds=time.perf_counter() - t0,
    )



def model_error(curves: Sequence[Curve], law: Law, holdout: float = 0.6, **fit_options: Any) -> dict[str, float]:
    """Calibrate the law's own (extrapolation) error on the fitted runs only: a forward hold-out.

    The law is fitted to the part of every run before ``holdout`` of its length and predicts the rest.
    Each held-out point ``i`` has a relative error ``e_i`` and a log-horizon ``h_i = log(t_i / T_c)``
    (``T_c``: the last step the hold-out fit saw).  The mean absolute error ``a = mean |e|`` is taken
    as the error of any prediction (another schedule within the fitted horizon included), growing in
    proportion to the log-horizon beyond the last fitted step ``T``: ``a + b h`` with
    ``b = a / mean(h)`` and ``h = log(t / T)`` (0 before ``T``).  :func:`lrkit.laws.predict` turns it
    into a normal-theory band, ``sigma = sqrt(pi/2) * (a + b h)``.  Returns ``{}`` if too few points
    are held out.
    """
    heads, tails = [], []
    for c in curves:
        cut = holdout * c.lr.size
        keep = c.steps < cut
        if keep.sum() >= 5:
            heads.append(Curve(c.name, c.lr, c.steps[keep], c.loss[keep]))
            if (~keep).any():
                tails.append(Curve(c.name, c.lr, c.steps[~keep], c.loss[~keep]))
    if not tails or sum(h.steps.size for h in heads) < len(law.param_names) + 1:
        return {}
    try:
        sub = fit(heads, law, n_boot=0, holdout=0.0, **fit_options)
    except LawError:
        return {}
    t_cut = float(max(h.steps.max() for h in heads))
    e, h = [], []
    for c in tails:
        pred, _ = law.predict(c.lr, c.steps, sub.theta)
        e.append(np.abs(pred - c.loss) / c.loss)
        h.append(np.log(c.steps / t_cut))
    e, h = np.concatenate(e), np.maximum(np.concatenate(h), 0.0)
    a = float(e.mean())  # error of a prediction over the hold-out horizon, applied everywhere
    b = a / max(float(h.mean()), 1e-12)  # and growing in proportion to the log-horizon beyond it
    return {"a": float(a), "b": float(b), "horizon": float(max(c.steps.max() for c in curves)), "points": int(e.size)}
