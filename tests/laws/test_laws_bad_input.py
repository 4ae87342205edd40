"""Issue 10's items for fit, predict and plan: each is one line on stderr and exit 2, never a silent cut
of the logged losses, an ignored option, an unbounded allocation or a loss the law cannot stand behind."""

from __future__ import annotations

import numpy as np
import pytest

import lrkit
from lrkit.cli import main
from lrkit.cli.show import MAX_STEPS
from lrkit.laws import Curve, LawError, fit, get_law
from lrkit.runs import load_run

N, PEAK = 2000, 1e-3
THETA = np.array([2.5, 0.6, 0.45, 0.2])  # LR-annealing law: L0, A, alpha, C
SPECS = {"cosine": "cosine(warmup=100, floor=0.1)", "constant": "constant(warmup=100)"}


def write_run(path, spec: str) -> str:
    """A run of N steps (0..1999): the LR at every step, the law's loss every 20 steps from step 100."""
    lr = lrkit.parse(spec).sample(N) * PEAK
    steps = np.arange(100, N, 20)
    steps[-1] = N - 1
    loss = get_law("lra").predict(lr, steps, THETA)[0]
    at = dict(zip(steps.tolist(), loss.tolist()))
    rows = ["step,lr,loss"] + [f"{t},{float(lr[t])!r},{at[t]!r}" if t in at else f"{t},{float(lr[t])!r}," for t in range(N)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    return {k: write_run(d / f"{k}.csv", s) for k, s in SPECS.items()}


@pytest.fixture(scope="module")
def fit_file(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "fit.json"
    with pytest.raises(SystemExit) as exc:
        main(["fit", runs["cosine"], runs["constant"], "--law", "lra", "--boot", "0", "--out", str(out)])
    assert exc.value.code == 0
    return str(out)


def one_line_exit_2(args, capsys) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2, err
    assert len(err.splitlines()) == 1, err
    return err


# ---------------------------------------------------------------------------------------------- fit --total
def test_fit_total_before_the_last_logged_step_is_refused_naming_total(runs, tmp_path, capsys):
    err = one_line_exit_2(["fit", runs["cosine"], "--law", "lra", "--total", "1000", "--out",
                           str(tmp_path / "f.json")], capsys)
    assert "--total" in err and "1,999" in err and "2,000" in err
    assert not (tmp_path / "f.json").exists()


def test_fit_total_once_per_run_is_checked_per_run(runs, tmp_path, capsys):
    err = one_line_exit_2(["fit", runs["cosine"], runs["constant"], "--law", "lra", "--total", "2000",
                           "--total", "1500", "--out", str(tmp_path / "f.json")], capsys)
    assert "--total" in err and "constant.csv" in err


@pytest.mark.parametrize("total", ["0", "-5", str(MAX_STEPS + 1)])
def test_fit_total_out_of_range_is_refused_naming_total(runs, tmp_path, capsys, total):
    err = one_line_exit_2(["fit", runs["cosine"], "--law", "lra", "--total", total, "--out",
                           str(tmp_path / "f.json")], capsys)
    assert "--total" in err


def test_fit_total_covering_the_run_is_accepted(runs, tmp_path):
    out = tmp_path / "f.json"
    with pytest.raises(SystemExit) as exc:
        main(["fit", runs["cosine"], runs["constant"], "--law", "lra", "--boot", "0", "--total", "2000",
              "--out", str(out)])
    assert exc.value.code == 0 and out.is_file()


def test_api_total_before_the_last_logged_loss_is_an_error_not_a_cut(runs):
    run = load_run(runs["cosine"])
    with pytest.raises(LawError, match="a loss is logged at step 1,999"):
        Curve.from_run(run, total=1000)
    with pytest.raises(LawError, match="a loss is logged at step 1,999"):
        fit([run], "lra", totals=[1000], n_boot=0)
    with pytest.raises(LawError, match="one total per run"):
        fit([run], "lra", totals=[2000, 2000], n_boot=0)
    c = Curve.from_run(run, total=2000)
    assert c.lr.size == 2000 and c.steps[-1] == 1999  # every logged loss kept


def test_curve_from_run_schedule_and_logged_lr_agree(runs):
    run = load_run(runs["cosine"])
    a = Curve.from_run(run)
    b = Curve.from_run(run, schedule=SPECS["cosine"], base_lr=PEAK)
    np.testing.assert_allclose(a.lr, b.lr, rtol=1e-12)
    np.testing.assert_array_equal(a.steps, b.steps)


# ---------------------------------------------------------------------------------------------- predict --steps
@pytest.mark.parametrize("steps", [MAX_STEPS + 1, 10**12])
def test_predict_steps_above_the_limit_are_refused_up_front(fit_file, capsys, steps):
    err = one_line_exit_2(["predict", fit_file, "--schedule", "cosine()", "--lr", "1e-3", "--steps", str(steps)],
                          capsys)
    assert "--steps" in err and f"{MAX_STEPS:,}" in err


def test_predict_steps_before_the_runs_end_are_refused(fit_file, runs, capsys):
    err = one_line_exit_2(["predict", fit_file, "--run", runs["cosine"], "--steps", "1000"], capsys)
    assert "--steps" in err and "1,999" in err


# ---------------------------------------------------------------------------------------------- plan --lr
@pytest.mark.parametrize("lr", ["1", "1e300"])
def test_plan_never_prints_a_loss_the_fit_cannot_predict(fit_file, capsys, lr):
    err = one_line_exit_2(["plan", fit_file, "--steps", "2000", "--lr", lr, "--family", "cosine"], capsys)
    assert "outside what the fit can predict" in err
    assert "Warning" not in err


def test_plan_lr_inf_says_it_is_not_finite(fit_file, capsys):
    """--lr inf passed the CLI's check and was refused as 'peak LR must be positive, got inf'."""
    err = one_line_exit_2(["plan", fit_file, "--steps", "2000", "--lr", "inf"], capsys)
    assert "must be a positive finite number, got inf" in err


def test_plan_at_the_fitted_lr_still_plans(fit_file, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plan", fit_file, "--steps", "2000", "--lr", str(PEAK), "--family", "cosine"])
    assert exc.value.code == 0
    assert "recommended" in capsys.readouterr().out


def test_plan_api_refuses_the_same(fit_file):
    from lrkit.laws import FitResult, plan

    with pytest.raises(LawError, match="below the fitted irreducible loss L0"):
        plan(FitResult.from_json(fit_file), 2000, 1.0, family="cosine")
