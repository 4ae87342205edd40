"""Issue 13: predictions only where the law applies (NaN before the end of the warmup; the CLI cuts those
rows), figures that show observed points only for a logged run, a --schedule checked against the run's
logged lr column, and the inferred total printed."""

from __future__ import annotations

import re

import json

import numpy as np
import pytest

import lrkit
from laws_cli import run_cli
from lrkit.laws import predict

N, PEAK = 2000, 1e-3


def test_predict_is_nan_before_the_law_applies(lra_fit):
    lr = lrkit.parse("wsd(decay=0.3, warmup=100)").sample(N) * PEAK
    p = predict(lra_fit, lr)
    assert p.start == 99  # the first step at the peak LR (lrkit's warmup reaches it at step W-1)
    assert np.all(np.isnan(p.loss[:99])) and np.all(np.isnan(p.lower[:99])) and np.all(np.isfinite(p.loss[99:]))
    assert p.loss.size == N and np.isfinite(p.final)
    q = predict(lra_fit, lr, np.array([0, 50, 99, 1999]))
    assert np.isnan(q.loss[:2]).all() and np.isfinite(q.loss[2:]).all()
    assert predict(lra_fit, lr, np.array([1999])).final == pytest.approx(p.final)


def test_a_schedule_without_warmup_is_not_predicted_before_the_pilots_warmup_ended(lra_fit, lra_fit_file, capsys):
    """The fit saw no loss before its pilots' warmup ended (step 99): a schedule without warmup is NaN
    there too, not the law's value at an LR area near 0 (25.1 at step 0 on the published 100M fit)."""
    import warnings

    lr = lrkit.parse("cosine()").sample(N) * PEAK
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the no-warmup warning
        p = predict(lra_fit, lr)
    assert p.start == 99 and np.all(np.isnan(p.loss[:99])) and np.all(np.isfinite(p.loss[99:]))
    code, out, err = run_cli(["predict", lra_fit_file, "--schedule", "cosine()", "--lr", str(PEAK), "--steps", str(N),
                              "--format", "csv", "--every", "50"], capsys)
    assert code == 0, err
    assert out.splitlines()[1].startswith("99,")


def test_cli_run_rows_before_the_end_of_the_warmup_are_cut_with_a_note(runfile, lra_fit_file, tmp_path, capsys):
    path = runfile(tmp_path / "early.csv", "cosine(warmup=100, floor=0.1)", start=0)
    code, out, err = run_cli(["predict", lra_fit_file, "--run", path, "--format", "csv"], capsys)
    assert code == 0, err
    first = int(out.splitlines()[1].split(",")[0])
    # one rule for every law input (lrkit.laws.base.usable_points): the points before the end of the warmup
    assert first >= 99 and re.search(r"left out 5 (logged steps|losses logged) before step 99", err)


def test_plot_shows_observed_points_only_for_a_run(lra_fit):
    lr = lrkit.parse("wsd(decay=0.3, warmup=100)").sample(N) * PEAK
    p = predict(lra_fit, lr)
    ax = p.plot()
    labels = [line.get_label() for line in ax.get_lines()]
    assert "observed" not in labels and any(lb.startswith("pilot cosine") for lb in labels)
    assert "observed" not in ax.get_title("left")
    steps = np.arange(100, N, 50)
    ax = p.plot(observed=(steps, p.loss[steps] * 1.01))
    assert "observed" in [line.get_label() for line in ax.get_lines()] and "mean |error| 0.99%" in ax.get_title("left")


def test_cli_plot_of_a_schedule_and_of_a_run(pilot_files, lra_fit_file, tmp_path, capsys):
    fig = tmp_path / "p.png"
    code, _, err = run_cli(["predict", lra_fit_file, "--schedule", "wsd(warmup=100)", "--lr", "1e-3", "--steps",
                            "2000", "--plot", str(fig)], capsys)
    assert code == 0 and fig.stat().st_size > 10_000, err
    code, _, err = run_cli(["predict", lra_fit_file, "--run", pilot_files["cosine"], "--plot", str(fig)], capsys)
    assert code == 0 and fig.stat().st_size > 10_000, err


@pytest.fixture()
def cut_short(runfile, tmp_path) -> str:
    """A WSD run of 2,000 steps whose log ends at step 1,979 (the last 20 steps were not logged)."""
    path = tmp_path / "wsd.csv"
    runfile(path, "wsd(decay=0.2, warmup=100)")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:1981]) + "\n")  # header + steps 0..1979
    return str(path)


def test_cli_run_schedule_is_checked_against_the_logged_lr(cut_short, lra_fit_file, capsys):
    args = ["predict", lra_fit_file, "--run", cut_short, "--schedule", "wsd(decay=0.2, warmup=100)", "--lr", "1e-3"]
    code, out, err = run_cli(args + ["--format", "json"], capsys)
    assert code == 0, err
    assert "total 1,980 steps (the run's last logged step + 1" in err  # the inferred total, said
    line = [x for x in err.splitlines() if x.startswith("lrkit: warning (lr)")]
    assert len(line) == 1 and "logged lr column by up to" in line[0] and "with --steps 2000 it matches" in line[0]
    assert [w["kind"] for w in json.loads(out)["warnings"]] == ["lr"]
    code, out, err = run_cli(args + ["--steps", "2000", "--format", "csv"], capsys)
    assert code == 0 and "warning" not in err and "total" not in err


def test_cli_run_with_its_own_schedule_matches(pilot_files, lra_fit_file, capsys):
    code, _, err = run_cli(["predict", lra_fit_file, "--run", pilot_files["cosine"], "--schedule",
                            "cosine(warmup=100, floor=0.1)", "--lr", "1e-3", "--format", "csv"], capsys)
    assert code == 0 and "warning" not in err, err


def test_cli_every_on_a_run_counts_steps_and_the_error_is_over_every_logged_step(pilot_files, lra_fit_file, capsys):
    """--every K is K steps for a --run too (it took every K-th logged row: --every 4000 on a run logged every
    128 steps printed one row), and the error summary covers every logged step, not the rows shown."""
    run = pilot_files["cosine"]  # loss logged every 20 steps from 100, and at 1999
    code, out, err = run_cli(["predict", lra_fit_file, "--run", run, "--every", "500", "--format", "csv"], capsys)
    assert code == 0, err
    steps = [int(line.split(",")[0]) for line in out.splitlines()[1:]]
    assert steps == [100, 600, 1100, 1600, 1999]
    _, full, _ = run_cli(["predict", lra_fit_file, "--run", run, "--format", "csv"], capsys)
    assert len(full.splitlines()) - 1 == 95
    code, out, err = run_cli(["predict", lra_fit_file, "--run", run, "--every", "500"], capsys)
    assert code == 0 and "over 95 logged steps" in out, out


def test_cli_plot_draws_every_step_whatever_every_reports(pilot_files, lra_fit_file, tmp_path, capsys, monkeypatch):
    """--plot of a --schedule drew straight lines between the --every rows; of a --run, only those rows."""
    from lrkit.report import law_figures

    drawn = []
    real = law_figures.plot_prediction

    def record(pred, path, observed=None, label="prediction", **figure):
        drawn.append((pred, observed))
        return real(pred, path, observed=observed, label=label, **figure)

    monkeypatch.setattr(law_figures, "plot_prediction", record)
    fig = tmp_path / "p.png"
    code, out, err = run_cli(["predict", lra_fit_file, "--schedule", "wsd(warmup=100)", "--lr", "1e-3", "--steps",
                              "2000", "--every", "500", "--format", "csv", "--plot", str(fig)], capsys)
    assert code == 0 and len(out.splitlines()) == 1 + 5, err
    pred, observed = drawn.pop()
    assert observed is None and pred.steps[0] == 99 and pred.steps[-1] == 1999 and pred.steps.size > 1000
    code, _, err = run_cli(["predict", lra_fit_file, "--run", pilot_files["cosine"], "--every", "500", "--plot",
                            str(fig)], capsys)
    pred, (steps, loss) = drawn.pop()
    assert code == 0 and pred.steps.size == steps.size == loss.size == 95, err


def test_cli_fit_checks_each_schedule_against_the_logged_lr_and_says_the_inferred_total(cut_short, pilot_files,
                                                                                          tmp_path, capsys):
    """fit took --schedule on trust as predict --run once did: a WSD pilot whose log ends 20 steps early was
    fitted with its decay started early, and a wrong schedule with no word, both exit 0 and silent."""
    out = str(tmp_path / "f.json")
    base = ["fit", pilot_files["constant"], cut_short, "--law", "lra", "--boot", "0", "--out", out, "--lr", "1e-3",
            "--schedule", "constant(warmup=100)"]
    code, _, err = run_cli(base + ["--schedule", "wsd(decay=0.2, warmup=100)"], capsys)
    assert code == 0, err
    assert "wsd.csv: total 1,980 steps (its last logged step + 1" in err and "constant.csv: total" not in err
    line = [x for x in err.splitlines() if x.startswith("lrkit: warning (lr)")]
    assert len(line) == 1 and "wsd.csv's logged lr column" in line[0] and "with --steps 2000 it matches" in line[0]
    code, _, err = run_cli(base + ["--schedule", "wsd(decay=0.2, warmup=100)", "--steps", "2000"], capsys)
    assert code == 0 and "warning (lr)" not in err and "total" not in err, err
    code, _, err = run_cli(base + ["--schedule", "cosine(warmup=100)", "--steps", "2000", "--force"], capsys)
    assert "lrkit: warning (lr): --schedule differs from" in err and "wsd.csv" in err


@pytest.mark.parametrize("columns", [80, 200])
def test_predict_title_uses_the_terminal_width_not_the_tables(lra_fit_file, capsys, monkeypatch, columns):
    """The title named the spec and the fit's runs wrapped at the 48-column table, even at 200 columns."""
    monkeypatch.setenv("COLUMNS", str(columns))
    spec = 'wsd(decay=0.2, warmup=100, form="linear")'
    code, out, err = run_cli(["predict", lra_fit_file, "--schedule", spec, "--lr", str(PEAK), "-n", str(N)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns
    title = " ".join(line.strip() for line in lines[:lines.index(next(x for x in lines if x.startswith("┏")))])
    assert title.startswith(f"predicted loss: {spec} (lra law fitted on "), out
    assert (len(title) <= columns) == (columns == 200) and (lines[0] == title) == (columns == 200), out


def test_fit_quality_table_wraps_a_long_run_name_at_80_columns_never_cuts_it(runfile, tmp_path, capsys, monkeypatch):
    """The run column of `lrkit fit`'s quality table was cut (`cosine_warmup100_floor0.1_pe…`) at 80 columns."""
    monkeypatch.setenv("COLUMNS", "80")
    names = ["cosine_warmup100_floor0.1_peak1e-3_tiny_model_first_pilot", "constant_warmup100_peak1e-3_tiny_model_pilot"]
    files = [runfile(tmp_path / f"{n}.csv", s) for n, s in zip(names, ["cosine(warmup=100, floor=0.1)",
                                                                       "constant(warmup=100)"])]
    code, out, err = run_cli(["fit", *map(str, files), "--law", "lra", "--boot", "0", "-o", str(tmp_path / "f.json")],
                             capsys)
    assert code == 0, err
    table = out.split("fit quality", 1)[1]
    assert "…" not in table and max(len(line) for line in out.splitlines()) <= 80, out
    cells = "".join(line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│"))
    assert cells == "".join(names), out


def test_the_table_says_what_sets_the_band(lra_fit, lra_fit_file, tmp_path, capsys):
    """Under the table, one line gives the law's part of the band within the pilots' horizon and at 2x,
    from the fit's forward-chaining calibration; a fit file without it says the band is the parameters' only."""
    from dataclasses import replace

    from lrkit.laws.predict import model_band

    me = lra_fit.model_error
    near, far = model_band(lra_fit), model_band(lra_fit, 2.0)
    assert near == pytest.approx(me["a"]) and far == pytest.approx(me["a"] + me["b"] * np.log(2.0))
    args = ["--schedule", "cosine(warmup=100)", "--lr", str(PEAK), "--steps", str(N), "--every", "500"]
    code, out, err = run_cli(["predict", lra_fit_file, *args], capsys)
    assert code == 0, err
    text = " ".join(out.split())
    horizon = int(me["horizon"]) + 1
    assert f"90% band: ±{100 * near:.2g}% of the loss within the pilots' {horizon:,} steps, ±{100 * far:.2g}% at 2x" in text
    bare = tmp_path / "bare.json"
    replace(lra_fit, model_error={}).to_json(bare)
    code, out, err = run_cli(["predict", str(bare), *args], capsys)
    assert code == 0, err
    assert "the parameters' bootstrap uncertainty only" in " ".join(out.split())
