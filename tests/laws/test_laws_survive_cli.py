"""Issue 12, tried as a user would from the CLI: the stated rule for the points a law cannot describe on
every path, validation loss as a target, and the parameters the pilots do not determine, in the commands
that use a fit file."""

from __future__ import annotations

import json

import pytest

from lrkit.cli import main


def run_cli(args, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


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
    path.write_text("step,lr,loss,validation_loss\n" + "".join(
        f"{t},1e-3,{2 + ((t + 1) * 1e-3) ** -0.4!r},{2.1 + ((t + 1) * 1e-3) ** -0.4!r}\n" for t in range(0, 400, 20)))
    code, out, err = run_cli(["fit", str(path), "--target", "val_loss", "--out", str(tmp_path / "f.json")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no 'val_loss' column" in err and "--column val_loss=NAME" in err and "'eval/loss'" in err
    code, out, err = run_cli(["fit", str(path), "--target", "val_loss", "--column", "val_loss=validation_loss",
                              "--law", "lra", "--boot", "0", "--out", str(tmp_path / "f.json")], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "f.json").read_text())["target"] == "val_loss"
