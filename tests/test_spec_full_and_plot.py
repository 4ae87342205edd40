"""The full spec a person reads (defaults spelled out) and ``Schedule.plot`` for notebooks (issue 15)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import lrkit
from lrkit.spec import format_spec

SPECS = ["wsd(warmup=0.05, decay=0.2)", "cosine()", "rex(beta=0.5)", "cosine(warmup=\"untuned\")",
         "sequence(linear(end=0.1), cosine(warmup=10), boundaries=[100])", "product(warmup(period=100), cosine())",
         "clamp(exponential(gamma=0.99), floor=0.1)", "piecewise(points=[(0, 1.0), (1.0, 0.0)])",
         "plateau(patience=3)", "infinite(warmup=0.01, cooldown=0.1, constant_lr=0.1, anneal=0.1)"]


def test_full_spec_says_which_decay_form_is_drawn():
    s = lrkit.parse("wsd(warmup=0.05, decay=0.2)")
    assert str(s) == "wsd(warmup=0.05)"  # the short one, for machines, unchanged
    full = s.spec(full=True)
    assert full == format_spec(s, full=True)
    assert "decay=0.2" in full and 'form="1-sqrt"' in full and "floor=0.0" in full and "warmup=0.05" in full
    assert "steps=" not in full and "half_life" not in full and "beta2" not in full  # unset or without effect


@pytest.mark.parametrize("text", SPECS)
def test_full_spec_parses_back_to_an_equal_schedule(text):
    s = lrkit.parse(text)
    full = s.spec(full=True)
    assert lrkit.parse(full) == s
    assert len(full) >= len(str(s)) and s.spec() == str(s)


def test_full_spec_reaches_nested_schedules_and_leaves_out_options_without_effect():
    full = lrkit.parse("sequence(linear(end=0.1), cosine(warmup=10), boundaries=[100])").spec(full=True)
    assert "linear(end=0.1, warmup=0)" in full  # no warmup: its form and start say nothing
    assert 'cosine(floor=0.0, exponent=1.0, warmup=10, warmup_form="linear", warmup_init=0.0)' in full
    assert "beta2=0.999" in lrkit.parse('cosine(warmup="untuned")').spec(full=True)  # there it sets the length
    assert "beta2" not in lrkit.parse("warmup(period=100)").spec(full=True)
    assert "beta2=0.999" in lrkit.parse('warmup(form="untuned")').spec(full=True)


@pytest.fixture()
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_plot_returns_the_axes_with_the_schedule_drawn(plt):
    s = lrkit.parse("wsd(warmup=0.05, decay=0.2)")
    ax = s.plot(1000, lr=3e-4)
    (line,) = [ln for ln in ax.lines if ln.get_label() == s.spec(full=True)]
    np.testing.assert_allclose(line.get_ydata(), s.sample(1000) * 3e-4, rtol=0, atol=0)
    assert list(line.get_xdata()) == list(range(1000))
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "learning rate"
    assert {t.get_text() for t in ax.texts} >= {"stable", "decay (1-sqrt)"}  # phases named on a new axis


def test_plot_on_a_given_axis_adds_a_line_and_keeps_its_phases_off(plt):
    fig, ax = plt.subplots()
    out = lrkit.parse("cosine()").plot(100, ax=ax, convention="torch", label="cos", color="red")
    lrkit.parse("linear()").plot(100, ax=ax)
    assert out is ax and [ln.get_label() for ln in ax.lines] == ["cos", "linear(end=0.0, warmup=0)"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), lrkit.parse("cosine()").sample(100, "torch"))
    assert ax.lines[0].get_color() == "red" and not ax.texts and ax.get_ylabel() == "LR multiplier (× base LR)"


def test_plot_takes_the_specs_own_steps_and_says_when_there_are_none(plt):
    ax = lrkit.parse("cosine(steps=50)").plot()
    assert len(ax.lines[0].get_ydata()) == 50
    with pytest.raises(lrkit.SpecError, match="plot needs the number of steps"):
        lrkit.parse("cosine()").plot()
    with pytest.raises(lrkit.SpecError, match="lr=-1"):
        lrkit.parse("cosine()").plot(10, lr=-1)


def test_import_lrkit_still_needs_only_numpy():
    code = "import sys, lrkit; lrkit.parse('cosine()').spec(full=True); print('matplotlib' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False", r.stderr
