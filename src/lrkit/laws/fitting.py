"""Fit a loss-curve law to one or more runs.

Objective (as in both papers' reference fits): Huber loss (``delta = 1e-3``) on log residuals
``log pred - log loss``, summed over all logged points of all runs, minimised from several starts
(:func:`lrkit.laws.solve.solve`).  Parameter uncertainty: a moving-block bootstrap of the residuals
of each run, each resample refitted by one Gauss-Newton step from the optimum (linearised
bootstrap); the spread of the resampled parameters gives the parameter part of the prediction band
(:func:`lrkit.laws.predict`).  Model (extrapolation) error: a forward hold-out
(:func:`lrkit.laws.selection.model_error`, forward-chaining quantiles) gives an error scale
``a + b * log-horizon`` that widens the band.  Parameters the runs do not determine are flagged
(:func:`lrkit.laws.identify.undetermined`; ``FitResult.flags``, a note and an
:class:`~lrkit.laws.base.UndeterminedWarning`).  Model selection (multi-power default): forward-chaining cross-validation on the fitted runs
chooses the warmup treatment and the shrinkage toward the simplified-law initialisation
(:func:`lrkit.laws.selection.select_config`).
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Sequence

import numpy as np

from .areas import warmup_end
from .base import Curve, Law, LawError, UndeterminedWarning, thinned, usable_points
from .domain import Domain, warmup_steps
from .identify import at_bound, note, undetermined
from .profile import profile_fits
from .result import FitResult, get_law, options_of
from .selection import CAL_FRACTIONS, model_error, select_config
from .solve import Problem, Solution, block_resample, fixed_index, solve


def _curves(runs: Sequence[Any], totals: Sequence[int | None] | None, target: str = "loss") -> list[Curve]:
    """:class:`lrkit.runs.Run` objects (their ``target`` column) or ready :class:`Curve` objects as curves."""
    if totals is not None and len(totals) != len(runs):
        raise LawError(f"give one total per run: {len(totals)} totals for {len(runs)} runs")
    return [r if isinstance(r, Curve) else Curve.from_run(r, total=None if totals is None else totals[i], loss=target)
            for i, r in enumerate(runs)]


def _bootstrap(problem: Problem, sol: Solution, huber_delta: float, n_boot: int, block: int,
               seed: int) -> tuple[np.ndarray, int]:
    """Linearised moving-block bootstrap of the residuals (per run): ``n_boot`` parameter samples,
    and the numerical rank of the (scaled, Huber-weighted) Jacobian at the optimum.

    A parameter on a bound of its range is held there (the active-set linearisation of the bounded
    fit), and the samples of the others are not clipped to their ranges: the band propagates them
    linearly, and clipping one parameter while keeping the others' compensating shifts pushed the
    band to one side (``L0`` near 0 gave a band from -1% to +35%).  An interval reaching past a
    bound marks a parameter the runs do not determine (:mod:`lrkit.laws.identify`)."""
    theta, lo, hi = sol.theta, problem.lo, problem.hi
    free = ~at_bound(theta, lo, hi)
    r = sol.resid(theta)
    Jr = sol.jacobian(theta)[:, free]
    w = np.minimum(1.0, huber_delta / np.maximum(np.abs(r), 1e-300))
    r = r[:problem.points]  # residual bootstrap over the data rows; prior rows stay fixed
    scale = np.linalg.norm(Jr, axis=0)
    scale[scale == 0] = 1.0
    Js = Jr / scale * np.sqrt(w)[:, None]
    rank = int(np.linalg.matrix_rank(Js, tol=1e-9 * max(1.0, float(np.abs(Js).max()))))
    pinv = np.linalg.pinv(Js, rcond=1e-9)
    rng = np.random.default_rng(seed)
    edges = np.cumsum([0] + [len(x) for x in problem.losses])
    samples = np.tile(theta, (n_boot, 1))
    for b in range(n_boot):
        e = np.concatenate([block_resample(r[edges[i]:edges[i + 1]], block, rng) for i in range(len(problem.losses))]
                           + [np.zeros(sol.prior_rows.size)])
        samples[b, free] = theta[free] + pinv @ (np.sqrt(w) * e) / scale
    return samples, rank


def _metrics(curves: Sequence[Curve], pred: np.ndarray) -> dict[str, dict[str, float]]:
    """Fit quality per run: points, mean and max relative error, R²."""
    out = {}
    edges = np.cumsum([0] + [c.loss.size for c in curves])
    for i, c in enumerate(curves):
        p = pred[edges[i]:edges[i + 1]]
        rel = np.abs(p - c.loss) / c.loss
        ss_tot = float(np.sum((c.loss - c.loss.mean()) ** 2))
        out[c.name] = {
            "points": int(c.loss.size),
            "mean_rel_error": float(rel.mean()),
            "max_rel_error": float(rel.max()),
            "r2": float(1 - np.sum((p - c.loss) ** 2) / ss_tot) if ss_tot > 0 else float("nan"),
        }
    return out


def _law(law: str | Law, law_options: dict[str, Any] | None) -> tuple[Law, dict[str, Any]]:
    """The law object and the options stored with the fit (a law object's own options win)."""
    options = dict(law_options or {})
    if isinstance(law, str):
        return get_law(law, **options), options
    own = options_of(law)
    return law, own if own is not None else options


def _select(curves: Sequence[Curve], law: Law, huber_delta: float,
            prior_weight: float | None) -> tuple[Law, dict[str, Any], float, dict[str, Any]] | None:
    """The configuration chosen by :func:`select_config` (law, its options, shrinkage, the record),
    or ``None`` when the runs are too short for any fold."""
    if not hasattr(law, "simplified_fit"):
        raise LawError(f"law {law.name!r} has no fit configurations to select from")
    selection = select_config(curves, law.name, huber_delta=huber_delta, prior_weight=prior_weight)
    if not selection:
        return None
    options = dict(selection["config"].get("law_options", {}))
    return get_law(law.name, **options), options, float(selection["config"]["shrink"]), selection


def _at_bounds(problem: Problem, theta: np.ndarray, fixed: dict[str, float]) -> list[str]:
    """Fitted parameters sitting on a bound of their range (e.g. ``L0`` just below the lowest loss)."""
    on = at_bound(theta, problem.lo, problem.hi)
    return [n for n, b in zip(problem.law.param_names, on) if b and n not in fixed]


def _pilots(curves: Sequence[Curve], pred: np.ndarray, points: int = 300) -> dict[str, dict[str, list[float]]]:
    """Each pilot's logged and fitted loss at up to ``points`` evenly spread logged steps."""
    out, edges = {}, np.cumsum([0] + [c.loss.size for c in curves])
    for i, c in enumerate(curves):
        keep = np.unique(np.linspace(0, c.steps.size - 1, min(points, c.steps.size)).astype(int))
        p = pred[edges[i]:edges[i + 1]]
        out[c.name] = {"steps": c.steps[keep].tolist(), "loss": c.loss[keep].tolist(), "fitted": p[keep].tolist()}
    return out


def _flags(problem: Problem, theta: np.ndarray, samples: np.ndarray, prior_weight: float | None, shrink: float,
           fixed: dict[str, float], level: float) -> dict[str, str]:
    """The parameters the runs do not determine (:func:`lrkit.laws.identify.undetermined`), with a
    warning naming them."""
    law = problem.law
    pw = law.prior_weight if prior_weight is None else float(prior_weight)
    flags = undetermined(law, theta, samples, problem.lo, problem.hi, prior_on=pw > 0 or shrink > 0,
                         centres=law.prior_centres(problem.preps),
                         fixed=list(fixed), level=level)
    if flags:
        warnings.warn(f"{law.name} fit: {note(flags)}", UndeterminedWarning, stacklevel=3)
    return flags


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
    holdout: float | Sequence[float] = CAL_FRACTIONS,
    shrink: float = 0.0,
    select: bool | None = None,
    fixed: dict[str, float] | None = None,
    target: str = "loss",
    convention: str | None = None,
) -> FitResult:
    """Fit ``law`` to ``runs`` (``lrkit.runs.Run`` or :class:`Curve`); returns a :class:`FitResult`.

    ``totals[i]``: number of steps of run ``i`` (default: last logged step + 1).
    ``prior_weight``: strength of the law's prior on its shape parameters, in log scale
    (``Law.prior``; default ``Law.prior_weight``; 0 turns it off).  Its rows go through the Huber
    loss like the data: a deviation whose row exceeds ``huber_delta`` is pulled back with a constant
    force ``prior_weight * huber_delta`` (docs/methods.md).
    ``holdout``: the fractions of each run fitted by the forward-chaining folds that calibrate the
    model-error part of the band (:func:`~lrkit.laws.selection.model_error`); one number is one fold,
    0 leaves the calibration out.
    ``shrink``: weight of a penalty pulling *every* parameter (in log scale) toward the law's simplified
    initialisation (``Law.simplified_fit``; the multi-power law only); 0 turns it off.
    ``select``: choose the fit configuration (``shrink`` and, for the multi-power law, the warmup
    treatment) from :data:`~lrkit.laws.selection.SELECT_MENU` by forward-chaining cross-validation on
    the runs themselves (:func:`~lrkit.laws.selection.select_config`), then fit the chosen one to the
    full runs.  Default: on for the multi-power law when neither ``shrink``, ``law_options`` nor
    ``fixed`` is given.
    ``fixed``: parameters held at given values (e.g. ``{"gamma": 0.6}``) instead of fitted; they get
    no bootstrap spread.
    ``target``: the column of ``Run`` inputs to fit (``loss``, ``val_loss``); ``convention``: the one the
    runs' LRs were evaluated with.  Both are recorded, with the domain of validity, ``at_bounds``, ``pilots``.
    """
    t0 = time.perf_counter()
    law_obj, law_options = _law(law, law_options)
    if not runs:
        raise LawError("fit needs at least one run")
    curves, notes = usable_points(_curves(runs, totals, target))
    curves, thin_notes = thinned(curves)
    notes += thin_notes
    selection: dict[str, Any] = {}
    if select is None:
        select = (isinstance(law, str) and law in ("multipower", "multipower-it") and not law_options and shrink == 0.0
                  and not fixed)
    chosen = _select(curves, law_obj, huber_delta, prior_weight) if select else None
    if chosen is not None:
        law_obj, law_options, shrink, selection = chosen
    names = [c.name for c in curves]
    if len(set(names)) != len(names):
        raise LawError(f"run names must be unique, got {names}")
    problem = Problem.of(law_obj, curves)
    if problem.points < len(law_obj.param_names) + 1:
        raise LawError(f"{problem.points} logged losses are too few to fit {len(law_obj.param_names)} parameters")
    fixed = dict(fixed or {})
    sol = solve(problem, prior_weight, shrink, n_starts, huber_delta,
                fixed=fixed_index(law_obj, fixed, problem.lo, problem.hi))
    samples, rank = _bootstrap(problem, sol, huber_delta, n_boot, block, seed)
    merr: dict[str, float] = {}
    if holdout and n_boot > 0:
        merr = model_error(curves, law_obj, holdout, level=band_level, huber_delta=huber_delta, n_starts=1,
                           prior_weight=prior_weight, shrink=shrink, fixed=fixed)  # one start per fold, as in selection
    flags = _flags(problem, sol.theta, samples, prior_weight, shrink, fixed, band_level)
    profile = profile_fits(problem, sol, flags, fixed, prior_weight, shrink, huber_delta)
    pred = problem.model()(sol.theta, False)[0]
    return FitResult(  # the diagnostics (domain, at_bounds, pilots) last
        law=law_obj.name,
        params={n: float(v) for n, v in zip(law_obj.param_names, sol.theta)},
        runs=names,
        law_options=law_options,
        metrics=_metrics(curves, pred),
        param_samples=samples.tolist(),
        band_level=band_level,
        huber_delta=huber_delta,
        warmup=warmup_steps(curves[0].lr),  # steps of the first run's warmup
        peak_lr=float(max(c.lr.max() for c in curves)),
        totals=[int(c.lr.size) for c in curves],
        rank=rank,
        model_error=merr,
        shrink=float(shrink),
        selection=selection,
        fixed={n: float(v) for n, v in fixed.items()},
        notes=notes,
        flags=flags,
        cost=sol.cost,
        seconds=time.perf_counter() - t0,
        domain=Domain.of_curves(curves, convention).to_dict(),
        target=target,
        at_bounds=_at_bounds(problem, sol.theta, fixed),
        pilots=_pilots(curves, pred),
        profile=profile,
    )
