"""A run logged at millions of steps: the fit uses an evenly spread subset of its losses and says so
(issue 10: a 6-million-row log ran for hours), never a silent drop."""

from __future__ import annotations

import numpy as np

from lrkit.laws import base, fit
from lrkit.laws.base import Curve, thinned


def _curve(n: int, name: str = "long") -> Curve:
    lr = np.full(n, 1e-3)
    steps = np.arange(n)
    loss = 3.0 + 2.0 * (1.0 + steps * 1e-3 * 0.05) ** -0.5
    return Curve(name, lr, steps, loss)


def test_a_run_with_more_points_than_the_cap_is_thinned_evenly_with_a_note():
    c = _curve(20_001)
    out, notes = thinned([c, _curve(300, "short")], max_points=1000)
    assert out[0].steps.size == 1000 and out[0].steps[0] == 0 and out[0].steps[-1] == 20_000
    assert np.all(np.diff(out[0].steps) > 0)
    assert out[1] is not None and out[1].steps.size == 300  # under the cap: untouched
    assert notes == ["run 'long': fitted on 1,000 of its 20,001 logged losses, evenly spread (a fit uses at most "
                     "1,000 per run)"]


def test_fit_thins_and_reports(monkeypatch):
    monkeypatch.setattr(base, "MAX_FIT_POINTS", 60)
    monkeypatch.setattr(base.thinned, "__defaults__", (60,))
    res = fit([_curve(400)], law="lra", n_boot=0)
    assert any("fitted on 60 of its 399 logged losses" in n for n in res.notes), res.notes  # step 0 left out first
    assert res.metrics["long"]["points"] == 60
