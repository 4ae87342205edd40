"""Fitting recovers known parameters; prediction, bands, JSON round-trip, planning."""

from __future__ import annotations

import numpy as np
import pytest

import lrkit
from lrkit.laws import Curve, FitResult, LawError, fit, get_law, plan, predict
from lrkit.laws.predict import final_loss
from lrkit.laws.plan import undetermined_note
from lrkit.runs import Run

N, W, PEAK = 3000, 200, 3e-4
STEPS = np.arange(W, N, 25)


def lrs(spec: str) -> np.ndarray:
    return lrkit.parse(spec).sample(N) * PEAK


def synthetic(law_name: str, theta: np.ndarray, specs: list[str]) -> list[Curve]:
    law = get_law(law_name)
    return [Curve(s, lrs(s), STEPS, law.predict(lrs(s), STEPS, theta)[0]) for s in specs]


SPECS = [f"cosine(floor=0.1, warmup={W})", f"constant(warmup={W})", f'wsd(decay=0.3, form="linear", floor=0.05, warmup={W})']


def test_multipower_recovers_known_parameters():
    theta = np.array([2.5, 0.6, 0.45, 500.0, 1.5, 0.55, 0.6])
    res = fit(synthetic("multipower", theta, SPECS), "multipower", prior_weight=0.0, n_boot=20)
    got = res.theta
    np.testing.assert_allclose(got[:3], theta[:3], rtol=0.03)
    for c in synthetic("multipower", theta, [f'wsd(decay=0.1, form="1-sqrt", warmup={W})']):
        p = predict(res, c.lr, c.steps)
        assert np.max(np.abs(p.loss - c.loss) / c.loss) < 2e-4
    assert max(m["max_rel_error"] for m in res.metrics.values()) < 1e-4


def test_lra_recovers_known_parameters():
    theta = np.array([2.5, 0.6, 0.45, 1.2])
    res = fit(synthetic("lra", theta, SPECS[:2]), "lra", n_boot=20)
    np.testing.assert_allclose(res.theta, theta, rtol=1e-3)


@pytest.fixture(scope="module")
def fitted() -> FitResult:
    theta = np.array([2.5, 0.6, 0.45, 500.0, 1.0, 0.5, 0.5])
    rng = np.random.default_rng(0)
    curves = [Curve(c.name, c.lr, c.steps, c.loss * (1 + 1e-3 * rng.standard_normal(c.loss.size)))
              for c in synthetic("multipower", theta, SPECS[:2])]
    return fit(curves, "multipower", n_boot=50)


def test_band_contains_prediction_and_json_round_trip(fitted, tmp_path):
    lr = lrs(SPECS[2])
    p = predict(fitted, lr, STEPS)
    assert np.all(p.lower <= p.loss) and np.all(p.loss <= p.upper) and np.any(p.upper > p.lower)
    path = tmp_path / "fit.json"
    fitted.to_json(path)
    back = FitResult.from_json(path)
    assert back.runs == fitted.runs and back.params == fitted.params and back.law == "multipower"
    np.testing.assert_allclose(predict(back, lr, STEPS).upper, p.upper)
    with pytest.raises(LawError, match="not a JSON fit file"):
        FitResult.from_json("{nope")
    (tmp_path / "x.json").write_text('{"a": 1}')
    with pytest.raises(LawError, match="not an lrkit fit file"):
        FitResult.from_json(tmp_path / "x.json")


def test_predict_rejects_bad_input(fitted):
    lr = lrs(SPECS[0])
    with pytest.raises(LawError, match="must lie in"):
        predict(fitted, lr, np.array([N + 5]))
    with pytest.raises(LawError, match="strictly increasing"):
        predict(fitted, lr, np.array([500, 400]))
    with pytest.raises(LawError, match="non-negative"):
        predict(fitted, -lr)
    with pytest.raises(LawError, match="unknown law"):
        fit([], "chinchilla")
    with pytest.raises(LawError, match="at least one run"):
        fit([], "lra")


def test_fit_accepts_runs_with_schedule_lrs():
    theta = np.array([2.5, 0.6, 0.45, 1.2])
    c = synthetic("lra", theta, SPECS[:2])
    runs = [Run.from_arrays(np.arange(N), np.where(np.isin(np.arange(N), STEPS), np.interp(np.arange(N), x.steps, x.loss), np.nan),
                            x.lr, name=x.name) for x in c]
    res = fit(runs, "lra", n_boot=0)
    np.testing.assert_allclose(res.theta, theta, rtol=1e-3)


@pytest.mark.parametrize("family", ["wsd", "cosine", "linear", "rex", "uba", "free"])
def test_plan_beats_or_matches_standard_schedules(fitted, family):
    p = plan(fitted, N, PEAK, family=family, warmup=W, knots=16)
    best_standard = min(c.final_loss for c in p.standard)
    if family in ("wsd", "free"):
        assert p.best.final_loss <= best_standard + 1e-9
    assert p.best.spec.startswith(family if family != "free" else ("piecewise(", "wsd("))
    if family in ("rex", "uba"):  # the search beats the family's usual settings
        usual = {"rex": ("beta=0.5", "beta=0.9"), "uba": ("phi=1.0", "phi=2.0")}[family]
        for arg in usual:
            scored = lrkit.parse(f"{family}({arg}, warmup={W})").sample(N) * PEAK
            assert p.best.final_loss <= final_loss(fitted, scored) + 1e-12
    # the spec string is exactly the scored schedule
    lr = lrkit.parse(p.best.spec).sample(N) * PEAK
    np.testing.assert_allclose(lr, p.best.lr)
    if family == "free":
        assert p.best.spec.startswith(("piecewise(", "wsd("))
        assert np.all(np.diff(lr[W:]) <= 1e-15)


def test_band_includes_model_error_growing_beyond_the_fitted_horizon(fitted):
    me = fitted.model_error
    assert me and me["a"] > 0 and me["b"] > 0 and me["horizon"] == STEPS[-1]
    n = 3 * N
    lr = lrkit.parse(f"constant(warmup={W})").sample(n) * PEAK
    steps = np.array([N // 2, N - 1, 2 * N, n - 1])
    p = predict(fitted, lr, steps)
    rel = (p.upper - p.lower) / p.loss
    assert rel[0] > 2 * me["a"] and np.all(np.diff(rel[1:]) > 0)
    no_model = FitResult(**{**fitted.__dict__, "model_error": {}})
    q = predict(no_model, lr, steps)
    assert np.all(q.upper - q.lower <= p.upper - p.lower + 1e-15)


def test_forward_chaining_selection_is_recorded_and_round_trips(tmp_path):
    from lrkit.laws.selection import SELECT_MENU, select_config

    theta = np.array([2.5, 0.6, 0.45, 500.0, 1.0, 0.5, 0.5])
    rng = np.random.default_rng(1)
    curves = [Curve(c.name, c.lr, c.steps, c.loss * (1 + 1e-3 * rng.standard_normal(c.loss.size)))
              for c in synthetic("multipower", theta, SPECS[:2])]
    sel = select_config(curves)
    assert sel["config"] in [dict(m) for m in SELECT_MENU]
    assert len(sel["scores"]) == len(SELECT_MENU) and sel["score"] > 0
    res = fit(curves, "multipower", n_boot=10)  # selection is the multi-power default
    assert res.selection["config"] == sel["config"]
    assert res.law_options == sel["config"]["law_options"] and res.shrink == sel["config"]["shrink"]
    back = FitResult.from_json(res.to_json(tmp_path / "f.json"))
    np.testing.assert_allclose(predict(back, lrs(SPECS[2]), STEPS).loss, predict(res, lrs(SPECS[2]), STEPS).loss)
    plain = fit(curves, "multipower", n_boot=10, select=False)
    assert plain.selection == {} and plain.law_options == {} and plain.shrink == 0.0
    shrunk = fit(curves, "multipower", n_boot=10, shrink=0.3)  # explicit configuration: no selection
    assert shrunk.selection == {} and shrunk.shrink == 0.3
    with pytest.raises(LawError, match="warmup"):
        get_law("multipower", warmup="sometimes")
    with pytest.raises(LawError, match="no fit configurations"):
        fit(curves, "lra", select=True)


def test_fixed_parameters_are_held_and_recorded(tmp_path):
    theta = np.array([2.5, 0.6, 0.45, 500.0, 1.5, 0.55, 0.6])
    curves = synthetic("multipower", theta, SPECS)
    res = fit(curves, "multipower", fixed={"gamma": 0.6, "C": 1.5}, prior_weight=0.0, n_boot=20)
    assert res.params["gamma"] == 0.6 and res.params["C"] == 1.5
    assert res.fixed == {"gamma": 0.6, "C": 1.5} and not res.selection  # fixing turns selection off
    np.testing.assert_allclose(res.theta[:4], theta[:4], rtol=0.02)  # the rest is still recovered
    samples = np.asarray(res.param_samples)
    assert np.all(samples[:, 6] == 0.6) and np.all(samples[:, 4] == 1.5) and np.ptp(samples[:, 0]) > 0
    assert FitResult.from_json(res.to_json(tmp_path / "f.json")).fixed == res.fixed
    wrong = fit(curves, "multipower", fixed={"gamma": 0.2}, prior_weight=0.0, n_boot=0, holdout=0)
    assert wrong.cost > res.cost  # holding a parameter away from the truth costs fit quality


@pytest.mark.parametrize("fixed, match", [
    ({"delta": 1.0}, "cannot fix 'delta': law 'multipower' has parameters L0, A, alpha"),
    ({"beta": -1.0}, "fixed beta=-1 is outside its range"),
    ({"beta": "x"}, "fixed beta must be a number"),
    ({"L0": 2, "A": 1, "alpha": 0.5, "B": 1, "C": 1, "beta": 1, "gamma": 1}, "every parameter is fixed"),
])
def test_fixed_parameter_errors(fixed, match):
    with pytest.raises(LawError, match=match):
        fit(synthetic("multipower", np.array([2.5, 0.6, 0.45, 500.0, 1.5, 0.55, 0.6]), SPECS[:2]), fixed=fixed)


def test_losses_before_the_first_positive_lr_are_left_out_with_a_note():
    theta = np.array([2.5, 0.6, 0.45, 500.0, 1.5, 0.55, 0.6])
    curves = synthetic("multipower", theta, SPECS[:2])
    c = curves[0]
    lr = c.lr.copy()
    lr[:3] = 0.0  # an LR of 0 at steps 0..2 (e.g. a warmup from 0) and a loss logged at step 0
    with_zero = Curve(c.name, lr, np.r_[0, c.steps], np.r_[5.0, c.loss])
    res = fit([with_zero, curves[1]], "multipower", n_boot=0, holdout=0)
    assert res.notes == [f"run {c.name!r}: left out 1 loss logged before step 3, the first with a positive LR "
                         "(the laws need some LR area before a loss)"]
    assert res.metrics[c.name]["points"] == c.steps.size
    with pytest.raises(LawError, match="the LR is zero at every step"):
        fit([Curve("z", np.zeros(N), STEPS, np.full(STEPS.size, 3.0))], "lra")
    with pytest.raises(LawError, match="every loss is logged before the first step with a positive LR"):
        fit([Curve("late", np.r_[np.zeros(N - 5), np.full(5, 1e-3)], STEPS[:4], np.full(4, 3.0))], "lra")


def test_plan_refuses_budgets_it_cannot_evaluate(fitted):
    with pytest.raises(LawError, match="more than plan handles"):
        plan(fitted, 100_000_000, PEAK)


@pytest.mark.parametrize("law_name, theta", [("multipower", np.array([2.5, 0.6, 0.45, 500.0, 1.0, 0.5, 0.5])),
                                             ("lra", np.array([2.5, 0.6, 0.45, 1.2]))])
def test_predict_in_blocks_equals_predict_at_once(law_name, theta, monkeypatch):
    law = get_law(law_name)
    lr, steps = lrs(SPECS[2]), np.arange(W, N)
    whole, J = law.evaluate(law.prepare(lr, steps), theta, True)
    monkeypatch.setattr(type(law), "predict_block", lambda self, n: 97)  # memory bounded by a block of steps
    blocks, Jb = law.predict(lr, steps, theta, jac=True)
    np.testing.assert_array_equal(blocks, whole)
    np.testing.assert_array_equal(Jb, J)


def test_plan_says_when_it_rests_on_undetermined_parameters(fitted):
    """Two pilots leave C, beta, gamma at the prior's centres: the plan's decay is the prior's choice, and
    the plan says so (issue 12: plan recommended 22-37% decays from the prior with no warning)."""
    assert {"C", "beta", "gamma"} <= set(fitted.flags)
    p = plan(fitted, N, PEAK, family="wsd")
    msg = p.warnings["undetermined"]
    assert msg.startswith("the plan rests on ") and all(n in msg for n in fitted.flags)
    assert "prior's choice" in msg and "--law bound" in msg and "--law mpl-it" in msg
    assert "warning (undetermined)" in p.summary()
    assert {"kind": "undetermined", "message": msg} in p.to_dict()["warnings"]
    determined = FitResult(**{**fitted.__dict__, "flags": {}})
    assert "undetermined" not in plan(determined, N, PEAK, family="wsd").warnings


def test_plan_warning_tells_a_loose_shape_from_the_prior_s_choice(fitted):
    """A law without a prior (``mpl-it`` on three pilots) flags a shape parameter by its wide interval: the
    warning then says the pilots pin the cooldown only loosely, and does not send the user to mpl-it."""
    loose = FitResult(**{**fitted.__dict__, "law": "mpl-it",
                         "flags": {"C": "C=14.12: 90% bootstrap interval -1.03..25.8 wider than the value"}})
    msg = undetermined_note(loose)
    assert "only loosely" in msg and "prior's choice" not in msg and "--law mpl-it" not in msg
    assert "prior's choice" in undetermined_note(fitted)
