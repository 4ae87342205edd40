"""A hand-edited fit file: every field out of its type or range is refused in one line naming the file
and the field (lrkit.laws.fit_file), by FitResult.from_json and by the predict and plan commands."""

from __future__ import annotations

import json

import pytest

from lrkit.laws import LawError
from lrkit.laws.result import FitResult

#: (field path, value written there, what the message says)
EDITS = [
    ("params.L0", "2.7", "params.L0 must be a finite number in [0, ∞), got '2.7'"),
    ("params.A", None, "params.A must be a finite number"),
    ("params.alpha", -0.5, "params.alpha must be a finite number in [0.001, 3], got -0.5"),
    ("params.alpha", float("inf"), "params.alpha must be a finite number"),
    ("params.alpha", float("nan"), "params.alpha must be a finite number"),
    ("params.C", 10**400, "params.C must be a finite number"),
    ("params.C", True, "got True"),
    ("params.A", 1e300, "params.A must be a finite number in [1e-08, 10000]"),
    ("params.zeta", 1.0, "params has 'zeta', not a parameter of the lra law"),
    ("model_error", "x", "model_error must be an object"),
    ("model_error.a", -1.0, "model_error.a must be a finite number in [0, ∞)"),
    ("band_level", 5, "band_level must be a finite number in (0, 1)"),
    ("flags", "gamma", "flags must be an object"),
    ("warmup", "abc", "warmup must be a whole number"),
    ("warmup", 10**12, "warmup must be a whole number in [0, 10,000,000]"),
    ("warmup", -100, "warmup must be a whole number"),
    ("param_samples", "x", "param_samples must be a list"),
    ("param_samples", [[1.0, 2.0]], "param_samples must be rows of 4 numbers"),
    ("runs", "abc", "runs must be a list of run names"),
    ("totals", "x", "totals must be a list of step counts"),
    ("fixed", {"nope": 1.0}, "fixed names 'nope', not a parameter of the law"),
    ("domain", "x", "domain must be an object"),
    ("domain.lr_min", -1.0, "domain.lr_min must be a finite number in (0, ∞)"),
    ("domain.convention", "pytorch", "convention='pytorch' is not a preset"),
    ("law_options", [1], "law_options must be an object"),
    ("law_options.lam", "abc", "lra lam must be a number in [0, 1)"),
    ("law", 3, "law must be a law's name, got 3"),
    ("law", "powerlaw", "unknown law 'powerlaw'"),
    ("surprise", 1, "unknown field 'surprise'"),
    ("law_options.x", 1, "law 'lra' takes only the option 'lam', got ['x']"),
    ("domain.warmups", [], "domain.warmups must be a list of step counts, one per pilot"),
    ("flags", {"L0": ["a", "b"]}, "flags.L0 must be text"),
    ("domain.convention", 5, "(domain.convention must be a convention's name, got 5)"),
]


def _edited(path, field: str, value) -> dict:
    data = json.loads(open(path).read())
    *outer, last = field.split(".")
    node = data
    for key in outer:
        node = node[key]
    node[last] = value
    return data


@pytest.mark.parametrize("field, value, says", EDITS, ids=[f"{f}={v!r}"[:40] for f, v, _ in EDITS])
def test_an_edited_field_is_refused_with_its_name(lra_fit_file, tmp_path, field, value, says):
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(_edited(lra_fit_file, field, value)))
    with pytest.raises(LawError) as exc:
        FitResult.from_json(path)
    msg = str(exc.value)
    assert "edited.json: malformed fit file (" in msg and says in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize("key", ["law", "params", "runs"])
def test_a_missing_required_field_is_named(lra_fit_file, tmp_path, key):
    data = json.loads(open(lra_fit_file).read())
    del data[key]
    (tmp_path / "f.json").write_text(json.dumps(data))
    with pytest.raises(LawError, match=f"malformed fit file \\(it lacks '{key}'\\)"):
        FitResult.from_json(tmp_path / "f.json")


@pytest.mark.parametrize("version", [2, True, 1.0, "1"])
def test_another_version_is_named(lra_fit_file, tmp_path, version):
    data = {**json.loads(open(lra_fit_file).read()), "lrkit_fit": version}
    (tmp_path / "f.json").write_text(json.dumps(data))
    with pytest.raises(LawError, match=f"fit file version {version!r}; this lrkit reads version 1"):
        FitResult.from_json(tmp_path / "f.json")


def test_what_a_fit_writes_is_read_back(lra_fit, lra_fit_file):
    back = FitResult.from_json(lra_fit_file)
    assert back.params == lra_fit.params and back.model_error == lra_fit.model_error


def test_predict_and_plan_refuse_an_edited_file_in_one_line(lra_fit_file, tmp_path, capsys):
    from lrkit.cli import main

    path = tmp_path / "edited.json"
    path.write_text(json.dumps(_edited(lra_fit_file, "params.alpha", -0.5)))
    for args in (["predict", str(path), "--schedule", "cosine(warmup=100)", "--lr", "1e-3", "--steps", "2000"],
                 ["plan", str(path), "--family", "wsd", "--lr", "1e-3", "--steps", "2000"]):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "params.alpha must be a finite number in [0.001, 3]" in err, err


def test_predict_before_the_pilots_warmup_is_refused(lra_fit_file, capsys):
    """Every step asked for before the end of the pilots' warmup (100 steps): nothing to predict, so one
    line and exit 2, not a table of NaN."""
    from lrkit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["predict", lra_fit_file, "--schedule", "constant(warmup=10)", "--lr", "1e-3", "--steps", "50"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is before step 99, where predictions start" in err, err


@pytest.mark.parametrize("spec, says", [
    ("wsd(warmup=100, decay=3000)", "the decay is cut short"),
    ("sequence(constant(warmup=100), linear(), boundaries=[3000])", "those phases never run"),
    ("wsd(warmup=100, decay=0.2)", None),
])
def test_predict_warns_when_the_schedules_phases_do_not_fit_the_run(lra_fit_file, capsys, spec, says):
    from lrkit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["predict", lra_fit_file, "--schedule", spec, "--lr", "1e-3", "--steps", "2000"])
    assert exc.value.code == 0
    err = capsys.readouterr().err
    if says is None:
        assert "warning (schedule)" not in err
    else:
        assert "warning (schedule): " in err and says in err, err


def test_a_run_as_long_as_the_pilots_warmup_is_not_said_to_end_before_it():
    """A run of 2,160 steps reaches the end of a 2,160-step warmup (its last step is the first fitted)."""
    from lrkit.laws.domain import Domain, check_schedule

    d = Domain(3e-4, 3e-4, 24000, (2160, 2160), 0.1)
    said = lambda n: [f.message for f in check_schedule(d, peak_lr=3e-4, horizon=n, warmup=2160) if f.kind == "warmup"]
    assert said(2160) == [] and said(2159) == ["the 2,159 steps end before the pilots' warmup of 2,160 steps does: the fit saw no loss that early"]


def test_fit_checks_the_out_folder_before_fitting(pilot_files, tmp_path, capsys):
    from lrkit.cli import main

    for opt in ("--out", "--plot"):
        args = ["fit", *pilot_files.values(), "--out", str(tmp_path / "f.json"), "--boot", "2"]
        args += [opt, str(tmp_path / "missing" / "x.png" if opt == "--plot" else tmp_path / "missing" / "f.json")]
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"Invalid value for {opt}: the folder" in err and "does not exist" in err
        assert not (tmp_path / "f.json").exists()
