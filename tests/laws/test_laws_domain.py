"""Issue 13: every fit stores its domain of validity; predictions and plans outside it warn once per kind
(Python: ExtrapolationWarning; CLI: one stderr line each, and in JSON), far outside it they are refused
(ExtrapolationError / exit 2, one line) unless extrapolate=True / --extrapolate."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import lrkit
from lrkit.cli import main

from laws_cli import run_cli
from lrkit.laws import FitResult, LawError, plan, predict
from lrkit.laws.domain import Domain, ExtrapolationError, ExtrapolationWarning

N, PEAK = 2000, 1e-3


def lr_of(spec: str, n: int = N, peak: float = PEAK) -> np.ndarray:
    return lrkit.parse(spec).sample(n) * peak


def kinds(record) -> list[str]:
    return [w.message.kind for w in record if issubclass(w.category, ExtrapolationWarning)]


def test_the_face_exports_the_warning_and_the_refusal():
    assert lrkit.ExtrapolationWarning is ExtrapolationWarning and issubclass(ExtrapolationWarning, UserWarning)
    assert lrkit.ExtrapolationError is ExtrapolationError and issubclass(ExtrapolationError, LawError)


def test_every_fit_stores_its_domain(lra_fit, tmp_path):
    d = lra_fit.validity
    assert d == Domain(PEAK, PEAK, N, (100, 100), pytest.approx(0.1, rel=1e-3), None)
    back = FitResult.from_json(lra_fit.to_json(tmp_path / "f.json"))
    assert back.validity == d and json.loads((tmp_path / "f.json").read_text())["domain"]["horizon"] == N


def test_inside_the_domain_no_warning(lra_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = predict(lra_fit, lr_of("wsd(decay=0.3, warmup=100)"))
    assert p.warnings == {}


@pytest.mark.parametrize("kw, kind", [
    ({"peak": 3 * PEAK}, "peak_lr"), ({"peak": PEAK / 4}, "peak_lr"), ({"n": 3 * N}, "horizon"),
])
def test_outside_the_domain_one_warning_per_kind(lra_fit, kw, kind):
    lr = lr_of("cosine(warmup=100, floor=0.1)", **kw)
    with pytest.warns(ExtrapolationWarning) as record:
        p = predict(lra_fit, lr)
    assert kinds(record) == [kind] and list(p.warnings) == [kind] and np.isfinite(p.final)


def test_a_schedule_without_the_pilots_warmup_is_warned(lra_fit):
    with pytest.warns(ExtrapolationWarning, match="no warmup; the pilots warmed up for 100 steps"):
        predict(lra_fit, lr_of("cosine(floor=0.1)"))


@pytest.mark.parametrize("kw, kind", [({"peak": 20 * PEAK}, None), ({"n": 40 * N}, "horizon")])
def test_far_outside_is_refused_unless_extrapolate(lra_fit, kw, kind):
    lr = lr_of("constant(warmup=100)", **kw)
    with pytest.raises(ExtrapolationError, match="extrapolate=True") as exc:
        predict(lra_fit, lr, np.array([lr.size - 1]))
    if kind:
        assert exc.value.kind == kind
    with pytest.warns(ExtrapolationWarning):
        p = predict(lra_fit, lr, np.array([lr.size - 1]), extrapolate=True)
    assert p.warnings


def test_a_loss_below_l0_or_not_finite_is_refused(lra_fit):
    lr = lr_of("cosine(warmup=100)", peak=1e300 * PEAK)
    with pytest.raises(ExtrapolationError, match="not a finite number|below the fitted irreducible loss"):
        predict(lra_fit, lr, np.array([N - 1]))


def test_an_old_fit_file_without_a_domain_loads_and_warns_once(lra_fit, tmp_path):
    doc = json.loads(lra_fit.to_json())
    del doc["domain"]
    (tmp_path / "old.json").write_text(json.dumps(doc))
    old = FitResult.from_json(tmp_path / "old.json")
    assert old.validity is None
    with pytest.warns(ExtrapolationWarning) as record:
        p = predict(old, lr_of("cosine(warmup=100, floor=0.1)"))
    assert kinds(record) == ["domain"] and "no domain of validity" in p.warnings["domain"]


def test_plan_outside_the_domain_warns_and_records(lra_fit):
    with pytest.raises(ExtrapolationError, match="end before the pilots' warmup of 100 steps does: the fit saw no loss"):
        plan(lra_fit, 60, PEAK, family="cosine")  # a budget that ends where the fit saw no loss: refused
    with pytest.warns(ExtrapolationWarning) as record:
        p = plan(lra_fit, 60, PEAK, family="cosine", extrapolate=True)
    assert kinds(record) == ["warmup"] and "end before the pilots' warmup" in p.warnings["warmup"]
    with pytest.raises(ExtrapolationError, match="horizon"):
        plan(lra_fit, 31 * N, PEAK, family="cosine")


# ------------------------------------------------------------------------------------------ the CLI


def test_cli_predict_warns_one_line_per_kind_and_records_it_in_json(lra_fit_file, capsys):
    code, out, err = run_cli(["predict", lra_fit_file, "--schedule", "cosine(floor=0.1)", "--lr", "2e-3",
                              "--steps", "3000", "--format", "json"], capsys)
    assert code == 0, err
    lines = err.strip().splitlines()
    assert sorted(line.split(")")[0] for line in lines) == [
        "lrkit: warning (horizon", "lrkit: warning (peak_lr", "lrkit: warning (warmup"]
    doc = json.loads(out)
    assert sorted(w["kind"] for w in doc["warnings"]) == ["horizon", "peak_lr", "warmup"]


@pytest.mark.parametrize("cmd", [
    ["predict", "{fit}", "--schedule", "constant(warmup=100)", "--lr", "0.02", "--steps", "2000"],
    ["plan", "{fit}", "--steps", "2000", "--lr", "0.02", "--family", "cosine"],
    ["predict", "{fit}", "--schedule", "constant(warmup=100)", "--lr", "1e-3", "--steps", "70000"],
])
def test_cli_far_outside_is_one_line_exit_2_unless_extrapolate(lra_fit_file, capsys, cmd):
    args = [a.replace("{fit}", lra_fit_file) for a in cmd]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--extrapolate" in err, err
    assert "extrapolate=True" not in err
    code, out, err = run_cli(args + ["--extrapolate"], capsys)
    assert code == 0 and "lrkit: warning" in err


def test_a_ratio_just_above_one_is_not_written_1x(lra_fit):
    """A run 9 steps longer than the pilots was '3,000 steps is 1x the longest pilot': now 1.004x."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        predict(lra_fit, lr_of("constant(warmup=100)", N + 9))
        predict(lra_fit, lr_of("constant(warmup=100)", peak=PEAK * 1.00002))
    messages = [str(w.message) for w in rec if issubclass(w.category, ExtrapolationWarning)]
    assert any("2,009 steps is 1.004x the longest pilot (2,000 steps)" in m for m in messages), messages
    assert any("is 1.00002x above the pilots'" in m for m in messages), messages
    assert not any(" 1x " in m for m in messages), messages


def test_a_plan_that_drops_the_pilots_warmup_says_so(lra_fit):
    """plan --steps 150 (the pilots warmed up for 100) silently planned without warmup; the warning named only
    the mismatch. It now says the plan dropped it and how to keep one; an asked-for warmup=0 is not told so."""
    with pytest.warns(ExtrapolationWarning) as record:
        p = plan(lra_fit, 150, PEAK, family="cosine")
    assert kinds(record) == ["warmup"] and p.warmup == 0
    assert "planned without warmup" in p.warnings["warmup"] and "warmup=" in p.warnings["warmup"]
    with pytest.warns(ExtrapolationWarning) as record:
        p = plan(lra_fit, 150, PEAK, family="cosine", warmup=0)
    assert "planned without warmup" not in p.warnings["warmup"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plan(lra_fit, 1000, PEAK, family="cosine").warmup == 100  # under half the budget: kept


def test_a_loss_just_below_l0_is_written_with_the_digits_that_tell_them_apart():
    from lrkit.laws.domain import check_losses

    (found,) = check_losses(np.array([2.7791, 2.77893]), np.array([10, 20]), 2.77894)
    assert "2.77893, below the fitted irreducible loss L0=2.77894" in found.message, found.message


def test_a_budget_before_the_pilots_warmup_is_not_told_to_give_a_warmup(lra_fit):
    """Planned without warmup (the pilots' is half the budget or more) and ending before the pilots' warmup
    does: the refusal says the fit saw no loss there, not that a --warmup would help (it would not)."""
    with pytest.raises(ExtrapolationError) as exc:
        plan(lra_fit, 60, PEAK, family="cosine")
    assert "saw no loss that early" in str(exc.value) and "give warmup=" not in str(exc.value)
