"""Issue 13: a cooldown branch (logged only from its branch point) fitted and predicted together with its
base run (--base), and --convention on fit, predict and plan, recorded in the fit's domain."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lrkit
from laws_cli import run_cli
from lrkit.laws import FitResult

N = 2000


@pytest.fixture(scope="module")
def wsd_runs(runfile, tmp_path_factory):
    """A constant run and a 20% cooldown branched from it at step 1600, which logs only from there."""
    d = tmp_path_factory.mktemp("wsd")
    base = runfile(d / "constant.csv", "constant(warmup=100)", noise=1e-4)
    full = d / "full.csv"
    runfile(full, "wsd(decay=0.2, form='linear', warmup=100)", noise=1e-4)
    lines = full.read_text().splitlines()
    (d / "cooldown.csv").write_text("\n".join([lines[0]] + lines[1 + 1600:]) + "\n")  # steps 1600..1999
    return base, str(d / "cooldown.csv")


def test_fit_a_branch_with_its_base(wsd_runs, tmp_path, capsys):
    base, branch = wsd_runs
    out = tmp_path / "fit.json"
    code, _, err = run_cli(["fit", base, branch, "--law", "lra", "--boot", "0", "--out", str(out)], capsys)
    assert code == 2 and "LR logged only from step 1600" in err  # alone, the branch's LR before is unknown
    code, stdout, err = run_cli(["fit", base, branch, "--law", "lra", "--boot", "0", "--out", str(out),
                                 "--base", "cooldown.csv=" + base], capsys)
    assert code == 0, err
    assert "joined to its base" in stdout
    fit = FitResult.from_json(out)
    assert fit.metrics["cooldown"]["points"] == 75 + 20  # the base's losses before 1600, then the branch's
    assert fit.metrics["cooldown"]["max_rel_error"] < 2e-3
    code, stdout, err = run_cli(["predict", str(out), "--run", branch, "--base", base, "--format", "json"], capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    rel = np.abs(np.array(doc["loss"]) - doc["observed"]) / doc["observed"]
    assert doc["steps"][-1] == N - 1 and rel.max() < 2e-3


def test_base_may_name_one_of_the_runs_by_its_file_name(wsd_runs, tmp_path, capsys, monkeypatch):
    """--base cooldown.csv=constant.csv, the runs given by a path from elsewhere: BASE was refused as
    'constant.csv: no such file' though the base is one of the RUNs (BRANCH was already found by name)."""
    base, branch = wsd_runs
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run_cli(["fit", base, branch, "--law", "lra", "--boot", "0", "--out", str(tmp_path / "f.json"),
                                 "--base", "cooldown.csv=constant.csv"], capsys)
    assert code == 0 and "joined to its base" in stdout, err
    assert FitResult.from_json(tmp_path / "f.json").metrics["cooldown"]["points"] == 75 + 20


@pytest.mark.parametrize("bad, match", [("cooldown.csv", "expected BRANCH=BASE"), ("nope=x.csv", "names none"),
                                        ("cooldown=cooldown.csv", "given itself as its base")])
def test_base_errors_are_one_line(wsd_runs, tmp_path, capsys, bad, match):
    code, _, err = run_cli(["fit", *wsd_runs, "--law", "lra", "--out", str(tmp_path / "f.json"), "--base", bad], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and match in err


def test_convention_on_fit_predict_and_plan(pilot_files, tmp_path, capsys):
    out = tmp_path / "torch.json"
    code, _, err = run_cli(["fit", *pilot_files.values(), "--law", "lra", "--boot", "0", "--out", str(out),
                            "--schedule", "cosine(warmup=100, floor=0.1)", "--schedule", "constant(warmup=100)",
                            "--lr", "1e-3", "--convention", "torch"], capsys)
    assert code == 0, err
    fit = FitResult.from_json(out)
    assert fit.validity.convention == "torch"
    torch_lr = lrkit.parse("cosine(warmup=100, floor=0.1)").sample(N, "torch")
    assert torch_lr[0] == 0 and fit.validity.warmups == (101, 101)  # torch: LR 0 at step 0, the peak at step 100
    # plan and predict use the pilots' convention unless told otherwise (then warned)
    code, stdout, err = run_cli(["plan", str(out), "--steps", str(N), "--lr", "1e-3", "--family", "cosine",
                                 "--format", "json"], capsys)
    assert code == 0 and json.loads(stdout)["convention"] == "torch" and "warning" not in err
    code, stdout, err = run_cli(["predict", str(out), "--schedule", "cosine(warmup=100)", "--lr", "1e-3", "--steps",
                                 str(N), "--format", "json", "--convention", "lrkit"], capsys)
    assert code == 0 and [w["kind"] for w in json.loads(stdout)["warnings"]] == ["convention"]
    code, stdout, err = run_cli(["predict", str(out), "--schedule", "cosine(warmup=100)", "--lr", "1e-3", "--steps",
                                 str(N), "--format", "json"], capsys)
    doc = json.loads(stdout)
    assert doc["convention"] == "torch" and doc["warnings"] == []


def test_plan_warmup_is_the_pilots_ramp_under_their_convention(pilot_files, tmp_path, capsys):
    """Pilots trained with torch's warmup=100 reach the peak at step 100 (the fit measures 101 steps of
    ramp); the plan wrote warmup=101, one step longer than the pilots' ramp. It now writes warmup=100."""
    out = tmp_path / "torch.json"
    code, _, err = run_cli(["fit", *pilot_files.values(), "--law", "lra", "--boot", "0", "--out", str(out),
                            "--schedule", "cosine(warmup=100, floor=0.1)", "--schedule", "constant(warmup=100)",
                            "--lr", "1e-3", "--convention", "torch"], capsys)
    assert code == 0, err
    code, stdout, err = run_cli(["plan", str(out), "--steps", str(N), "--lr", "1e-3", "--family", "wsd",
                                 "--format", "json"], capsys)
    doc = json.loads(stdout)
    assert code == 0 and doc["warmup"] == 100 and "warmup=100" in doc["best"]["spec"], err
    pilots = lrkit.parse("constant(warmup=100)").sample(N, "torch")[:101]
    planned = lrkit.parse(doc["best"]["spec"]).sample(N, "torch")[:101]
    assert np.array_equal(planned, pilots)
    code, stdout, err = run_cli(["plan", str(out), "--steps", str(N), "--lr", "1e-3", "--family", "wsd",
                                 "--format", "json", "--convention", "lrkit"], capsys)
    assert code == 0 and json.loads(stdout)["warmup"] == 101  # lrkit's warmup=101 peaks at step 100 too
