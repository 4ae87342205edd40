"""Candidates (h), (j) and (k) of docs/methods.md, where the convex bound decides the multi-power shape
the pilots leave open (benchmark only). ``mp-bound`` (h): the multi-power law with its shape prior
centred where its loss drop reproduces the bound's cooldown gains on the pilots. ``mp-bound-row`` (j):
of the fit's profile refits (``gamma`` held on a grid, lrkit.laws.profile), the one whose gains are
nearest the bound's. ``mp-bound-best`` (k): the refit whose best probe cooldown is nearest the bound's.

The bound (Schaipp et al. 2025, arXiv 2501.18965) has no shape parameter: its gain from a cooldown
follows from the whole schedule.  The multi-power law (Luo et al. 2025, arXiv 2503.12811) draws the
curves better, but constant + cosine pilots leave its ``C, beta, gamma`` to the prior.  Here the
prior's centres come from the bound instead of being fixed (docs/methods.md, "Third application of
the rule", which defines every step below before any fit with it).
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import replace
from typing import Sequence

import numpy as np

from lrkit.laws import Curve, fit
from lrkit.laws.base import warmup_peak
from lrkit.laws.multipower import MultiPowerLaw
from lrkit.laws.predict import final_loss
from lrkit.laws.profile import refits
from lrkit.laws.result import get_law

#: the probes' decay fractions (linear and 1-sqrt to 0 each)
FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def _as_curves(pilots: Sequence) -> list[Curve]:
    return [p if isinstance(p, Curve) else Curve.from_run(p) for p in pilots]


def probes(pilots: Sequence) -> tuple[np.ndarray, list[np.ndarray]]:
    """The constant schedule and the 16 WSD probes at the longest pilot's length, with its warmup and peak."""
    longest = max(_as_curves(pilots), key=lambda c: c.lr.size)
    lr, T = longest.lr, longest.lr.size
    peak, w = float(lr.max()), warmup_peak(lr)
    const = np.full(T, peak)
    const[:w] = lr[:w]
    out = []
    for f, form in itertools.product(FRACTIONS, ("linear", "1-sqrt")):
        d = max(1, int(round(f * T)))
        u = np.arange(1, d + 1) / d  # 1/d .. 1: the LR reaches 0 at the last step
        m = 1.0 - u if form == "linear" else 1.0 - np.sqrt(u)
        s = const.copy()
        s[T - d:] = peak * m
        out.append(s)
    return const, out


def gains(result, const: np.ndarray, probe: Sequence[np.ndarray]) -> np.ndarray:
    """A fit's predicted final loss of each probe minus that of the constant schedule, relative to the latter."""
    ref = final_loss(result, const)
    return np.array([final_loss(result, s) - ref for s in probe]) / ref


def matched_centres(pilots: Sequence, mp_fit, bound_fit) -> dict[str, float]:
    """Steps 2-3 of candidate (h): ``C, beta, gamma`` at which the multi-power gains of the probes
    (``L0, A, alpha`` and the warmup treatment of ``mp_fit``; ``B`` solved linearly) best match the
    bound's, in relative terms."""
    from scipy.optimize import least_squares  # lazy

    const, probe = probes(pilots)
    ref = final_loss(bound_fit, const)
    gain_b = gains(bound_fit, const, probe)
    law = get_law("multipower", **mp_fit.law_options)
    A, alpha = mp_fit.params["A"], mp_fit.params["alpha"]  # L0 cancels in a gain
    step = np.array([const.size - 1])
    preps = [law.prepare(s, step) for s in [const] + probe]
    # gain = A (S1_p^-alpha - S1_c^-alpha) - B (LD_p - LD_c): the first part is fixed, B enters linearly
    power = np.array([A * q.s1[0] ** -alpha for q in preps])
    base = (power[1:] - power[0]) / ref
    lo, hi = law.bounds(1e9)

    def residual(x: np.ndarray) -> np.ndarray:
        """Multi-power minus bound gains for the shape ``exp(x)``, with the best ``B`` for it."""
        C, beta, gamma = np.exp(x)
        ld = np.array([q.ld(C, beta, gamma)[0] for q in preps])
        dld = (ld[1:] - ld[0]) / ref  # gain = base - B * dld
        B = float(np.clip(dld @ (base - gain_b) / max(dld @ dld, 1e-300), lo[3], hi[3]))
        return base - B * dld - gain_b

    lo_x, hi_x = np.log(lo[4:]), np.log(hi[4:])
    best = None
    for x0 in [(1.0, 0.5, 0.5)] + list(itertools.product((0.5, 2.0, 8.0), (0.4, 0.7), (0.4, 0.65))):
        r = least_squares(residual, np.log(x0), bounds=(lo_x, hi_x), x_scale=1.0)
        if best is None or r.cost < best.cost:
            best = r
    C, beta, gamma = np.exp(best.x)
    return {"C": float(C), "beta": float(beta), "gamma": float(gamma)}


@contextlib.contextmanager
def _prior(centres: dict[str, float]):
    """The multi-power prior centred at ``centres`` for every fit inside (selection folds included)."""
    old = MultiPowerLaw.prior
    MultiPowerLaw.prior = dict(centres)
    try:
        yield
    finally:
        MultiPowerLaw.prior = old


def fit_mp_bound(pilots: Sequence, **kw):
    """Candidate (h): ``(the multi-power fit with the bound-matched prior centres, those centres)``."""
    mp = fit(pilots, "multipower", **kw)
    bd = fit(pilots, "bound", **kw)
    centres = matched_centres(pilots, mp, bd)
    with _prior(centres):
        res = fit(pilots, "multipower", **kw)
    return res, centres


#: (j): a profile row within this of the fit's own ``gamma`` is the fit itself (the grid's half step)
OWN_ROW = 0.125


def _row_chosen_by_bound(pilots: Sequence, choose, **kw):
    """The multi-power fit, or the profile refit ``choose(bound_fit, rows, own_gamma, probes)`` picks
    (an index into ``rows``), with the fit's band moved onto it; ``(result, info)``."""
    mp = fit(pilots, "multipower", **kw)
    rows = refits(mp)
    if not rows:
        return mp, {"gamma": mp.params["gamma"], "row": 0.0}
    value, _, alt = rows[choose(fit(pilots, "bound", **kw), rows, mp.params["gamma"], probes(pilots))]
    if abs(value - mp.params["gamma"]) <= OWN_ROW:
        return mp, {"gamma": mp.params["gamma"], "row": 0.0}
    shift = alt.theta - mp.theta  # the fit's bootstrap deviations, moved onto the refit
    moved = replace(alt, param_samples=[list(np.asarray(p) + shift) for p in mp.param_samples],
                    model_error=dict(mp.model_error))
    return moved, {"gamma": value, "row": 1.0}


def _nearest_gains(bd, rows, own, const_probe) -> int:
    const, probe = const_probe
    target = gains(bd, const, probe)
    return int(np.argmin([float(np.sum((gains(alt, const, probe) - target) ** 2)) for _, _, alt in rows]))


def fit_mp_bound_row(pilots: Sequence, **kw):
    """Candidate (j): ``(the multi-power fit, or the profile refit whose probe gains are nearest the
    bound's, with the fit's band moved onto it; info)``."""
    return _row_chosen_by_bound(pilots, _nearest_gains, **kw)


def best_decay(result, probe: Sequence[np.ndarray]) -> float:
    """The decay fraction of the probe ``result`` predicts lowest at its last step (:func:`probes`' order)."""
    finals = [final_loss(result, s) for s in probe]
    return list(itertools.product(FRACTIONS, ("linear", "1-sqrt")))[int(np.argmin(finals))][0]


def _nearest_best_decay(bd, rows, own, const_probe) -> int:
    probe = const_probe[1]
    target = best_decay(bd, probe)
    key = [(round(abs(best_decay(alt, probe) - target), 9), abs(value - own), err) for value, err, alt in rows]
    return min(range(len(rows)), key=key.__getitem__)


def fit_mp_bound_best(pilots: Sequence, **kw):
    """Candidate (k): ``(the multi-power fit, or the profile refit whose best probe cooldown is nearest
    the bound's -- of those, the row nearest the fit's own gamma, then the lower pilot error -- with the
    fit's band moved onto it; info)``."""
    return _row_chosen_by_bound(pilots, _nearest_best_decay, **kw)
