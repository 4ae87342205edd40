"""What the pilots allow: a fit that leaves the multi-power law's gamma to the prior stores refits with
gamma held on a grid, and the plan shows the best WSD cooldown under each (lrkit.laws.profile)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import lrkit
from lrkit.laws import Curve, FitResult, LawError, UndeterminedWarning, fit, get_law, plan
from lrkit.laws.profile import GRID

from laws_cli import run_cli

N, W, PEAK = 3000, 200, 3e-4
STEPS = np.arange(W, N, 25)
THETA = np.array([2.5, 0.6, 0.45, 500.0, 1.5, 0.55, 0.6])


def curves(specs=(f"cosine(floor=0.1, warmup={W})", f"constant(warmup={W})"), seed=0):
    law, rng = get_law("multipower"), np.random.default_rng(seed)
    out = []
    for s in specs:
        lr = lrkit.parse(s).sample(N) * PEAK
        y = law.predict(lr, STEPS, THETA)[0]
        out.append(Curve(s, lr, STEPS, y * (1 + 2e-4 * rng.standard_normal(y.size))))
    return out


@pytest.fixture(scope="module")
def pilots_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndeterminedWarning)
        return fit(curves(), "multipower", n_boot=20)


def test_a_fit_that_leaves_gamma_to_the_prior_stores_its_profile(pilots_fit):
    r = pilots_fit
    assert "gamma" in r.flags
    p = r.profile
    assert p["param"] == "gamma" and p["values"] == list(GRID)
    names = r.law_obj.param_names
    for v, row, err in zip(p["values"], p["params"], p["mean_rel_error"]):
        assert row[names.index("gamma")] == v and 0 < err < 0.01
    # the refit at the prior's centre is the fit itself (it sits there)
    own = p["params"][p["values"].index(0.5)]
    np.testing.assert_allclose(own, r.theta, rtol=0.02)
    assert p["mean_rel_error"][p["values"].index(0.5)] == pytest.approx(
        np.mean([m["mean_rel_error"] for m in r.metrics.values()]), rel=0.05)
    assert "what the pilots allow: held at gamma = 0.001, 0.25, 0.5, 0.75, 1, the pilots are described within" \
        in r.summary()


def test_the_plan_shows_the_best_cooldown_under_each_refit(pilots_fit):
    p = plan(pilots_fit, N, PEAK, family="wsd")
    rows = p.profile
    assert [r["value"] for r in rows] == list(GRID) and all(r["param"] == "gamma" for r in rows)
    decays = [r["decay"] for r in rows]
    # the mechanism: a larger gamma realises a drop made at a low LR sooner, so the best cooldown shortens
    # (the other parameters are refitted at each value, so only the ends are compared)
    assert min(decays[:2]) > max(decays[-2:])
    for r in rows:
        assert f"decay={r['decay']:g}" in r["spec"] and np.isfinite(r["final_loss"]) and r["predictable"]
    assert "held at gamma = 0.001, 0.25, 0.5, 0.75, 1" in p.warnings["undetermined"]
    assert f"decays {100 * min(decays):.0f}-{100 * max(decays):.0f}% of the run" in p.warnings["undetermined"]
    assert p.to_dict()["profile"] == rows
    assert "what the pilots allow" in p.summary()


def test_the_profile_round_trips_and_a_tampered_one_is_refused(pilots_fit, tmp_path):
    path = tmp_path / "fit.json"
    pilots_fit.to_json(path)
    back = FitResult.from_json(path)
    assert back.profile == pilots_fit.profile
    assert plan(back, N, PEAK, family="wsd").profile == plan(pilots_fit, N, PEAK, family="wsd").profile
    data = json.loads(path.read_text())
    for bad, why in [({"params": [[1.0, 2.0]] * 5}, "rows of 7 finite numbers"),
                     ({"mean_rel_error": [0.1] * 4}, "lists of one length"),
                     ({"param": "delta"}, "not one of the law's"),
                     ({"values": [float("nan")] * 5}, "finite numbers")]:
        tampered = {**data, "profile": {**data["profile"], **bad}}
        path.write_text(json.dumps(tampered))
        with pytest.raises(LawError, match=f"malformed fit file \\(.*{why}"):
            FitResult.from_json(path)
    path.write_text(json.dumps({**data, "profile": {"param": "gamma"}}))
    with pytest.raises(LawError, match="must hold param, values, params and mean_rel_error"):
        FitResult.from_json(path)


@pytest.mark.parametrize("law, kw", [("multipower", {"fixed": {"gamma": 0.6}}), ("lra", {}), ("bound", {}),
                                      ("multipower", {"prior_weight": 0.0, "select": False})])
def test_no_profile_when_gamma_is_held_absent_or_not_left_to_the_prior(law, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndeterminedWarning)
        r = fit(curves((f"cosine(floor=0.1, warmup={W})", f"constant(warmup={W})",
                        f'wsd(decay=0.3, form="linear", floor=0.05, warmup={W})')), law, n_boot=20, **kw)
    assert ("gamma" in r.flags) == bool(r.profile)
    if law != "multipower" or "fixed" in kw:
        assert r.profile == {}
    assert len(plan(r, N, PEAK, family="wsd").profile) == (len(GRID) if r.profile else 0)


def test_cli_fit_says_what_the_pilots_allow(tmp_path, capsys):
    paths = []
    for c in curves():
        path = tmp_path / f"{c.name.split('(')[0]}.csv"
        path.write_text("step,loss\n" + "".join(f"{s},{float(v)!r}\n" for s, v in zip(c.steps, c.loss)))
        paths.append(str(path))
    code, out, err = run_cli(["fit", *paths, "--schedule", f"cosine(floor=0.1, warmup={W})", "--schedule",
                              f"constant(warmup={W})", "--lr", str(PEAK), "--steps", str(N), "--boot", "20",
                              "--out", str(tmp_path / "fit.json")], capsys)
    assert code == 0, err
    assert "what the pilots allow: held at gamma = 0.001, 0.25, 0.5, 0.75, 1" in out
    assert "to rank cooldowns, fit these runs with --law bound too" in " ".join(out.split())
    assert FitResult.from_json(tmp_path / "fit.json").profile["values"] == list(GRID)


def test_cli_plan_prints_what_the_pilots_allow(pilots_fit, tmp_path, capsys):
    path = tmp_path / "fit.json"
    pilots_fit.to_json(path)
    code, out, err = run_cli(["plan", str(path), "--steps", str(N), "--lr", str(PEAK), "--family", "wsd"], capsys)
    assert code == 0
    assert "what the pilots allow" in out and "0.5 (this fit)" in out and "pilots' mean |err|" in out
    assert "held at gamma" in err
    code, out, _ = run_cli(["plan", str(path), "--steps", str(N), "--lr", str(PEAK), "--format", "json"], capsys)
    assert [r["value"] for r in json.loads(out)["profile"]] == list(GRID)


def test_a_refit_that_predicts_below_its_l0_is_no_prediction(pilots_fit, capsys, tmp_path):
    """Far outside the pilots' peak LR (``extrapolate=True``) a refit's loss can fall below its L0: its row
    says so instead of showing the number, as the plan itself refuses such a loss."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = plan(pilots_fit, 100 * N, 100 * PEAK, family="cosine", extrapolate=True)
    bad = [r for r in p.profile if not r["predictable"]]
    assert bad and all(np.isnan(r["final_loss"]) for r in bad)
    assert "no prediction (below the refit's L0)" in p.summary()
    path = tmp_path / "fit.json"
    pilots_fit.to_json(path)
    code, out, _ = run_cli(["plan", str(path), "--steps", str(100 * N), "--lr", str(100 * PEAK), "--family", "cosine",
                            "--extrapolate"], capsys)
    assert code == 0 and "below L0" in out


def test_the_plan_figure_draws_what_the_pilots_allow(pilots_fit, tmp_path):
    """A plan with profile rows gets a third panel: each refit's best decay against the pilots' error, the
    fit's own value and the pilots' best marked; a plan without rows keeps the two panels."""
    from lrkit.report.law_figures import draw_plan, plot_plan

    p = plan(pilots_fit, N, PEAK, family="wsd")
    axes = draw_plan(p)
    assert len(axes) == 3
    x, y = axes[2].get_lines()[0].get_data()
    np.testing.assert_allclose(x, [100 * r["decay"] for r in p.profile])
    np.testing.assert_allclose(y, [100 * r["mean_rel_error"] for r in p.profile])
    labels = [t.get_text() for t in axes[2].texts]
    assert "gamma 0.5 (this fit)" in labels[GRID.index(0.5)] and sum("pilots' best" in t for t in labels) == 1
    from dataclasses import replace
    assert len(draw_plan(replace(p, profile=[]))) == 2
    out = plot_plan(pilots_fit, p, tmp_path / "plan.png")
    assert out.stat().st_size > 10_000


def test_the_figure_leaves_out_rows_without_a_prediction_and_marks_as_the_table(pilots_fit):
    """Far outside the pilots some refits predict no loss: the panel draws the others, and the pilots'
    best is the row of lowest error over all rows, as in the table (:func:`lrkit.laws.profile.marks`)."""
    from lrkit.laws.profile import marks
    from lrkit.report.law_figures import draw_plan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = plan(pilots_fit, 100 * N, 100 * PEAK, family="cosine", extrapolate=True)
    shown = [r for r in p.profile if r["predictable"]]
    assert 0 < len(shown) < len(p.profile)
    axes = draw_plan(p)
    x, _ = axes[2].get_lines()[0].get_data()
    np.testing.assert_allclose(x, [100 * r["decay"] for r in shown])
    mine, best = marks(p.profile, pilots_fit.params["gamma"])
    labels = [t.get_text() for t in axes[2].texts]
    assert sum("pilots' best" in t for t in labels) == int(p.profile[best]["predictable"])
    assert p.profile[mine]["value"] == 0.5
