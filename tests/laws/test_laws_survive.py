"""Fits that survive real logs (issue 12): the stated rule for the points a law cannot describe, the
parameters the runs do not determine, and a band calibrated by forward-chaining quantiles."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

import lrkit
from lrkit.laws import Curve, FitResult, LawError, UndeterminedWarning, fit, get_law, predict
from lrkit.laws.base import usable_points, warmup_peak
from lrkit.laws.identify import undetermined
from lrkit.laws.selection import CAL_FRACTIONS, forward_split, model_error

N, W, PEAK = 3000, 200, 3e-4
STEPS = np.arange(W, N, 25)
MPL = np.array([2.5, 0.6, 0.45, 500.0, 1.5, 0.55, 0.6])
PILOTS = [f"cosine(floor=0.1, warmup={W})", f"constant(warmup={W})"]


def lrs(spec: str, n: int = N) -> np.ndarray:
    return lrkit.parse(spec).sample(n) * PEAK


def curve(spec: str, steps=STEPS, law="multipower", theta=MPL, noise=0.0, seed=0, n=N) -> Curve:
    lr = lrs(spec, n)
    y = get_law(law).predict(lr, steps, theta)[0]
    return Curve(spec, lr, np.asarray(steps), y * (1 + noise * np.random.default_rng(seed).standard_normal(y.size)))


# ------------------------------------------------------------------------------------ the stated rule
def test_warmup_peak_is_the_first_step_at_the_peak_of_the_initial_rise():
    assert warmup_peak(lrs(f"constant(warmup={W})")) == W - 1
    assert warmup_peak(lrs("cosine()")) == 0
    rewarm = np.r_[np.linspace(0.1, 1, 10), np.full(5, 0.5), np.full(5, 2.0)]  # a later, higher peak
    assert warmup_peak(rewarm) == 9


def test_losses_before_the_end_of_the_warmup_and_at_initialisation_are_left_out_with_a_note():
    c = curve(PILOTS[0])
    warm = Curve(c.name, c.lr, np.r_[0, 50, 150, c.steps], np.r_[10.9, 6.0, 4.0, c.loss])
    res = fit([warm, curve(PILOTS[1])], "lra", n_boot=0, holdout=0)
    assert res.notes == [f"run {c.name!r}: left out 3 losses logged before step {W - 1}, the end of the warmup "
                         "(the first step at the peak LR; the laws describe training after warmup)"]
    assert res.metrics[c.name]["points"] == c.steps.size
    flat = Curve("flat", np.full(N, PEAK), np.r_[0, STEPS], np.r_[10.9, c.loss])  # no warmup: step 0 is the init
    (kept,), notes = usable_points([flat])
    assert notes == ["run 'flat': left out the loss logged at step 0, at initialisation (before any update)"]
    assert kept.steps[0] == STEPS[0]
    with pytest.raises(LawError, match=f"every loss is logged before step {W - 1}, the end of the warmup"):
        fit([Curve("early", c.lr, np.array([10, 50, 100]), np.array([5.0, 4.0, 3.5]))], "lra")


def test_the_step_zero_loss_no_longer_spoils_a_fit():
    """The issue's case: a validation loss of 10.9 logged at step 0 beside ~3 later."""
    clean = [curve(s, noise=1e-3, seed=i) for i, s in enumerate(PILOTS)]
    dirty = [Curve(c.name, c.lr, np.r_[0, c.steps], np.r_[10.9, c.loss]) for c in clean]
    a = fit(clean, "multipower", n_boot=0, holdout=0, select=False)
    b = fit(dirty, "multipower", n_boot=0, holdout=0, select=False)
    assert a.params == b.params and len(b.notes) == 2


# -------------------------------------------------------------------------------------- identifiability
def test_parameters_the_pilots_do_not_determine_are_flagged_warned_and_have_no_interval(tmp_path):
    pilots = [curve(s, noise=1e-3, seed=i) for i, s in enumerate(PILOTS)]
    with pytest.warns(UndeterminedWarning, match="not determined by these runs"):
        res = fit(pilots, "multipower", n_boot=30, select=False)
    assert {"C", "beta", "gamma"} <= set(res.flags)  # the prior's centres 1, 0.5, 0.5, not the truth
    assert "at the prior's centre 0.5" in res.flags["gamma"]
    assert res.interval("gamma") == "not determined"
    lo, hi = res.interval("L0")
    assert lo <= res.params["L0"] <= hi
    back = FitResult.from_json(res.to_json(tmp_path / "f.json"))
    assert back.flags == res.flags
    data = json.loads((tmp_path / "f.json").read_text())
    del data["flags"]  # a fit file written before the flags existed
    old = FitResult.from_json(json.dumps(data))
    assert old.flags == {} and old.interval("gamma") != "not determined"
    with pytest.raises(LawError, match="no parameter 'delta'"):
        res.interval("delta")


def test_a_determined_fit_has_no_flags_and_a_fixed_parameter_is_never_flagged():
    theta = np.array([2.5, 0.6, 0.45, 1.2])
    runs = [curve(s, law="lra", theta=theta, noise=1e-3, seed=i) for i, s in enumerate(PILOTS)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndeterminedWarning)
        res = fit(runs, "lra", n_boot=30)
    assert res.flags == {}
    at_zero = [curve(s, law="lra", theta=np.array([0.0, 3.0, 0.1, 1.2])) for s in PILOTS]
    res = fit(at_zero, "lra", n_boot=0, holdout=0)
    assert "at its lower bound 0" in res.flags.get("L0", "")
    held = fit(at_zero, "lra", n_boot=0, holdout=0, fixed={"L0": 0.0})
    assert "L0" not in held.flags and held.interval("L0") == "fixed"


def test_undetermined_rules():
    law = get_law("lra")
    lo, hi = law.bounds(3.0)
    theta = np.array([2.0, 1e4, 0.5, 0.2])  # A at its upper bound 1e4
    samples = np.tile(theta, (50, 1))
    samples[:, 3] = np.linspace(-0.5, 0.9, 50)  # C's interval is wider than C
    flags = undetermined(law, theta, samples, lo, hi, prior_on=False)
    assert set(flags) == {"A", "C"}
    assert "upper bound 10000" in flags["A"] and "bootstrap interval" in flags["C"]
    mpl = get_law("multipower")
    th = np.array([2.0, 0.5, 0.5, 300.0, 1.01, 0.7, 0.5])
    lo, hi = mpl.bounds(3.0)
    assert set(undetermined(mpl, th, np.empty((0, 7)), lo, hi, prior_on=True)) == {"C", "gamma"}
    assert undetermined(mpl, th, np.empty((0, 7)), lo, hi, prior_on=False) == {}


def test_cli_fit_prints_the_flags_and_marks_their_intervals(tmp_path):
    import click

    from lrkit.cli import laws as cli_laws

    paths = []
    for i, spec in enumerate(PILOTS):
        c = curve(spec, noise=1e-3, seed=i)
        at = dict(zip(c.steps.tolist(), c.loss.tolist()))
        rows = ["step,lr,loss"] + [f"{t},{float(c.lr[t])!r},{at.get(t, '')}" for t in range(N)]
        (tmp_path / f"r{i}.csv").write_text("\n".join(rows) + "\n")
        paths.append(str(tmp_path / f"r{i}.csv"))
    g = click.Group("lrkit")
    cli_laws.register(g)
    res = CliRunner().invoke(g, ["fit", *paths, "--boot", "20", "--out", str(tmp_path / "f.json")], terminal_width=250)
    assert res.exit_code == 0, res.output
    assert "lrkit: warning (undetermined): not determined by these runs" in res.stderr and "gamma=" in res.stderr
    assert len([x for x in res.stderr.splitlines() if "not determined" in x]) == 1  # one line, not wrapped
    row = next(line for line in res.output.splitlines() if line.startswith("│") and line.strip("│ ").startswith("gamma"))
    assert "not determined" in row


# --------------------------------------------------------------------------------------- calibrated band
def test_model_error_is_the_forward_chaining_quantile_of_the_pilots_own_futures():
    runs = [curve(s, noise=2e-3, seed=i) for i, s in enumerate(PILOTS)]
    law = get_law("multipower")
    me = model_error(runs, law, prior_weight=0.1, n_starts=3)
    assert me["quantile"] == 0.9 and me["horizon"] == STEPS[-1]
    e, h = [], []
    for f in CAL_FRACTIONS:
        heads, tails = forward_split(runs, f)
        sub = fit(heads, "multipower", n_boot=0, holdout=0, select=False)
        t_cut = max(x.steps.max() for x in heads)
        for c in tails:
            e.append(np.abs(law.predict(c.lr, c.steps, sub.theta)[0] - c.loss) / c.loss)
            h.append(np.log(c.steps / t_cut))
    e, h = np.concatenate(e), np.concatenate(h)
    assert me["points"] == e.size
    near = h <= np.median(h)
    assert me["a"] == pytest.approx(np.quantile(e[near], 0.9), rel=1e-6)
    far = np.quantile(e[~near], 0.9)
    slope = (far - me["a"]) / (h[~near].mean() - h[near].mean())
    assert me["b"] == pytest.approx(max(slope, far / h[~near].mean()), rel=1e-6)


def test_band_covers_about_its_level_of_unseen_schedules():
    runs = [curve(s, noise=2e-3, seed=i) for i, s in enumerate(PILOTS)]
    res = fit(runs, "multipower", n_boot=100)
    inside = []
    for i, spec in enumerate([f'wsd(decay=0.2, warmup={W})', f'wsd(decay=0.5, form="linear", warmup={W})',
                              f"cosine(warmup={W})"]):
        c = curve(spec, noise=2e-3, seed=10 + i)
        p = predict(res, c.lr, c.steps)
        inside.extend((c.loss >= p.lower) & (c.loss <= p.upper))
    assert 0.8 <= np.mean(inside) <= 0.99


def test_an_older_fit_files_mean_based_model_error_keeps_its_band():
    from scipy.stats import norm

    runs = [curve(s) for s in PILOTS]
    res = fit(runs, "multipower", n_boot=20, select=False)
    old = FitResult(**{**res.__dict__, "model_error": {"a": 1e-3, "b": 2e-3, "horizon": float(STEPS[-1]), "points": 10}})
    new = FitResult(**{**old.__dict__, "model_error": {**old.model_error, "quantile": 0.9}})
    lr = lrs(PILOTS[1], 2 * N)
    steps = np.array([N // 2, 2 * N - 1])
    po, pn = predict(old, lr, steps), predict(new, lr, steps)
    z = norm.ppf(0.95) * np.sqrt(np.pi / 2)
    m = (1e-3 + 2e-3 * np.maximum(np.log(steps / STEPS[-1]), 0)) * pn.loss
    assert np.all(po.upper - po.loss >= z * m * (1 - 1e-9)) and np.all(pn.upper - pn.loss >= m * (1 - 1e-9))
    assert np.all(po.upper - po.loss > pn.upper - pn.loss)
