"""Candidates (h), (j) and (k) of docs/methods.md (``benchmarks/laws_bound_prior.py``): the probes, (h)'s
matching step and (j)'s and (k)'s choices among the profile's refits."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from laws_bound_prior import (FRACTIONS, OWN_ROW, best_decay, fit_mp_bound, fit_mp_bound_best, fit_mp_bound_row,  # noqa: E402
                              gains, matched_centres, probes)
from laws_sweep import SWEEP_CSV, groups, load_sweep  # noqa: E402

from lrkit.laws import fit, predict  # noqa: E402
from lrkit.laws.profile import refits  # noqa: E402


@pytest.fixture(scope="module")
def pilots():
    return groups(load_sweep(SWEEP_CSV))[0]["pilots"]  # peak LR 3e-3, seed 0: constant + cosine, 300 steps


def test_probes_are_wsd_runs_of_the_pilots_length_with_their_warmup(pilots):
    const, probe = probes(pilots)
    lr = pilots[0].lr
    assert const.size == lr.size == 300 and len(probe) == 2 * len(FRACTIONS)
    np.testing.assert_array_equal(const[:30], lr[:30])  # the pilots' warmup
    assert np.all(const[30:] == lr.max())
    for s, (f, form) in zip(probe, [(f, form) for f in FRACTIONS for form in ("linear", "1-sqrt")]):
        d = int(round(f * 300))
        np.testing.assert_array_equal(s[:300 - d], const[:300 - d])  # the stable phase, untouched
        assert s[-1] == 0.0 and np.all(np.diff(s[300 - d:]) < 0)  # decays to 0 at the last step
        mid = s[300 - d + d // 2 - 1] / lr.max()
        assert mid == pytest.approx(0.5 if form == "linear" else 1 - np.sqrt(0.5), abs=0.02)


@pytest.mark.filterwarnings("ignore")  # the fits' undetermined-parameter warnings
def test_matched_centres_reproduce_the_bound_s_gains_better_than_the_default_centres(pilots):
    mp, bd = fit(pilots, "multipower"), fit(pilots, "bound")
    centres = matched_centres(pilots, mp, bd)
    const, probe = probes(pilots)
    res, got = fit_mp_bound(pilots)
    assert got == centres
    target = gains(bd, const, probe)
    assert (np.abs(gains(res, const, probe) - target).mean()
            < 0.5 * np.abs(gains(mp, const, probe) - target).mean())


@pytest.mark.filterwarnings("ignore")
def test_mp_bound_row_takes_the_refit_nearest_the_bound_and_moves_the_fit_s_band_onto_it(pilots):
    """(j): of the fit's profile refits, the one whose probe gains are nearest the bound's; its band is the
    fit's bootstrap deviations around the refit's parameters, with the fit's model error."""
    mp, bd = fit(pilots, "multipower"), fit(pilots, "bound")
    const, probe = probes(pilots)
    target = gains(bd, const, probe)
    rows = refits(mp)
    miss = [np.sum((gains(alt, const, probe) - target) ** 2) for _, _, alt in rows]
    value, _, alt = rows[int(np.argmin(miss))]
    res, info = fit_mp_bound_row(pilots)
    assert abs(value - mp.params["gamma"]) > OWN_ROW  # this group leaves the fit's own row (docs: gamma 0.75)
    assert info == {"gamma": value, "row": 1.0} and res.params == alt.params
    np.testing.assert_allclose(np.asarray(res.param_samples) - res.theta, np.asarray(mp.param_samples) - mp.theta,
                               atol=1e-9)
    assert res.model_error == mp.model_error
    lr = probe[2]
    p, p0 = predict(res, lr, np.arange(100, 300, 10), extrapolate=True), predict(alt, lr, np.arange(100, 300, 10))
    np.testing.assert_allclose(p.loss, p0.loss)
    assert np.all(p.lower < p.loss) and np.all(p.upper > p.loss)


@pytest.mark.filterwarnings("ignore")
def test_mp_bound_row_is_the_fit_itself_without_a_profile(pilots):
    res, info = fit_mp_bound_row(pilots, fixed={"gamma": 0.5})
    assert info == {"gamma": 0.5, "row": 0.0} and res.profile == {}


@pytest.mark.filterwarnings("ignore")
def test_mp_bound_best_takes_the_refit_whose_best_cooldown_is_nearest_the_bound_s(pilots):
    """(k): the profile row whose best probe decay is nearest the bound's (then the nearest the fit's own
    gamma); in this group (docs: gamma 0.25) it leaves the fit's own row, and its band is the fit's, moved."""
    mp, bd = fit(pilots, "multipower"), fit(pilots, "bound")
    _, probe = probes(pilots)
    assert best_decay(bd, probe) in FRACTIONS
    finals = [predict(bd, s, np.array([s.size - 1])).loss[-1] for s in probe]
    assert best_decay(bd, probe) == FRACTIONS[int(np.argmin(finals)) // 2]  # probes: (f, linear), (f, 1-sqrt), ...
    target, own = best_decay(bd, probe), mp.params["gamma"]
    rows = refits(mp)
    miss = [abs(best_decay(alt, probe) - target) for _, _, alt in rows]
    res, info = fit_mp_bound_best(pilots)
    assert info["row"] == 1.0 and abs(info["gamma"] - own) > OWN_ROW
    chosen = [v for v, _, _ in rows].index(info["gamma"])
    assert miss[chosen] == pytest.approx(min(miss))
    assert all(abs(rows[i][0] - own) >= abs(info["gamma"] - own) for i in range(len(rows)) if miss[i] == pytest.approx(min(miss)))
    assert res.params == rows[chosen][2].params and res.model_error == mp.model_error
    np.testing.assert_allclose(np.asarray(res.param_samples) - res.theta, np.asarray(mp.param_samples) - mp.theta,
                               atol=1e-9)
    own_row, own_info = fit_mp_bound_best(pilots, fixed={"gamma": 0.5})
    assert own_info == {"gamma": 0.5, "row": 0.0} and own_row.profile == {}
