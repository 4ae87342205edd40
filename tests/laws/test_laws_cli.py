"""lrkit fit -> predict -> plan end to end on the shared real curves; exit codes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lrkit.cli import laws as cli_laws

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "curves" / "multipowerlaw" / "csv_100"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared data not available")


def group() -> click.Group:
    g = click.Group("lrkit")
    cli_laws.register(g)
    return g


@pytest.fixture(scope="module")
def fit_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "fit.json"
    res = CliRunner().invoke(group(), [
        "fit", str(DATA / "cosine_24000.csv"), str(DATA / "constant_24000.csv"),
        "--schedule", "cosine(warmup=2160, floor=0.1)", "--schedule", "constant(warmup=2160)",
        "--lr", "3e-4", "--total", "24000", "--out", str(out), "--boot", "30"])
    assert res.exit_code == 0, res.output
    assert "alpha" in res.output and "cosine_24000" in res.output
    return out


@needs_data
def test_fit_predict_plan(fit_file, tmp_path):
    g = group()
    res = CliRunner().invoke(g, ["predict", str(fit_file), "--schedule", 'wsd(decay=0.2, warmup=2160)', "--lr", "3e-4",
                                 "--steps", "24000", "--every", "4000", "--format", "csv"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0] == "step,loss" and lines[-1].startswith("23999,")
    final = float(lines[-1].split(",")[1])
    assert 2.8 < final < 3.2
    res = CliRunner().invoke(g, ["predict", str(fit_file), "--run", str(DATA / "wsdcon_3.csv"),
                                 "--schedule", "constant(warmup=2160)", "--lr", "3e-4", "--format", "csv"])
    assert res.exit_code == 0, res.output  # the given schedule is taken as the run's LR
    # (csv on stdout; stderr says that the schedule contradicts the run's logged lr column, issue 13)
    assert res.stdout.splitlines()[0] == "step,loss" and res.stdout.splitlines()[1].startswith("2176,")
    assert "logged lr column" in res.stderr
    res = CliRunner().invoke(g, ["plan", str(fit_file), "--steps", "24000", "--lr", "3e-4", "--family", "wsd",
                                 "--plot", str(tmp_path / "plan.png")])
    assert res.exit_code == 0, res.output
    assert "recommended" in res.output and "wsd(" in res.output and (tmp_path / "plan.png").stat().st_size > 10_000


@needs_data
def test_predict_run_table(fit_file):
    res = CliRunner().invoke(group(), ["predict", str(fit_file), "--run", str(DATA / "wsd_20000_24000.csv"),
                                       "--schedule", 'wsd(decay=0.1667, form="exp", floor=0.1, warmup=2160)',
                                       "--lr", "3e-4", "--steps", "24000"])
    assert res.exit_code == 0, res.output
    assert "mean |error|" in res.output


@needs_data
@pytest.mark.parametrize("args, match", [
    (["predict", "{fit}", "--schedule", "cosine(", "--lr", "3e-4", "--steps", "100"], ""),
    (["predict", "{fit}", "--steps", "100"], "give --schedule"),
    (["predict", "missing.json", "--run", "x.csv"], "cannot read fit file"),
    (["plan", "{fit}", "--steps", "5", "--lr", "3e-4"], "at least 10"),
    (["fit", str(DATA / "cosine_24000.csv"), "--out", "x.json"], "LR logged only from step 2160"),
    (["fit", "nope.csv", "--out", "x.json"], "no such file"),
])
def test_errors_are_one_line_exit_2(fit_file, args, match):
    from lrkit.cli import main

    args = [a.replace("{fit}", str(fit_file)) for a in args]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2


@needs_data
def test_errors_message(fit_file, capsys):
    from lrkit.cli import main

    with pytest.raises(SystemExit):
        main(["fit", str(DATA / "cosine_24000.csv"), "--out", "x.json"])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "LR logged only from step 2160" in err


@needs_data
def test_fit_fix_parameter(tmp_path):
    out = tmp_path / "fixed.json"
    args = ["fit", str(DATA / "cosine_24000.csv"), str(DATA / "constant_24000.csv"),
            "--schedule", "cosine(warmup=2160, floor=0.1)", "--schedule", "constant(warmup=2160)",
            "--lr", "3e-4", "--total", "24000", "--out", str(out), "--boot", "10", "--fix", "gamma=0.6"]
    res = CliRunner().invoke(group(), args)
    assert res.exit_code == 0, res.output
    assert "fixed" in res.output and '"gamma": 0.6' in out.read_text()
    from lrkit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args[:-1] + ["gamma"])
    assert exc.value.code == 2


@needs_data
def test_fit_law_option(tmp_path, capsys):
    """--law-option reaches the law and its fit file (the bound's reference weight); a wrong name or
    value is one line and exit 2, and leaves an existing fit file as it was."""
    import json

    from lrkit.cli import main

    out = tmp_path / "bound.json"
    args = ["fit", str(DATA / "cosine_24000.csv"), str(DATA / "constant_24000.csv"),
            "--schedule", "cosine(warmup=2160, floor=0.1)", "--schedule", "constant(warmup=2160)",
            "--lr", "3e-4", "--total", "24000", "--out", str(out), "--boot", "5", "--law", "bound"]
    res = CliRunner().invoke(group(), args + ["--law-option", "last=schedule"])
    assert res.exit_code == 0, res.output
    written = out.read_text()
    assert json.loads(written)["law_options"] == {"last": "schedule"}
    res = CliRunner().invoke(group(), args)
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["law_options"] == {"last": "previous"}  # the default, written out
    kept = out.read_text()
    for bad, says in (("last=bogus", "bound last must be one of"), ("lam=0.5", "takes only the option 'last'"),
                      ("last", "expected NAME=VALUE")):
        with pytest.raises(SystemExit) as exc:
            main(args + ["--law-option", bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and says in err, err
        assert out.read_text() == kept
    lra = [a if a != "bound" else "lra" for a in args]
    with pytest.raises(SystemExit) as exc:
        main(lra + ["--law-option", "lam=abc"])
    assert exc.value.code == 2 and "lra lam must be a number in [0, 1)" in capsys.readouterr().err


@needs_data
def test_fit_law_option_the_lra_law_does_not_take(tmp_path, capsys):
    from lrkit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["fit", str(DATA / "cosine_24000.csv"), str(DATA / "constant_24000.csv"),
              "--schedule", "cosine(warmup=2160, floor=0.1)", "--schedule", "constant(warmup=2160)",
              "--lr", "3e-4", "--total", "24000", "--out", str(tmp_path / "f.json"), "--law", "lra",
              "--law-option", "last=schedule"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "law 'lra' takes only the option 'lam', got ['last']" in err, err
