"""Issue 13: a fit reports how well it describes each pilot and which parameters sit at a bound; a fit that
does not describe its pilots is refused (exit 2, one line) unless --force; validation loss is a target."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from laws_cli import run_cli
from lrkit.laws import FitResult, fit
from lrkit.runs import load_run


@pytest.fixture()
def wavy(tmp_path) -> str:
    """A 'run' no loss-curve law describes: the loss oscillates around a constant LR."""
    rows = ["step,lr,loss"] + [f"{t},0.001,{3.0 + 0.3 * math.sin(t / 150) if t % 20 == 0 and t >= 100 else ''}"
                               for t in range(2000)]
    (tmp_path / "wavy.csv").write_text("\n".join(rows) + "\n")
    return str(tmp_path / "wavy.csv")


def test_a_fit_that_does_not_describe_its_pilots_is_refused_unless_force(wavy, tmp_path, capsys):
    out = tmp_path / "f.json"
    code, _, err = run_cli(["fit", wavy, "--law", "lra", "--boot", "0", "--out", str(out)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "does not describe its pilots" in err and "R² 0.1" in err and "--force" in err
    assert not out.exists()
    code, stdout, err = run_cli(["fit", wavy, "--law", "lra", "--boot", "0", "--out", str(out), "--force"], capsys)
    assert code == 0 and out.is_file()
    assert "lrkit: warning (fit): run 'wavy': R² 0.1" in err
    assert "lrkit: warning (bounds): L0 ended at a bound" in err and "at its upper bound" in stdout  # the flags column
    back = FitResult.from_json(out)
    assert back.at_bounds == ["L0"] and back.problems() == [f"run 'wavy': R² {back.metrics['wavy']['r2']:.3g} < 0.9"]


def test_a_good_fit_has_no_problems_and_its_diagnostics_in_the_file(lra_fit, tmp_path):
    assert lra_fit.problems() == [] and lra_fit.at_bounds == []
    doc = json.loads(lra_fit.to_json())
    for name in ("cosine", "constant"):
        m = doc["metrics"][name]
        assert m["r2"] > 0.999 and m["max_rel_error"] < 1e-3
        pilot = doc["pilots"][name]
        assert len(pilot["steps"]) == len(pilot["loss"]) == len(pilot["fitted"]) <= 300


def test_fit_target_val_loss(pilot_files, tmp_path, capsys):
    out = tmp_path / "val.json"
    code, stdout, err = run_cli(["fit", *pilot_files.values(), "--law", "lra", "--boot", "0", "--target", "val_loss",
                                 "--out", str(out)], capsys)
    assert code == 0, err
    val = FitResult.from_json(out)
    train = fit([load_run(p) for p in pilot_files.values()], "lra", n_boot=0)
    assert val.target == "val_loss" and train.target == "loss" and "fit quality (val_loss)" in stdout
    # val_loss = 1.01 loss + 0.05: the irreducible loss moves with it
    assert val.params["L0"] == pytest.approx(1.01 * train.params["L0"] + 0.05, rel=2e-3)
    api = fit([load_run(p) for p in pilot_files.values()], "lra", n_boot=0, target="val_loss")
    assert api.params == pytest.approx(val.params)


def test_predict_run_compares_with_the_fitted_target(pilot_files, tmp_path, capsys):
    out = tmp_path / "val.json"
    assert run_cli(["fit", *pilot_files.values(), "--law", "lra", "--boot", "0", "--target", "val_loss",
                    "--out", str(out)], capsys)[0] == 0
    code, stdout, err = run_cli(["predict", str(out), "--run", pilot_files["cosine"], "--format", "json"], capsys)
    doc = json.loads(stdout)
    rel = np.abs(np.array(doc["loss"]) - np.array(doc["observed"])) / np.array(doc["observed"])
    assert doc["target"] == "val_loss" and rel.max() < 1e-3
