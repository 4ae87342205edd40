"""Issue 13: notebook use -- short reprs, summary() and .plot() (matplotlib axes) on fits, predictions and
plans; the figure code lives in report/, reached through lrkit.laws.figures' registry (no upward import)."""

from __future__ import annotations

import pytest

import lrkit
from lrkit.laws import LawError, plan, predict
from lrkit.laws import figures as registry

N, PEAK = 2000, 1e-3


@pytest.fixture(scope="module")
def objects(lra_fit):
    lr = lrkit.parse("wsd(decay=0.3, warmup=100)").sample(N) * PEAK
    return lra_fit, predict(lra_fit, lr), plan(lra_fit, N, PEAK, family="wsd")


def test_reprs_are_one_short_line(objects):
    for obj in objects:
        text = repr(obj)
        assert "\n" not in text and len(text) < 250, text
    fit, pred, pl = objects
    assert repr(fit).startswith("FitResult(lra, loss of 2 runs: L0=") and "param_samples" not in repr(fit)
    assert repr(pred).startswith(f"Prediction({N} steps to 1,999: final loss ")
    assert repr(pl).startswith("Plan(wsd, 2,000 steps at peak LR 0.001: recommended 'wsd(")


def test_summaries(objects):
    fit, pred, pl = objects
    s = fit.summary()
    assert "L0 =" in s and "cosine: " in s and "R² " in s and "domain: peak LR 0.001, up to 2,000 steps, warmup 100" in s
    s = pred.summary()
    assert s.startswith("predicted final loss at step 1,999: ") and "applies from step 99" in s
    s = pl.summary()
    assert s.startswith("recommended (wsd, 2,000 steps, peak LR 0.001): wsd(") and "best standard schedule" in s


def test_plot_returns_the_axes(objects):
    from matplotlib.axes import Axes

    fit, pred, pl = objects
    ax = fit.plot()
    assert isinstance(ax, Axes) and len(ax.get_lines()) == 4  # two pilots: dots and fitted line each
    assert isinstance(pred.plot(), Axes)
    axes = pl.plot()
    assert len(axes) == 2 and all(isinstance(a, Axes) for a in axes)
    import matplotlib.pyplot as plt

    _, own = plt.subplots()
    assert pl.plot(ax=own) is own and fit.plot(ax=own) is own


def test_plot_without_a_registered_figure_says_what_to_import(objects, monkeypatch):
    monkeypatch.setattr(registry, "DRAWERS", {})
    with pytest.raises(LawError, match="import lrkit.report.law_figures"):
        objects[0].plot()


def test_the_registry_is_filled_by_the_package_face():
    assert set(registry.DRAWERS) == {"fit", "prediction", "plan"}
    assert all(f.__module__ == "lrkit.report.law_figures" for f in registry.DRAWERS.values())


def test_import_lrkit_stays_light():
    import subprocess
    import sys

    code = "import sys, lrkit; print(sorted(m for m in ('matplotlib', 'scipy', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
