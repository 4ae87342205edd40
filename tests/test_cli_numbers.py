"""Numbers on the command line: step counts as people write them (1e4, 10k), durations as steps or a
fraction, and one spelling of the number of steps (``--steps``/``-n``) on every command."""

from __future__ import annotations

import csv
import io
import json

import click
import pytest

from lrkit.cli import cli, main
from lrkit.cli.params import DURATION, STEPS


@pytest.mark.parametrize("text,steps", [("10000", 10000), ("1e4", 10000), ("1E4", 10000), ("2.5e3", 2500),
                                        ("10k", 10000), ("10K", 10000), ("2.5M", 2_500_000), ("1B", 10**9),
                                        ("100.0", 100), ("-5", -5), ("0", 0), (" 12 ", 12)])
def test_step_counts_are_read_as_written(text, steps):
    assert STEPS.convert(text, None, None) == steps
    assert type(STEPS.convert(text, None, None)) is int


@pytest.mark.parametrize("text,needle", [("1_0", "underscore; write 10"), ("١٠", "non-ASCII"), ("１０", "non-ASCII"),
                                         ("abc", "not a valid integer"), ("1e-3", "not a whole number"),
                                         ("2.5", "not a whole number"), ("1.5k", "1.5k"), ("10x", "not a valid"),
                                         ("nan", "not a valid"), ("inf", "not a valid"), ("1e400", "too many"),
                                         ("", "not a valid"), ("k", "not a valid"), ("0x10", "not a valid")])
def test_bad_step_counts_are_one_line(text, needle):
    if text == "1.5k":  # 1500: a whole number after all
        assert STEPS.convert(text, None, None) == 1500
        return
    with pytest.raises(click.BadParameter, match=needle):
        STEPS.convert(text, None, None)


@pytest.mark.parametrize("text,value", [("50", 50), ("0", 0), ("0.05", 0.05), ("5e-2", 0.05), ("1.0", 1.0),
                                        ("1e3", 1000), ("2k", 2000), ("100.0", 100)])
def test_durations_are_steps_or_a_fraction(text, value):
    out = DURATION.convert(text, None, None)
    assert out == value and type(out) is type(value)


@pytest.mark.parametrize("text", ["2.5", "1_000", "0.05x", "-0.5"])
def test_bad_durations_are_refused(text):
    with pytest.raises(click.BadParameter):
        DURATION.convert(text, None, None)


def _run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.mark.parametrize("n", ["1e3", "1k"])
def test_show_takes_1e3_and_1k(n, capsys):
    code, out, err = _run(["show", "cosine()", "-n", n, "-f", "csv"], capsys)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) == 1001 and rows[-1][0] == "999"


def test_refine_takes_a_step_count_and_a_fractional_warmup(tmp_path, capsys):
    runfile = tmp_path / "norms.csv"
    runfile.write_text("step,loss,grad_norm\n" + "".join(f"{t},{3 - t / 100},1.0\n" for t in range(100)))
    code, out, err = _run(["refine", str(runfile), "-n", "1k", "--warmup", "0.05", "-f", "csv"], capsys)
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1001


def test_every_command_spells_the_number_of_steps_steps_and_n():
    """One spelling: every command with a number of steps takes ``--steps`` and ``-n``."""
    with_steps = []
    for name, cmd in cli.commands.items():
        for p in cmd.params:
            if "--steps" in p.opts or "--total" in p.opts:
                assert "-n" in p.opts + p.secondary_opts, (name, p.opts)
                assert isinstance(p.type, type(STEPS)), (name, p.type)
                with_steps.append(name)
    assert {"show", "lint", "fit", "predict", "plan", "refine"} <= set(with_steps)
    fit_steps = next(p for p in cli.commands["fit"].params if "--steps" in p.opts)
    assert "--total" in fit_steps.opts  # the old spelling stays an alias
    assert "--total" in fit_steps.help


@pytest.fixture(scope="module")
def fit_file(tmp_path_factory):
    from lrkit.laws import Curve, fit
    from lrkit.laws.base import schedule_lr

    d = tmp_path_factory.mktemp("fit")
    curves = []
    for spec in ("cosine(warmup=100)", "constant(warmup=100)"):
        lr = schedule_lr(spec, 2000, 1e-3)
        steps = __import__("numpy").arange(100, 2000, 10)
        area = __import__("numpy").cumsum(lr)[steps]
        curves.append(Curve(spec, lr, steps, 2.5 + 3.0 * (area + 0.01) ** -0.4 - 0.3 * (1e-3 - lr[steps]) / 1e-3))
    path = d / "fit.json"
    fit(curves, "lra", n_boot=0).to_json(path)
    return str(path)


def test_plan_takes_a_fractional_warmup_and_1e4_steps(fit_file, capsys):
    code, out, err = _run(["plan", fit_file, "-n", "2e3", "--lr", "1e-3", "--family", "wsd", "--warmup", "0.05"], capsys)
    assert code == 0, err
    assert "warmup=100" in " ".join(out.split())  # 5% of 2,000 steps


def test_fit_takes_steps_and_the_old_total(fit_file, tmp_path, capsys):
    from lrkit.laws.base import schedule_lr

    lr = schedule_lr("cosine(warmup=100)", 2000, 1e-3)
    run = tmp_path / "run.csv"
    run.write_text("step,lr,loss\n" + "".join(f"{s},{float(lr[s])!r},{3 - s / 1000}\n" for s in range(2000)))
    for spelling in ("--steps", "-n", "--total"):
        out = tmp_path / f"fit{spelling}.json"
        code, _, err = _run(["fit", str(run), "--law", "lra", "--boot", "0", spelling, "2k", "--out", str(out)], capsys)
        assert code == 0, err
        assert json.loads(out.read_text())["lrkit_fit"] == 1
