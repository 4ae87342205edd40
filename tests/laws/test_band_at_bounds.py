"""The band's bootstrap respects the fit's bounds the way a linearisation must: a parameter on a bound is
held there, the others are not clipped (clipping L0 near 0 pushed the demo's band to -1% .. +35%)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lrkit.laws import fit, predict
from lrkit.laws.base import Curve
from lrkit.laws.identify import at_bound

T = 1000


def pilots(offset: float) -> list[Curve]:
    """A constant and a cosine pilot of ``3 * S1^-0.25 - offset`` with 0.3% noise (``offset > 0`` puts
    the asymptote below 0, so the fit's ``L0`` ends on its lower bound 0)."""
    rng = np.random.default_rng(0)
    warm = np.minimum(1.0, (np.arange(T) + 1) / 20)
    lrs = {"constant": 1e-3 * warm, "cosine": 1e-3 * warm * 0.5 * (1 + np.cos(np.pi * np.arange(T) / T))}
    steps = np.arange(50, T, 10)
    out = []
    for name, lr in lrs.items():
        loss = (3.0 * np.cumsum(lr)[steps] ** -0.25 - offset) * np.exp(rng.normal(0, 0.003, steps.size))
        out.append(Curve(name=name, steps=steps, loss=loss, lr=lr))
    return out


def fitted(offset: float):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(pilots(offset), law="lra", seed=0)


@pytest.mark.parametrize("offset", [0.0, 0.3])
def test_band_is_not_pushed_to_one_side_by_a_bound(offset):
    f = fitted(offset)
    p = predict(f, pilots(0)[0].lr, np.array([T - 1]))
    up, down = float(p.upper[0] - p.loss[0]), float(p.loss[0] - p.lower[0])
    assert 0 < up < 1.5 * down and 0 < down < 1.5 * up, (down, up)


def test_a_parameter_on_its_bound_is_held_in_every_bootstrap_sample():
    f = fitted(0.3)
    assert "L0" in f.at_bounds
    s = np.asarray(f.param_samples)
    assert np.all(s[:, 0] == f.params["L0"])
    assert np.ptp(s[:, 1]) > 0  # the free parameters still vary


def test_at_bound_tolerances():
    lo, hi = np.array([0.0, 1e-3, 0.0]), np.array([3.0, 3.0, 1e9])
    assert at_bound([1e-10, 1e-3 * (1 + 1e-7), 0.5], lo, hi).tolist() == [True, True, False]
    assert at_bound([1e-8, 2.0, 3e-10], lo, hi).tolist() == [False, False, True]
