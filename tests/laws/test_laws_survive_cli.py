"""Issue 12, tried as a user would from the CLI: the stated rule for the points a law cannot describe on
every path, validation loss as a target, and the parameters the pilots do not determine, in the commands
that use a fit file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrkit.cli import main

from laws_cli import run_cli


# ------------------------------------------------------------------------------------ validation loss
def test_predict_run_against_another_column_than_the_fit_says_so(pilot_files, lra_fit_file, capsys):
    """A fit of the training loss compared with a run's validation loss: the output names both columns and
    warns, never labels the validation loss as the quantity the fit predicts."""
    run = pilot_files["cosine"]
    code, out, err = run_cli(["predict", lra_fit_file, "--run", run, "--target", "val_loss"], capsys)
    assert code == 0, err
    assert "lrkit: warning (target): the fit was made on the pilots' loss; --target val_loss compares" in err
    assert "against the run's val_loss" in " ".join(out.split())
    code, out, err = run_cli(["predict", lra_fit_file, "--run", run, "--target", "val_loss", "--format", "json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["target"] == "loss" and doc["observed_column"] == "val_loss"
    assert "target" in [w["kind"] for w in doc["warnings"]]
    code, out, err = run_cli(["predict", lra_fit_file, "--run", run, "--format", "json"], capsys)
    doc = json.loads(out)
    assert doc["observed_column"] == "loss" and "target" not in [w["kind"] for w in doc["warnings"]]
    assert "warning (target)" not in err


def test_a_run_without_the_target_column_is_one_line_that_says_how_to_map_it(tmp_path, capsys):
    path = tmp_path / "run.csv"
    path.write_text("step,lr,loss,heldout_ce\n" + "".join(
        f"{t},1e-3,{2 + ((t + 1) * 1e-3) ** -0.4!r},{2.1 + ((t + 1) * 1e-3) ** -0.4!r}\n" for t in range(0, 400, 20)))
    code, out, err = run_cli(["fit", str(path), "--target", "val_loss", "--out", str(tmp_path / "f.json")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no 'val_loss' column (header: step, lr, loss, heldout_ce)" in err and "--column val_loss=NAME" in err
    from lrkit.laws import Curve
    from lrkit.runs import RunError, load_run

    with pytest.raises(RunError, match=r"no 'val_loss' column \(read from a column named .*'eval/loss'.*--column "
                                       r"val_loss=NAME \(Python: columns=\{'val_loss': NAME\}\)"):
        Curve.from_run(load_run(path), loss="val_loss")  # the Python path: a run read for its training loss
    code, out, err = run_cli(["fit", str(path), "--target", "val_loss", "--column", "val_loss=heldout_ce",
                              "--law", "lra", "--boot", "0", "--out", str(tmp_path / "f.json")], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "f.json").read_text())["target"] == "val_loss"


@pytest.mark.parametrize("name", ["validation_loss", "valid_loss", "Validation_Loss", "loss/validation"])
def test_common_validation_loss_names_are_read_without_a_mapping(tmp_path, name, capsys):
    path = tmp_path / "run.csv"
    path.write_text(f"step,lr,loss,{name}\n" + "".join(
        f"{t},1e-3,{2 + ((t + 1) * 1e-3) ** -0.4!r},{2.1 + ((t + 1) * 1e-3) ** -0.4!r}\n" for t in range(0, 400, 20)))
    from lrkit.runs import load_run

    steps, values = load_run(path).logged("val_loss")
    assert steps.size == 20 and values[0] == pytest.approx(2.1 + 1e-3 ** -0.4)


# ------------------------------------------------------------------------ the shared multi-power-law runs
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "curves" / "multipowerlaw" / "csv_100"
PILOTS = {"cosine_24000": "cosine(warmup=2160, floor=0.1, warmup_init=0.01)",
          "constant_24000": "constant(warmup=2160, warmup_init=0.01)"}
WSD = 'wsd(warmup=2160, decay=0.1667, form="exp", floor=0.1, warmup_init=0.01)'


def with_step0(name: str, tmp: Path) -> str:
    """A shared run as a user's log: the validation loss of the issue (10.9 at step 0, at initialisation,
    under a warmup from 1% of the peak LR) before the published rows, here as both loss and val_loss."""
    rows = [r.split(",") for r in (DATA / f"{name}.csv").read_text().split()[1:]]
    out = tmp / f"{name}.csv"
    out.write_text("step,loss,val_loss\n0,10.9,10.9\n" + "".join(f"{s},{loss},{loss}\n" for s, _, loss in rows))
    return str(out)


@pytest.fixture(scope="module")
def shared_fit(tmp_path_factory):
    """The shared 100M pilots with the step-0 row fitted on val_loss from the CLI: ``fit.json`` (20
    resamples), ``boot0.json`` and ``boot1.json`` (``--boot 0`` and ``--boot 1``)."""
    if not DATA.is_dir():
        pytest.skip(f"{DATA} not here")
    tmp = tmp_path_factory.mktemp("shared")
    paths = [with_step0(n, tmp) for n in PILOTS]
    for boot, name in ((20, "fit"), (0, "boot0"), (1, "boot1")):
        args = ["fit", *paths, *(a for s in PILOTS.values() for a in ("--schedule", s)), "--lr", "3e-4", "--steps",
                "24000", "--target", "val_loss", "--boot", str(boot), "--out", str(tmp / f"{name}.json")]
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 0
    return tmp


def test_plan_says_that_it_rests_on_undetermined_parameters(shared_fit, capsys):
    fit_file = str(shared_fit / "fit.json")
    flags = json.loads(Path(fit_file).read_text())["flags"]
    assert {"C", "beta", "gamma"} <= set(flags)
    code, out, err = run_cli(["plan", fit_file, "--steps", "24000", "--lr", "3e-4", "--family", "wsd", "--format", "json"],
                             capsys)
    assert code == 0, err
    lines = [x for x in err.splitlines() if x.startswith("lrkit: warning (undetermined)")]
    assert len(lines) == 1 and all(n in lines[0] for n in flags) and "the plan rests on" in lines[0]
    assert "the planned cooldown is the prior's choice" in lines[0]
    assert "undetermined" in [w["kind"] for w in json.loads(out)["warnings"]]


@pytest.mark.parametrize("boot", [0, 1])
def test_too_few_resamples_are_no_interval_in_the_table_or_the_api(shared_fit, boot, tmp_path, capsys):
    """One resample is no interval (its value need not even contain the estimate), none is none: the
    table and FitResult.interval say "no bootstrap", never "x .. x" or an empty cell."""
    from lrkit.laws import FitResult

    paths = [str(shared_fit / f"{n}.csv") for n in PILOTS]
    out = tmp_path / f"boot{boot}.json"
    code, text, err = run_cli(["fit", *paths, *(a for s in PILOTS.values() for a in ("--schedule", s)), "--lr", "3e-4",
                               "--steps", "24000", "--boot", str(boot), "--out", str(out)], capsys)
    assert code == 0, err
    res = FitResult.from_json(out)
    assert res.interval("L0") == "no bootstrap" and res.interval("gamma") == "not determined"
    row = next(x for x in text.splitlines() if x.strip("│┃ ").startswith("L0 "))
    assert "no bootstrap" in row and ".." not in row


def test_the_guide_states_the_band_calibration_the_code_uses():
    """docs/predict.md's "What the band means" names the forward-chaining folds of
    lrkit.laws.selection.CAL_FRACTIONS and the 90% quantile (it said "the first 60% of every pilot",
    the rule before the quantile calibration), and the csv option that writes the band."""
    from lrkit.laws.selection import CAL_FRACTIONS

    page = (Path(__file__).resolve().parents[2] / "docs" / "predict.md").read_text()
    text = " ".join(page.split("## What the band means", 1)[1].split("## ", 1)[0].split())
    folds = ", ".join(f"{round(100 * f)}" for f in CAL_FRACTIONS[:-1]) + f" and {round(100 * CAL_FRACTIONS[-1])}%"
    assert f"the first {folds} of every pilot" in text and "90% quantile" in text
    assert "60% of every pilot" not in text.replace(folds, "")
    assert "--band" in text and "lower,upper" in text


def test_a_fit_without_a_bootstrap_predicts_no_zero_width_band(shared_fit, capsys):
    """--boot 1 keeps the law's own error (the forward-chaining part of the band), --boot 0 has no band at
    all: neither prints a 90% band of zero width ("2.9392 .. 2.9392")."""
    from lrkit.laws import FitResult, predict
    from lrkit.laws.base import schedule_lr

    lr = schedule_lr(WSD, 24000, 3e-4)
    full = predict(FitResult.from_json(shared_fit / "fit.json"), lr, [23999])
    one = predict(FitResult.from_json(shared_fit / "boot1.json"), lr, [23999])
    assert one.lower[0] < one.loss[0] < one.upper[0]
    assert one.upper[0] - one.lower[0] == pytest.approx(full.upper[0] - full.lower[0], rel=0.3)
    args = ["--schedule", WSD, "--lr", "3e-4", "--steps", "24000", "--every", "8000"]
    code, out, err = run_cli(["predict", str(shared_fit / "boot0.json"), *args], capsys)
    assert code == 0 and "no band: the fit was made with --boot 0" in " ".join(out.split())
    assert not any(f"{x} .. {x}" in out for x in ("2.9392",))
    code, out, err = run_cli(["predict", str(shared_fit / "boot0.json"), *args, "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["band"] is False  # lower == upper == loss there is no band
    code, out, err = run_cli(["predict", str(shared_fit / "boot1.json"), *args, "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["band"] is True
    code, out, err = run_cli(["predict", str(shared_fit / "boot0.json"), *args, "--format", "csv", "--band"], capsys)
    assert code == 2 and "--band" in err and "--boot 0" in err and len(err.strip().splitlines()) == 1


def test_a_plan_from_a_fit_without_a_band_does_not_call_a_difference_real(shared_fit, capsys):
    """--boot 0: the plan's difference to the best standard schedule had a "90% band" of zero width, and the
    verdict said the plan was predicted better; without a band the plan cannot tell."""
    from lrkit.laws import FitResult, plan

    res = plan(FitResult.from_json(shared_fit / "boot0.json"), 24000, 3e-4, family="wsd")
    assert "whether that difference is real is not known" in res.verdict() and "band -" not in res.verdict()
    code, out, err = run_cli(["plan", str(shared_fit / "boot0.json"), "--steps", "24000", "--lr", "3e-4", "--family",
                              "wsd"], capsys)
    flat = " ".join(out.split())
    assert code == 0 and "is not known" in flat and ".. " not in flat.split("band", 1)[1]
    banded = plan(FitResult.from_json(shared_fit / "fit.json"), 24000, 3e-4, family="wsd")
    assert "is not known" not in banded.verdict() and "90% band" in banded.verdict()


def test_the_step0_loss_under_a_warmup_from_1pc_is_left_out_with_a_note_on_every_path(shared_fit, tmp_path, capsys):
    """The issue's case as a user gives it: a val_loss of 10.9 at step 0, the warmup from 1% of the peak LR
    (the LR area at step 0 is not 0).  fit leaves it out with the note and fits what it fits without the
    row; predict --run leaves it out with the note and compares the other 171 steps; the figure too."""
    doc = json.loads((shared_fit / "fit.json").read_text())
    assert doc["target"] == "val_loss"
    assert doc["notes"] == [f"run '{n}': left out 1 loss logged before step 2159, the end of the warmup (the first step "
                            "at the peak LR; the laws describe training after warmup)" for n in PILOTS]
    assert all(m["points"] == 171 for m in doc["metrics"].values())
    clean = []
    for n in PILOTS:
        lines = (shared_fit / f"{n}.csv").read_text().splitlines()
        (tmp_path / f"{n}.csv").write_text("\n".join([lines[0], *lines[2:]]) + "\n")
        clean.append(str(tmp_path / f"{n}.csv"))
    code, out, err = run_cli(["fit", *clean, *(a for s in PILOTS.values() for a in ("--schedule", s)), "--lr", "3e-4",
                              "--steps", "24000", "--target", "val_loss", "--boot", "20", "--out",
                              str(tmp_path / "clean.json")], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "clean.json").read_text())["params"] == doc["params"]
    target = with_step0("wsd_20000_24000", tmp_path)
    code, out, err = run_cli(["predict", str(shared_fit / "fit.json"), "--run", target, "--schedule", WSD, "--lr", "3e-4",
                              "--steps", "24000", "--plot", str(tmp_path / "p.png")], capsys)
    assert code == 0, err
    assert f"lrkit: note: {target}: run 'wsd_20000_24000': left out 1 loss logged before step 2159" in err
    assert "over 171 logged steps" in out and (tmp_path / "p.png").stat().st_size > 10_000


def test_the_python_summary_says_what_the_fit_left_out(shared_fit):
    """In a notebook, FitResult.summary() is what a user reads: the left-out step-0 loss is in it, not only in
    FitResult.notes."""
    from lrkit.laws import FitResult

    res = FitResult.from_json(shared_fit / "fit.json")
    s = res.summary()
    assert all(f"note: {n}" in s for n in res.notes) and "left out 1 loss logged before step 2159" in s
    assert "at the prior's centre" in s  # and the flags


def test_a_log_of_the_validation_loss_alone_serves_target_val_loss(shared_fit, tmp_path, capsys):
    """An eval-only log (step, val/loss: no training loss column) is refused for --target loss and fitted
    and compared for --target val_loss (it was refused for want of a 'loss' column the fit does not use)."""
    paths = []
    for n in PILOTS:
        rows = (shared_fit / f"{n}.csv").read_text().splitlines()[1:]
        (tmp_path / f"{n}.csv").write_text("step,val/loss\n" + "".join(f"{r.split(',')[0]},{r.split(',')[2]}\n"
                                                                       for r in rows))
        paths.append(str(tmp_path / f"{n}.csv"))
    args = [*paths, *(a for s in PILOTS.values() for a in ("--schedule", s)), "--lr", "3e-4", "--steps", "24000",
            "--boot", "20"]
    code, out, err = run_cli(["fit", *args, "--target", "val_loss", "--out", str(tmp_path / "v.json")], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "v.json").read_text())
    assert doc["target"] == "val_loss" and doc["params"] == json.loads((shared_fit / "fit.json").read_text())["params"]
    code, out, err = run_cli(["fit", *args, "--out", str(tmp_path / "l.json")], capsys)
    assert code == 2 and "no 'loss' column" in err
    code, out, err = run_cli(["predict", str(tmp_path / "v.json"), "--run", paths[1], "--schedule", PILOTS["constant_24000"],
                              "--lr", "3e-4", "--steps", "24000"], capsys)
    assert code == 0, err
    assert "over 171 logged steps" in out


@pytest.mark.parametrize("cell, says", [("inf", "validation loss is inf"), ("-1", "validation loss -1 is not positive")])
def test_a_bad_validation_loss_is_one_line_naming_its_row_and_clean_repairs_it(tmp_path, cell, says, capsys):
    """--target val_loss checks the validation loss as --target loss checks the loss (an infinite one
    reached the solver: 'Initial guess is outside of provided bounds')."""
    rows = ["step,lr,loss,val_loss"] + [f"{t},1e-3,{2 + ((t + 1) * 1e-3) ** -0.4!r},{2.1 + ((t + 1) * 1e-3) ** -0.4!r}"
                                        for t in range(0, 2000, 20)]
    rows[10] = rows[10].rsplit(",", 1)[0] + f",{cell}"
    path = tmp_path / "run.csv"
    path.write_text("\n".join(rows) + "\n")
    args = ["fit", str(path), "--target", "val_loss", "--law", "lra", "--boot", "0", "--out", str(tmp_path / "f.json")]
    code, out, err = run_cli(args, capsys)
    assert code == 2 and err.strip() == f"lrkit: error: {path}: row 11, column 'val_loss': {says}" + (
        "" if cell == "inf" else " (1 non-positive validation losses; a loss curve is positive): fix the file, or load "
                                 "with clean=True / --clean to leave them out")
    code, out, err = run_cli([*args, "--clean"], capsys)
    assert code == 0, err
    assert "validation losses (first at row 11)" in " ".join(out.split())
    assert json.loads((tmp_path / "f.json").read_text())["metrics"]["run"]["points"] == 98  # 100 rows less step 0, row 11


def test_the_python_fit_of_a_run_with_an_infinite_validation_loss_is_one_line(tmp_path):
    """lrkit.laws.fit on a run read for its training loss (load_run's default) and fitted on val_loss: the
    infinite value is named with its step (it reached the solver)."""
    from lrkit.laws import LawError, fit
    from lrkit.runs import load_run

    rows = ["step,lr,loss,val_loss"] + [f"{t},1e-3,{2 + ((t + 1) * 1e-3) ** -0.4!r},"
                                        f"{'inf' if t == 200 else repr(2.1 + ((t + 1) * 1e-3) ** -0.4)}"
                                        for t in range(0, 2000, 20)]
    (tmp_path / "run.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(LawError, match=r"^run 'run': the loss at step 200 is inf; losses must be positive finite"):
        fit([load_run(tmp_path / "run.csv")], "lra", target="val_loss", n_boot=0)


def test_an_older_fit_file_without_flags_claims_no_measured_interval(shared_fit, tmp_path, capsys):
    """A fit file written before the flags were stored loads with no flags, but its intervals are not
    called measurements (gamma sits at the prior's centre here), and plan says the flags are unknown."""
    from lrkit.laws import FitResult

    data = json.loads((shared_fit / "fit.json").read_text())
    del data["flags"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    old = FitResult.from_json(tmp_path / "old.json")
    assert old.flags == {} and old.interval("gamma") == "not checked (older fit file)"
    assert "flags: not checked" in old.summary()
    again = FitResult.from_json(old.to_json())
    assert again.interval("gamma") == "not checked (older fit file)"  # saved again, still not checked
    assert FitResult.from_json(shared_fit / "fit.json").flags_checked
    code, out, err = run_cli(["plan", str(tmp_path / "old.json"), "--steps", "24000", "--lr", "3e-4", "--family", "wsd"],
                             capsys)
    assert code == 0 and "warning (undetermined): the fit file was written before lrkit recorded" in err


def test_the_rank_warning_does_not_contradict_the_flags(tmp_path, capsys):
    """The charlm sweep's constant + cosine pilots: four parameters flagged (L0 at its bound, C, beta, gamma
    at the prior's centres) and a Jacobian of rank 6 of 7 -- the fit said both "not determined: L0, C,
    beta, gamma" and "only 6 of 7 parameters are determined by these runs"."""
    import csv

    src = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "charlm_cooldown_sweep_long.csv"
    want = {("constant(warmup=30)", "2000"): "constant", ("cosine(warmup=30)", "1000"): "cosine"}
    rows: dict[str, list[str]] = {v: [] for v in want.values()}
    for r in csv.DictReader(src.open()):
        name = want.get((r["schedule"], r["steps"]))
        if name and r["seed"] == "0" and r["peak_lr"] == "0.003":
            rows[name].append(f"{r['step']},{r['val_loss']}")
    paths = []
    for name, lines in rows.items():
        (tmp_path / f"{name}.csv").write_text("step,val_loss\n" + "\n".join(lines) + "\n")
        paths.append(str(tmp_path / f"{name}.csv"))
    code, out, err = run_cli(["fit", *paths, "--schedule", "constant(warmup=30)", "--schedule", "cosine(warmup=30)",
                              "--lr", "3e-3", "--target", "val_loss", "--boot", "50", "--out", str(tmp_path / "f.json")],
                             capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "f.json").read_text())
    free = len(doc["params"])
    assert free - doc["rank"] <= len(doc["flags"]) and len(doc["flags"]) >= 3
    assert "warning (undetermined)" in err and "warning (rank)" not in err


def test_the_figures_of_a_fit_without_a_band_draw_none(shared_fit, tmp_path):
    """The prediction figure labelled a zero-width fill '90% band' for a --boot 0 fit; the fit figure's title
    named one."""
    import matplotlib

    matplotlib.use("Agg")
    from lrkit.laws import FitResult, predict
    from lrkit.laws.base import schedule_lr

    lr = schedule_lr(WSD, 24000, 3e-4)
    for name, banded in (("boot0.json", False), ("fit.json", True)):
        ax = predict(FitResult.from_json(shared_fit / name), lr).plot()
        labels = ax.get_legend_handles_labels()[1]
        assert ("90% band" in labels) == banded


def test_fit_steps_are_refused_up_front_at_the_runs_limit(tmp_path, capsys):
    """fit --steps accepted up to 10^8 (its help said so) and the run then refused anything above 10^7."""
    from lrkit.runs.base import MAX_STEPS

    path = tmp_path / "run.csv"
    path.write_text("step,loss\n" + "".join(f"{t},{2 + ((t + 1) * 1e-3) ** -0.4!r}\n" for t in range(0, 400, 20)))
    code, out, err = run_cli(["fit", str(path), "--schedule", "constant()", "--lr", "1e-3", "--steps",
                              str(MAX_STEPS + 1), "--out", str(tmp_path / "f.json")], capsys)
    assert code == 2 and "'--steps'" in err and f"({MAX_STEPS:,}," in err
    code, out, err = run_cli(["fit", "--help"], capsys)
    assert f"at most {MAX_STEPS:,}" in " ".join(out.split())


def test_predict_run_can_clean_what_its_error_tells_to_clean(tmp_path, capsys):
    """A val_loss column with 'nan' cells (a pandas export): predict --run said 'repair with clean/--clean',
    and had no --clean."""
    rows = ["step,lr,loss,val_loss"] + [f"{t},1e-3,{2 + ((t + 1) * 1e-3) ** -0.4!r},"
                                        f"{'nan' if t % 100 else repr(2.1 + ((t + 1) * 1e-3) ** -0.4)}"
                                        for t in range(0, 2000, 20)]
    path = tmp_path / "run.csv"
    path.write_text("\n".join(rows) + "\n")
    code, out, err = run_cli(["fit", str(path), "--target", "val_loss", "--law", "lra", "--boot", "0", "--clean",
                              "--out", str(tmp_path / "f.json")], capsys)
    assert code == 0, err
    code, out, err = run_cli(["predict", str(tmp_path / "f.json"), "--run", str(path)], capsys)
    assert code == 2 and "--clean" in err
    code, out, err = run_cli(["predict", str(tmp_path / "f.json"), "--run", str(path), "--clean"], capsys)
    assert code == 0, err
    assert "ignored 80 NaN values in column 'val_loss'" in err and "over 19 logged steps" in out
    code, out, err = run_cli(["predict", str(tmp_path / "f.json"), "--schedule", "constant()", "--lr", "1e-3",
                              "--steps", "2000", "--clean"], capsys)
    assert code == 2 and "--clean repairs the --run" in err


@pytest.mark.parametrize("columns", [80, 200])
def test_the_parameter_table_fits_the_terminal_and_keeps_its_flags_whole(shared_fit, tmp_path, capsys, monkeypatch,
                                                                         columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    paths = [str(shared_fit / f"{n}.csv") for n in PILOTS]
    code, out, err = run_cli(["fit", *paths, *(a for s in PILOTS.values() for a in ("--schedule", s)), "--lr", "3e-4",
                              "--steps", "24000", "--target", "val_loss", "--boot", "20", "--out",
                              str(tmp_path / "f.json")], capsys)
    assert code == 0, err
    table = out.split("parameters", 1)[1].split("fit quality", 1)[0]
    assert all(len(x) <= columns for x in out.splitlines())
    rows = [x for x in table.splitlines() if x.startswith("│") and x.strip("│ ").split(" ")[0] in ("C", "beta", "gamma")]
    assert len(rows) == 3 and all("not determined" in r and "at the prior's centre" in r for r in rows)
    assert len([x for x in err.splitlines() if "warning (undetermined)" in x]) == 1


def test_predict_says_which_parameters_its_prediction_rests_on_the_prior_for(shared_fit, capsys):
    """The table ends with one line naming the fit file's flags, the JSON lists them; the csv is rows alone."""
    args = ["predict", str(shared_fit / "fit.json"), "--schedule", WSD, "--lr", "3e-4", "--steps", "24000"]
    code, out, err = run_cli(args, capsys)
    flat = " ".join(out.split())
    assert code == 0 and "not determined by the pilots (the fit file's flags): C, beta, gamma" in flat
    code, out, err = run_cli([*args, "--format", "json"], capsys)
    assert {"C", "beta", "gamma"} <= set(json.loads(out)["undetermined"])
    code, out, err = run_cli([*args, "--format", "csv"], capsys)
    assert "not determined" not in out + err
