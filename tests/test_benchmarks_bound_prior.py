"""Candidate (h) of docs/methods.md (``benchmarks/laws_bound_prior.py``): its probes and its matching step."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from laws_bound_prior import FRACTIONS, fit_mp_bound, gains, matched_centres, probes  # noqa: E402
from laws_sweep import SWEEP_CSV, groups, load_sweep  # noqa: E402

from lrkit.laws import fit  # noqa: E402


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
