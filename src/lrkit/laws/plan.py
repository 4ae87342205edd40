"""Plan the schedule with the lowest predicted final loss for a budget, from a fitted law.

Two searches (Luo et al. 2025 optimise a free schedule under the multi-power law the same way):

* within a family -- ``wsd`` (decay fraction for each decay form and floor), ``cosine`` (floor),
  ``linear`` (end value), ``rex`` (its ``beta``, Chen et al. 2022), ``uba`` (its ``phi``, Tang et al.
  2025) -- with ``scipy.optimize.minimize_scalar``;
* ``free`` -- a non-increasing piecewise-linear curve after warmup with ``knots`` knots, written as
  products of per-segment factors in [0, 1] (so monotonicity is a box constraint) and optimised with
  L-BFGS-B on the exact gradient of the predicted final loss.

Every candidate is built and scored through the lrkit schedule language, so the returned spec
string is exactly the schedule that was scored.  The free form never trains at LR 0: its values
stay at or above a floor (:func:`default_floor`, the pilots' lowest LR) unless ``allow_zero``; the
laws reward a stretch at LR 0 that real training does not (the LR-annealing law's ``S2`` keeps growing
there).  The plan is checked against the fit's domain of validity (:mod:`lrkit.laws.domain`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from ..schedules.budget import DECAY_FORMS
from ..schedules.validate import clip
from ..spec import parse
from .base import LawError, schedule_lr
from .domain import check_losses, check_schedule, settle, warmup_steps
from .figures import draw
from .predict import Prediction, difference, evaluate, final_loss, has_band
from .profile import describe, refits
from .result import FitResult

#: one-parameter families: spec template (``{x}`` the searched value, ``{w}`` the warmup), search
#: bounds, and values always scored too (the family's usual settings)
SCALAR_FAMILIES = {
    "cosine": ("cosine(floor={x}, {w})", (0.0, 0.9), (0.0,)),
    "linear": ("linear(end={x}, {w})", (0.0, 0.9), (0.0,)),
    "rex": ("rex(beta={x}, {w})", (0.0, 0.99), (0.5, 0.9)),
    "uba": ("uba(phi={x}, {w})", (0.05, 4.0), (1.0, 2.0)),
}
FAMILIES = ("wsd", *SCALAR_FAMILIES, "free")
#: planning evaluates the law at every step, hundreds of times: ~25 s at 10^6 steps on 2 cores
MAX_STEPS = 10_000_000


def signed(x: float) -> str:
    """A loss difference to 4 decimals with its sign; one that rounds to 0 is ``+0.0000``, never ``-0.0000``."""
    return f"{0.0 if round(x, 4) == 0 else x:+.4f}"
#: the free form's floor stays within these multipliers of the peak LR (:func:`default_floor`)
FLOOR_RANGE = (0.01, 0.1)


@dataclass(frozen=True)
class Candidate:
    """A schedule spec, its absolute LR per step, its predicted final loss and band there."""

    spec: str
    final_loss: float
    lr: np.ndarray = field(repr=False)
    lower: float = float("nan")
    upper: float = float("nan")

    def prediction(self, fit: FitResult) -> Prediction:
        """The prediction at the last step, with its band (no domain checks: the plan made them)."""
        return evaluate(fit, self.lr, np.array([self.lr.size - 1]))

    def with_band(self, fit: FitResult) -> "Candidate":
        p = self.prediction(fit)
        return Candidate(self.spec, self.final_loss, self.lr, float(p.lower[-1]), float(p.upper[-1]))

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "final_loss": self.final_loss, "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True)
class Plan:
    """The family's best schedule (``best``), the standard schedules it was compared with, and honest
    words for the result.

    ``label``: ``"recommended"`` when ``best`` is predicted better than every standard schedule, else
    ``"best <family>"`` (``recommended`` is then that standard schedule).  ``difference``: ``best``'s
    predicted final loss minus the best standard schedule's, with the band of that difference
    (``(value, lower, upper)``; the two predictions' errors taken as independent,
    :func:`~lrkit.laws.predict.difference`).  ``warnings``: ``{kind: message}`` for every
    way the plan leaves the fit's domain of validity.  ``floor``: the free form's lowest multiplier.
    ``profile``: what the pilots allow when the fit flags the parameter that decides the cooldown
    (``FitResult.profile``): per value it was held at, the pilots' mean relative error under that refit
    and the best WSD cooldown to 0 (linear or ``1-sqrt``) it plans for this budget (``param``, ``value``, ``mean_rel_error``,
    ``spec``, ``decay``, ``final_loss``; ``predictable`` false, and ``final_loss`` NaN, where the refit's
    predicted loss is not finite or below its ``L0``, e.g. far outside the pilots' peak LR).
    """

    best: Candidate
    standard: list[Candidate]
    family: str
    steps: int
    peak_lr: float
    warmup: int
    difference: tuple[float, float, float] = (float("nan"),) * 3
    warnings: dict[str, str] = field(default_factory=dict)
    floor: float = 0.0
    convention: str | None = None
    level: float = 0.9
    fit: FitResult | None = field(default=None, repr=False, compare=False)
    profile: list[dict[str, Any]] = field(default_factory=list)

    @property
    def beats_standard(self) -> bool:
        """``best`` is predicted better than every standard schedule."""
        return bool(self.difference[0] < 0)

    @property
    def label(self) -> str:
        return "recommended" if self.beats_standard else f"best {self.family}"

    @property
    def recommended(self) -> Candidate:
        """The schedule with the lowest predicted final loss: ``best`` or a standard schedule."""
        return self.best if self.beats_standard else self.standard[0]

    def verdict(self) -> str:
        """One sentence: how ``best`` compares with the best standard schedule, band included."""
        d, lo, hi = self.difference
        std = self.standard[0].spec
        if self.fit is not None and not has_band(self.fit):
            return (f"the {self.family} plan is predicted {signed(d)} against the best standard schedule, {std}; the fit "
                    "has no band (made without a bootstrap), so whether that difference is real is not known")
        band = f"{signed(d)} ({int(100 * self.level)}% band {signed(lo)} .. {signed(hi)})"
        if hi < 0:
            return f"the {self.family} plan is predicted better than the best standard schedule, {std}, by {band}"
        if lo > 0:
            return f"the best standard schedule, {std}, is predicted better than the {self.family} plan: {band}"
        return f"the {self.family} plan and the best standard schedule, {std}, are within the band: {band}"

    def __repr__(self) -> str:
        return (f"Plan({self.family}, {self.steps:,} steps at peak LR {self.peak_lr:g}: {self.label} "
                f"{clip(self.best.spec, 60)!r}, final loss {self.best.final_loss:.4f}, "
                f"{signed(self.difference[0])} vs {clip(self.standard[0].spec, 40)!r})")

    def summary(self) -> str:
        """A few lines: the plan, its band, the comparison with the standard schedules, the warnings."""
        b = self.best
        lines = [f"{self.label} ({self.family}, {self.steps:,} steps, peak LR {self.peak_lr:g}): {b.spec}",
                 f"  predicted final loss {b.final_loss:.4f} ({int(100 * self.level)}% band {b.lower:.4f} .. "
                 f"{b.upper:.4f})", f"  {self.verdict()}"]
        lines += [f"  {c.spec}: {c.final_loss:.4f} ({c.lower:.4f} .. {c.upper:.4f})" for c in self.standard]
        lines += [f"  warning ({k}): {m}" for k, m in self.warnings.items()]
        if self.profile:
            lines.append("  what the pilots allow (the fit refitted with the parameter held; the best WSD to 0 of each):")
            lines += [f"    {r['param']} = {r['value']:g}: pilots' mean |err| {100 * r['mean_rel_error']:.4f}%, "
                      + (f"{r['spec']} ({r['final_loss']:.4f})" if r["predictable"] else "no prediction (below the refit's L0)")
                      for r in self.profile]
        return "\n".join(lines)

    def plot(self, ax=None, **kw):
        """The planned schedule beside the standard ones and their predicted losses; returns the axes."""
        return draw("plan", self, ax=ax, **kw)

    def to_dict(self) -> dict[str, Any]:
        d, lo, hi = self.difference
        return {"family": self.family, "steps": self.steps, "peak_lr": self.peak_lr, "warmup": self.warmup,
                "convention": self.convention, "floor": self.floor, "level": self.level, "label": self.label,
                "best": self.best.to_dict(), "recommended": self.recommended.spec,
                "difference_to_best_standard": {"schedule": self.standard[0].spec, "value": d, "lower": lo, "upper": hi},
                "standard": [c.to_dict() for c in self.standard],
                "warnings": [{"kind": k, "message": m} for k, m in self.warnings.items()],
                "profile": list(self.profile)}


def _score(fit: FitResult, spec: str, steps: int, peak_lr: float, convention: str | None = None) -> Candidate:
    spec = str(parse(spec))  # canonical: defaults dropped, as users write it
    lr = schedule_lr(spec, steps, peak_lr, convention)
    return Candidate(spec, final_loss(fit, lr), lr)


def _drop_collinear(pos: np.ndarray, val: np.ndarray, tol: float = 5e-5) -> list[tuple[float, float]]:
    """The points of a piecewise-linear curve without those that lie on the line through their
    neighbours (within ``tol``): the same curve, a spec a person can read."""
    keep = [0]
    for i in range(1, len(pos) - 1):
        a, b = keep[-1], i + 1
        on_line = val[a] + (val[b] - val[a]) * (pos[i] - pos[a]) / (pos[b] - pos[a])
        if abs(val[i] - on_line) > tol:
            keep.append(i)
    keep.append(len(pos) - 1)
    return [(float(pos[i]), float(val[i])) for i in keep]


def standard_specs(warmup: int) -> list[str]:
    """The standard schedules every plan is compared with."""
    w = f"warmup={warmup}"
    return [
        f"constant({w})",
        f"cosine(floor=0.1, {w})",
        f"cosine(floor=0.0, {w})",
        f"linear(end=0.0, {w})",
        f'wsd(decay=0.2, form="linear", floor=0.0, {w})',
        f'wsd(decay=0.2, form="1-sqrt", floor=0.0, {w})',
    ]


@dataclass(frozen=True)
class _Budget:
    """What every candidate of one plan shares: the fit, the budget, the peak LR, warmup and convention."""

    fit: FitResult
    steps: int
    peak_lr: float
    warmup: int
    convention: str | None

    def score(self, spec: str) -> Candidate:
        return _score(self.fit, spec, self.steps, self.peak_lr, self.convention)

    def lr(self, spec: str, peak: float | None = None) -> np.ndarray:
        return schedule_lr(spec, self.steps, self.peak_lr if peak is None else peak, self.convention)


#: the WSD cooldowns :attr:`Plan.profile` searches (to 0, the two usual forms: the question is the length)
PROFILE_FORMS = ("linear", "1-sqrt")


def _family_search(b: _Budget, family: str, floor: float = 0.0, forms: Sequence[str] = DECAY_FORMS,
                   to_zero: bool = False) -> Candidate:
    """The family's best schedule; a WSD floor is never below ``floor`` (a free plan's: its WSD candidate
    keeps the free form's promise not to go below the pilots' lowest LR); ``forms``: the WSD decay forms
    searched, ``to_zero``: only WSD cooldowns to ``floor`` itself."""
    from scipy.optimize import minimize_scalar  # lazy

    w = f"warmup={b.warmup}"
    if family == "wsd":
        max_decay = max(0.02, min(0.9, 1.0 - b.warmup / b.steps - 1e-3))
        best: Candidate | None = None
        for form in forms:
            floors = (0.0,) if to_zero else (0.01, 0.1) if form == "exp" else (0.0, 0.01, 0.1)
            for end in sorted({max(f, round(floor, 4)) for f in floors}):
                def spec_of(d: float, form: str = form, end: float = end) -> str:
                    return f'wsd(decay={round(float(d), 3)}, form="{form}", floor={end}, {w})'

                res = minimize_scalar(lambda d: b.score(spec_of(d)).final_loss,
                                      bounds=(0.02, max_decay), method="bounded", options={"xatol": 2e-3})
                cand = b.score(spec_of(res.x))
                if best is None or cand.final_loss < best.final_loss:
                    best = cand
        assert best is not None
        return best
    if family in SCALAR_FAMILIES:
        template, bounds, usual = SCALAR_FAMILIES[family]

        def spec_of(v: float) -> str:
            return template.format(x=round(float(v), 3), w=w)

        res = minimize_scalar(lambda v: b.score(spec_of(v)).final_loss,
                              bounds=bounds, method="bounded", options={"xatol": 1e-3})
        cands = [b.score(spec_of(v)) for v in (res.x, *usual)]
        return min(cands, key=lambda c: c.final_loss)
    raise LawError(f"unknown family {family!r}; valid: {', '.join(FAMILIES)}")


def _free_search(b: _Budget, knots: int, seeds: Sequence[np.ndarray], floor: float) -> Candidate:
    """Knot values ``floor + (1 - floor) * prod(s_1..s_j)`` with factors ``s`` in [lo, 1]: non-increasing
    and never below ``floor``; L-BFGS-B on the exact gradient of the predicted final loss."""
    from scipy.optimize import minimize  # lazy

    law, theta, steps, warmup, peak_lr = b.fit.law_obj, b.fit.theta, b.steps, b.warmup, b.peak_lr
    ramp = b.lr(f"constant(warmup={warmup})", 1.0)
    pos = np.round(np.linspace(warmup / steps, 1.0, knots), 4)
    t = np.arange(steps)
    # linear interpolation between knots, kept sparse (two weights per step): O(steps) memory
    x = pos * steps
    idx = np.clip(np.searchsorted(x, t, side="right") - 1, 0, knots - 2)
    frac = np.clip((t - x[idx]) / (x[idx + 1] - x[idx]), 0.0, 1.0)
    lo = 1e-3

    def values(s: np.ndarray) -> np.ndarray:
        return floor + (1.0 - floor) * np.cumprod(s)

    def objective(s: np.ndarray) -> tuple[float, np.ndarray]:
        v = values(s)
        lr = peak_lr * ramp * (v[idx] * (1.0 - frac) + v[idx + 1] * frac)
        loss, g_lr = law.final_loss_grad(lr, theta, warmup)
        g = g_lr * peak_lr * ramp
        g_v = np.bincount(idx, g * (1.0 - frac), minlength=knots) + np.bincount(idx + 1, g * frac, minlength=knots)
        # v_j = floor + (1 - floor) prod_{i<=j} s_i  ->  dL/ds_i = sum_{j>=i} g_v_j (v_j - floor) / s_i
        g_s = np.cumsum((g_v * (v - floor))[::-1])[::-1] / s
        return float(loss), g_s

    best_s, best_f = None, np.inf
    for seed in seeds:
        v0 = np.clip((np.interp(x, t, seed / peak_lr) - floor) / max(1.0 - floor, 1e-12), lo, 1.0)
        v0 = np.minimum.accumulate(v0)
        s0 = np.clip(np.r_[v0[0], v0[1:] / v0[:-1]], lo, 1.0)
        res = minimize(objective, s0, jac=True, method="L-BFGS-B", bounds=[(lo, 1.0)] * knots,
                       options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-10})
        if res.fun < best_f:
            best_s, best_f = res.x, res.fun
    v = np.maximum(np.round(np.minimum.accumulate(values(best_s)), 4), round(floor, 4))
    pts = ", ".join(f"({p!r}, {val!r})" for p, val in _drop_collinear(np.asarray(pos, float), v))
    return b.score(f"piecewise(points=[{pts}], warmup={warmup})")


def pilots_warmup(steps_to_peak: int, convention: str | None) -> int:
    """The ``warmup=`` that ramps up over ``steps_to_peak`` steps (steps 0..peak, the pilots' warmup as the fit
    measured it) under ``convention``: torch's, HF's, timm's and optax's ramps start at LR 0 and reach the
    peak one step later than lrkit's, so the same warmup is one step shorter in their spec."""
    for w in (steps_to_peak, steps_to_peak - 1):
        if w >= 0 and warmup_steps(schedule_lr(f"constant(warmup={w})", steps_to_peak + 2, 1.0, convention)) \
                == steps_to_peak:
            return w
    return steps_to_peak


def default_floor(fit: FitResult) -> float:
    """The free form's lowest multiplier: the pilots' lowest LR after warmup relative to their peak,
    kept within :data:`FLOOR_RANGE` (1-10% of the peak; 1% for a fit file without a domain)."""
    d = fit.validity
    low, high = FLOOR_RANGE
    return low if d is None else float(min(max(d.min_multiplier, low), high))


#: the multi-power family's parameters that shape a cooldown's drop (docs/methods.md, "Why the shipped
#: laws over-value short cooldowns")
COOLDOWN_SHAPE = ("C", "beta", "gamma")


def profile_rows(fit: FitResult, steps: int, peak_lr: float, warmup: int, convention: str | None) -> list[dict[str, Any]]:
    """:attr:`Plan.profile`: the best WSD cooldown to 0 (:data:`PROFILE_FORMS`) of this budget under each of
    the fit's profile refits."""
    rows = []
    for value, err, alt in refits(fit):
        with np.errstate(all="ignore"):
            c = _family_search(_Budget(alt, steps, peak_lr, warmup, convention), "wsd", forms=PROFILE_FORMS,
                               to_zero=True)
        # as for the plan itself: a loss that is not finite or lies below the refit's L0 is no prediction
        predictable = bool(np.isfinite(c.final_loss) and c.final_loss >= alt.params.get("L0", -np.inf))
        rows.append({"param": fit.profile["param"], "value": value, "mean_rel_error": err, "spec": c.spec,
                     "decay": float(getattr(parse(c.spec), "decay")),
                     "final_loss": c.final_loss if predictable else float("nan"), "predictable": predictable})
    return rows


def _profile_sentence(fit: FitResult, rows: Sequence[dict[str, Any]]) -> str:
    decays = [100 * r["decay"] for r in rows if r["predictable"]]
    if not decays:
        return f"; {describe(fit.profile)}, but none of these refits predicts this budget (below their L0)"
    return (f"; {describe(fit.profile)} and the best WSD decays {min(decays):.0f}-{max(decays):.0f}% of the run "
            "(what the pilots allow, below the plan)")


def undetermined_note(fit: FitResult, profile: Sequence[dict[str, Any]] = ()) -> str:
    """The plan's warning when the fit flags parameters the pilots did not determine (``fit.flags``), or
    when its file is older than the flags (``fit.flags_checked`` false); ``profile``: the plan's
    :attr:`Plan.profile` rows, summed up in one clause."""
    if not fit.flags_checked:
        return ("the fit file was written before lrkit recorded which parameters the pilots do not determine: "
                "the plan may rest on the prior for some of them; refit to know")
    names = ", ".join(fit.flags)
    line = f"the plan rests on {names}, which the pilots did not determine ({'; '.join(fit.flags.values())})"
    shape = [n for n in fit.flags if n in COOLDOWN_SHAPE]
    if shape:
        line += ("; the planned cooldown is the prior's choice, not the pilots'"
                 if any("prior" in fit.flags[n] for n in shape) else "; the pilots pin the planned cooldown's shape only loosely")
        if profile:
            line += _profile_sentence(fit, profile)
        line += ("; --law bound, which has no shape to leave open, ranked cooldowns better (rank correlation) than "
                 "the default on every sweep we measured (docs/methods.md)")
        if fit.law != "mpl-it":
            line += ("; the data that pins the shape is a pilot with a cooldown: branch a short one off the constant "
                     "pilot (its last 10% decayed to 0) and fit it with the other pilots, by --law bound or --law mpl-it")
    return line


def _loss_findings(fit: FitResult, candidates: Sequence[Candidate], steps: int, peak_lr: float) -> list:
    """A predicted final loss that is not a finite number or lies below the fit's irreducible loss
    ``L0``: the law is then used outside what the fitted runs can tell (e.g. a peak LR far above
    theirs), and its number is no prediction."""
    floor = fit.params.get("L0")
    for c in candidates:
        found = check_losses(np.array([c.final_loss]), np.array([steps - 1]), floor, clip(c.spec, 80))
        if found:
            return [replace(found[0], message=f"peak LR {peak_lr:g}, {steps:,} steps: {found[0].message}")]
    return []


def check_predictable(fit: FitResult, candidates: Sequence[Candidate], steps: int, peak_lr: float) -> None:
    """Refuse (:class:`~lrkit.laws.domain.ExtrapolationError`) a candidate whose predicted final loss
    is not finite or lies below the fitted ``L0``."""
    settle(_loss_findings(fit, candidates, steps, peak_lr))


def _check_args(fit: FitResult, family: str, steps: Any, peak_lr: float, knots: int) -> None:
    if family not in FAMILIES:
        raise LawError(f"unknown family {family!r}; valid: {', '.join(FAMILIES)}")
    if not isinstance(steps, (int, np.integer)) or steps < 10:
        raise LawError(f"steps must be an integer >= 10, got {steps!r}")
    if steps > MAX_STEPS:
        raise LawError(f"steps={steps:,} is more than plan handles ({MAX_STEPS:,}): it evaluates the law at every step "
                       "hundreds of times")
    if not (peak_lr > 0 and np.isfinite(peak_lr)):
        raise LawError(f"peak LR must be a positive finite number, got {peak_lr!r}")
    if knots < 3:
        raise LawError(f"knots must be >= 3, got {knots}")


def plan(
    fit: FitResult,
    steps: int,
    peak_lr: float,
    family: str = "free",
    warmup: int | None = None,
    knots: int = 32,
    *,
    extrapolate: bool = False,
    allow_zero: bool = False,
    convention: str | None = None,
) -> Plan:
    """The schedule with the lowest predicted final loss after ``steps`` steps at peak LR ``peak_lr``.

    ``family``: ``wsd``, ``cosine``, ``linear``, ``rex``, ``uba`` or ``free`` (non-increasing
    piecewise-linear after warmup, never below :func:`default_floor` unless ``allow_zero``).
    ``warmup``: steps of linear warmup (default: the warmup of the fitted runs, if it fits).
    ``convention``: the one every candidate is evaluated with (default: the pilots', from the fit's
    domain, else lrkit's).  The result's ``standard`` list holds the predicted final losses of
    standard schedules (best first), each with its band; ``difference`` compares the plan with the
    best of them.  The plan is checked against the fit's domain of validity (one
    :class:`~lrkit.laws.domain.ExtrapolationWarning` per kind outside it; an
    :class:`~lrkit.laws.domain.ExtrapolationError` far outside it, or for a predicted final loss that
    is not finite or below the fitted ``L0``, unless ``extrapolate=True``).
    """
    _check_args(fit, family, steps, peak_lr, knots)
    steps = int(steps)
    domain = fit.validity
    if convention is None and domain is not None:
        convention = domain.convention
    dropped = warmup is None and pilots_warmup(fit.warmup, convention) >= steps // 2 > 0
    if warmup is None:
        warmup = 0 if dropped else pilots_warmup(fit.warmup, convention)
    if not 0 <= warmup < steps - 2:
        raise LawError(f"warmup must be in 0..{steps - 3} steps, got {warmup}")
    b = _Budget(fit, steps, float(peak_lr), int(warmup), convention)
    floor = 0.0 if allow_zero else default_floor(fit)
    with np.errstate(all="ignore"):  # an overflow ends as a refused non-finite loss, not a warning
        standard = sorted((b.score(s) for s in standard_specs(warmup)), key=lambda c: c.final_loss)
        found = check_schedule(domain, peak_lr=peak_lr, horizon=steps, warmup=warmup, convention=convention)
        if dropped:  # say why the plan has no warmup: the user asked for none
            found = [replace(f, message=f"{f.message}; planned without warmup, the pilots' being half or more of the "
                                        f"{steps:,} steps: give warmup= (CLI: --warmup) for one")
                     if f.kind == "warmup" and not f.far else f for f in found]
        warned = settle(_loss_findings(fit, standard, steps, peak_lr) + found, extrapolate)
        if family == "free":
            wsd = _family_search(b, "wsd", floor)
            seeds = [wsd.lr, standard[0].lr, b.lr(f"linear(end=0.0, warmup={warmup})")]
            best = _free_search(b, knots, seeds, floor)
            best = min([best, wsd], key=lambda c: c.final_loss)
        else:
            best = _family_search(b, family)
        if "loss" not in warned:
            warned = {**settle(_loss_findings(fit, [best], steps, peak_lr), extrapolate), **warned}
        diff = difference(best.prediction(fit), standard[0].prediction(fit))
    rows = profile_rows(fit, steps, float(peak_lr), int(warmup), convention)
    if fit.flags or not fit.flags_checked:
        warned["undetermined"] = undetermined_note(fit, rows)
    best, standard = best.with_band(fit), [c.with_band(fit) for c in standard]
    return Plan(best, standard, family, steps, float(peak_lr), int(warmup), diff, warned, floor, convention,
                fit.band_level, fit, rows)
