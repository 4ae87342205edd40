"""Invariants of the refined schedules and the plateau family (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit
from lrkit.adaptive.plateau import Plateau
from lrkit.adaptive.refine import refine

norms = st.lists(st.floats(0.01, 100.0, allow_nan=False), min_size=2, max_size=300)


@settings(max_examples=40, deadline=None)
@given(norms, st.integers(1, 3000), st.sampled_from(["sgd", "adam"]), st.sampled_from([0, 0.05]))
def test_refined_schedule_is_a_bounded_spec_within_tolerance(g, steps, optimizer, warmup):
    if warmup and steps < 40:
        warmup = 0
    r = refine(g, steps, optimizer, warmup=warmup)
    y = r.schedule.sample(steps)
    assert np.all(np.isfinite(y)) and np.all(y >= 0) and y.max() <= 1.0 + 1e-12
    assert np.max(np.abs(y - r.values)) <= 0.005 * 1.5 ** 12  # the tolerance, loosened at most to fit 64 knots
    assert len(r.schedule.points) <= 64
    assert lrkit.parse(r.spec) == r.schedule


@settings(max_examples=60, deadline=None)
@given(st.floats(0.01, 0.99), st.lists(st.integers(0, 500), max_size=8), st.floats(0.0, 0.5))
def test_plateau_is_non_increasing_bounded_and_round_trips(factor, reductions, floor):
    p = Plateau(factor=factor, reductions=tuple(sorted(reductions)), min=floor)
    y = p.sample(600)
    assert np.all(np.diff(y) <= 0) and y[0] <= 1.0 and np.all(y >= floor)
    assert lrkit.parse(str(p)) == p and lrkit.parse(p.to_dict()) == p
    assert all(p(t) == y[t] for t in (0, 1, 250, 599))
