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
Model selection (multi-power default): forward-chaining cross-validation on the fitted runs chooses
the warmup treatment and the shrinkage toward the simplified-law initialisation from
:data:`SELECT_MENU` (see :func:`select_config`).
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
        extra = sorted(set(options) - {"warmup"})
        if extra:
            raise LawError(f"law 'multipower' takes only the option 'warmup', got {extra}")
        try:
            return MultiPowerLaw(**options)
        except ValueError as exc:
            raise LawError(str(exc)) from None
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
    #: weight of the shrinkage toward the simplified-law initialisation used by the fit
    shrink: float = 0.0
    #: the forward-chaining cross-validation that chose the configuration (empty: none was run)
    selection: dict[str, Any] = field(default_factory=dict)
    #: parameters held at given values instead of fitted (``fit(..., fixed=...)``)
    fixed: dict[str, float] = field(default_factory=dict)
    #: what the fit left out of the runs, one line each (e.g. losses logged before any positive LR)
    notes: list[str] = field(default_factory=list)
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


def usable_points(curves: Sequence[Curve]) -> tuple[list[Curve], list[str]]:
    """The curves without the losses logged before the first step with a positive LR, where the laws'
    forward area ``S1`` is 0 and the loss is undefined (e.g. a step-0 loss under a warmup from 0),
    and one note per run that lost points.  A run with no positive LR, or nothing left, is an error."""
    out, notes = [], []
    for c in curves:
        pos = np.nonzero(c.lr > 0)[0]
        if pos.size == 0:
            raise LawError(f"run {c.name!r}: the LR is zero at every step; the laws need a positive LR")
        keep = c.steps >= pos[0]
        if not keep.all():
            if not keep.any():
                raise LawError(f"run {c.name!r}: every loss is logged before the first step with a positive LR "
                               f"({int(pos[0])})")
            n = int((~keep).sum())
            notes.append(f"run {c.name!r}: left out {n} loss{'es' if n != 1 else ''} logged before step {int(pos[0])}, "
                         "the first with a positive LR (the laws need some LR area before a loss)")
            c = Curve(c.name, c.lr, c.steps[keep], c.loss[keep])
        out.append(c)
    return out, notes


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
    shrink: float = 0.0,
    select: bool | None = None,
    fixed: dict[str, float] | None = None,
) -> FitResult:
    """Fit ``law`` to ``runs`` (``lrkit.runs.Run`` or :class:`Curve`); returns a :class:`FitResult`.

    ``totals[i]``: number of steps of run ``i`` (default: last logged step + 1).
    ``prior_weight``: strength of the law's weak log-normal prior on its shape parameters
    (``Law.prior``; default ``Law.prior_weight``; 0 turns it off).
    ``holdout``: fraction of each run used by the forward hold-out fit that calibrates the model-error
    part of the band (:func:`model_error`); 0 leaves it out (parameter uncertainty only).
    ``shrink``: weight of a penalty pulling *every* parameter (in log scale) toward the law's simplified
    initialisation (``Law.simplified_fit``; the multi-power law only); 0 turns it off.
    ``select``: choose the fit configuration (``shrink`` and, for the multi-power law, the warmup
    treatment) from :data:`SELECT_MENU` by forward-chaining cross-validation on the runs themselves
    (:func:`select_config`), then fit the chosen one to the full runs.  Default: on for the multi-power
    law when neither ``shrink``, ``law_options`` nor ``fixed`` is given.
    ``fixed``: parameters held at given values (e.g. ``{"gamma": 0.6}``) instead of fitted; they get
    no bootstrap spread.
    """
    t0 = time.perf_counter()
    law_options = dict(law_options or {})
    if isinstance(law, str):
        law_obj = get_law(law, **law_options)
    else:
        law_obj = law
        if isinstance(law, LRALaw):
            law_options = {"lam": law.lam}
        elif isinstance(law, MultiPowerLaw):
            law_options = dict(law.options)
    if not runs:
        raise LawError("fit needs at least one run")
    curves, notes = usable_points(as_curves(runs, totals))
    selection: dict[str, Any] = {}
    if select is None:
        select = isinstance(law, str) and law == "multipower" and not law_options and shrink == 0.0 and not fixed
    if select:
        if not hasattr(law_obj, "simplified_fit"):
            raise LawError(f"law {law_obj.name!r} has no fit configurations to select from")
        selection = select_config(curves, law_obj.name, huber_delta=huber_delta, prior_weight=prior_weight)
        if selection:
            law_options = dict(selection["config"].get("law_options", {}))
            law_obj = get_law(law_obj.name, **law_options)
            shrink = float(selection["config"]["shrink"])
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
    fixed = dict(fixed or {})
    fixed_at = _fixed_index(law_obj, fixed, lo, hi)

    def model(theta: np.ndarray, jac: bool) -> tuple[np.ndarray, np.ndarray | None]:
        outs = [law_obj.evaluate(p, theta, jac) for p in preps]
        pred = np.concatenate([o[0] for o in outs])
        J = np.concatenate([o[1] for o in outs]) if jac else None
        return pred, J

    pw = law_obj.prior_weight if prior_weight is None else float(prior_weight)
    theta, cost, resid, jacobian, pidx = _solve(law_obj, preps, losses, lo, hi, pw, shrink, n_starts, huber_delta,
                                                fixed=fixed_at)
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
                           prior_weight=prior_weight, law_options=law_options, shrink=shrink, select=False,
                           fixed=fixed)
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
        shrink=float(shrink),
        selection=selection,
        fixed={n: float(v) for n, v in fixed.items()},
        notes=notes,
        cost=float(cost),
        seconds=time.perf_counter() - t0,
    )



def _fixed_index(law: Law, fixed: dict[str, float], lo: np.ndarray, hi: np.ndarray) -> dict[int, float]:
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


def _solve(law_obj: Law, preps: list, losses: list[np.ndarray], lo: np.ndarray, hi: np.ndarray,
           pw: float, shrink: float, n_starts: int, huber_delta: float = 1e-3,
           starts: list[np.ndarray] | None = None, fixed: dict[int, float] | None = None):
    """Robust (Huber) least squares on log residuals plus the prior/shrinkage rows, multi-start.

    ``fixed`` (index -> value) parameters are held; the returned Jacobian has zero columns for them.
    """
    from scipy.optimize import least_squares  # lazy

    log_loss = np.log(np.concatenate(losses))
    names = law_obj.param_names
    weight = np.zeros(len(names))
    center = np.zeros(len(names))
    if pw > 0:
        for n, c in law_obj.prior.items():
            weight[names.index(n)] = pw
            center[names.index(n)] = np.log(c)
    x_simple = None
    if shrink > 0:
        x_simple = np.clip(law_obj.simplified_fit(preps, losses), np.maximum(lo, 1e-12), hi)  # type: ignore[attr-defined]
        weight = weight + shrink
        center = np.log(x_simple)
    fixed = fixed or {}
    if fixed:
        weight[list(fixed)] = 0.0  # no prior or shrinkage on a held parameter
    pidx = np.nonzero(weight > 0)[0]
    wv, cv = weight[pidx], center[pidx]
    free = np.array([i for i in range(len(names)) if i not in fixed], dtype=int)

    def full(x: np.ndarray) -> np.ndarray:
        theta = np.empty(len(names))
        theta[free] = x
        for i, v in fixed.items():
            theta[i] = v
        return theta

    def model(theta: np.ndarray, jac: bool) -> tuple[np.ndarray, np.ndarray | None]:
        outs = [law_obj.evaluate(p, theta, jac) for p in preps]
        pred = np.concatenate([o[0] for o in outs])
        J = np.concatenate([o[1] for o in outs]) if jac else None
        return pred, J

    def resid(theta: np.ndarray) -> np.ndarray:
        pred, _ = model(theta, False)
        r = np.log(np.maximum(pred, 1e-8)) - log_loss
        return np.concatenate([r, wv * (np.log(np.maximum(theta[pidx], 1e-12)) - cv)])

    def jacobian(theta: np.ndarray) -> np.ndarray:
        pred, J = model(theta, True)
        Jp = np.zeros((pidx.size, theta.size))
        Jp[np.arange(pidx.size), pidx] = wv / np.maximum(theta[pidx], 1e-12)
        out = np.concatenate([J / np.maximum(pred, 1e-8)[:, None], Jp])
        out[:, list(fixed)] = 0.0
        return out

    starts = list(law_obj.starts(preps, losses, n_starts) if starts is None else starts)
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
    return full(best.x), float(best.cost), resid, jacobian, pidx

#: The fit configurations :func:`select_config` chooses from: the warmup treatment of the multi-power
#: law and the weight of the shrinkage toward its simplified-law initialisation.
SELECT_MENU: tuple[dict[str, Any], ...] = tuple(
    {"law_options": lo, "shrink": s} for lo in ({}, {"warmup": "ld"}) for s in (0.0, 0.03)
)
#: Forward-chaining folds: fit the first fraction of every run, predict the rest.
CV_FRACTIONS = (0.5, 2.0 / 3.0)


def select_config(curves: Sequence[Curve], law_name: str = "multipower", menu: Sequence[dict[str, Any]] = SELECT_MENU,
                  fractions: Sequence[float] = CV_FRACTIONS, *, huber_delta: float = 1e-3,
                  prior_weight: float | None = None, n_starts: int = 1) -> dict[str, Any]:
    """Choose a fit configuration by forward-chaining (temporal) cross-validation on the fitted runs.

    For each fraction ``f`` in ``fractions``, every configuration in ``menu`` is fitted to the part of
    every run before ``f`` of its length and predicts the rest; its score is the mean over folds of the
    mean over runs of the mean relative error of that prediction (the benchmark's PredE, on the
    runs' own futures).  Returns ``{"config", "score", "scores"}`` (``{}`` if no fold has enough
    points on both sides).  Only the runs passed in are used.
    """
    groups: dict[str, list[int]] = {}
    for i, cfg in enumerate(menu):
        groups.setdefault(json.dumps(cfg.get("law_options", {}), sort_keys=True), []).append(i)
    pe = np.full((len(menu), len(fractions)), np.nan)
    we = np.full((len(menu), len(fractions)), np.nan)
    for key, idx in groups.items():
        law = get_law(law_name, **json.loads(key))
        for j, frac in enumerate(fractions):
            heads, tails = [], []
            for c in curves:
                keep = c.steps < frac * c.lr.size
                if keep.sum() >= 5:
                    heads.append((c, keep))
                    if (~keep).any():
                        tails.append((c, ~keep))
            if not tails or sum(int(k.sum()) for _, k in heads) < len(law.param_names) + 1:
                continue
            preps = [law.prepare(c.lr, c.steps[k]) for c, k in heads]
            losses = [c.loss[k] for c, k in heads]
            tpreps = [law.prepare(c.lr, c.steps[k]) for c, k in tails]
            lo, hi = law.bounds(float(np.concatenate(losses).min()))
            pw = law.prior_weight if prior_weight is None else float(prior_weight)
            starts = list(law.starts(preps, losses, n_starts))  # shared by the configurations of this fold
            for i in idx:
                theta = _solve(law, preps, losses, lo, hi, pw, float(menu[i]["shrink"]), n_starts, huber_delta,
                               starts)[0]
                rel = [np.abs(law.evaluate(p, theta)[0] - c.loss[k]) / c.loss[k] for p, (c, k) in zip(tpreps, tails)]
                pe[i, j] = float(np.mean([r.mean() for r in rel]))
                we[i, j] = float(np.mean([r.max() for r in rel]))
    if np.all(np.isnan(pe)):
        return {}
    score = np.nanmean(pe, axis=1)
    best = int(np.nanargmin(score))
    return {
        "config": dict(menu[best]),
        "score": float(score[best]),
        "fractions": [float(f) for f in fractions],
        "scores": [{"config": dict(m), "prede": pe[i].tolist(), "worste": we[i].tolist()} for i, m in enumerate(menu)],
    }


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
