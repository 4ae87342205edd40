"""Composer's time strings for every duration (issue 14): ``"0.1dur"`` a fraction of the run, ``"500ba"``
steps (batches are optimizer steps), ``"2ep"``, ``"1000tok"`` and ``"64sp"`` steps through
``steps_per_epoch`` / ``tokens_per_step`` / ``samples_per_step`` (given to ``lrkit.parse``,
``lrkit.torch.Scheduler`` or the CLI), rounded to the nearest step; without them, one line saying which to give.

Composer (``composer.core.time.Time.from_timestring``) reads a number (scientific notation allowed) and a unit
in any case; its ``dur`` is on the run's ``max_duration``, its ``ep`` on the dataloader's length.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import lrkit

SPE, TPS, SPS = 50, 4096, 32
UNITS = dict(steps_per_epoch=SPE, tokens_per_step=TPS, samples_per_step=SPS)

#: (spec with time strings, the same in steps and fractions): every duration parameter of every family
EVERY_DURATION = [
    ("cosine(warmup='0.1dur')", "cosine(warmup=0.1)"),
    ("cosine(warmup='500ba', steps='20ep')", "cosine(warmup=500, steps=1000)"),
    ("linear(warmup='2ep')", "linear(warmup=100)"),
    ("wsd(warmup='40960tok', decay='0.2dur')", "wsd(warmup=10, decay=0.2)"),
    ("wsd(decay='3ep', form='exp', half_life='64sp')", "wsd(decay=150, form='exp', half_life=2)"),
    ("power(decay='1ep', floor=0.1, form='linear')", "power(decay=50, floor=0.1, form='linear')"),
    ("step(every='30ep')", "step(every=1500)"),
    ("multistep(milestones=['30ep', '60ep', '0.9dur'])", "multistep(milestones=[1500, 3000, 0.9])"),
    ("inverse_sqrt(warmup='1ep', timescale='2ep')", "inverse_sqrt(warmup=50, timescale=100)"),
    ("sgdr(period='1ep', floor=0.1)", "sgdr(period=50, floor=0.1)"),
    ("cyclic(up='2ep', down='1ep', steps='10ep')", "cyclic(up=100, down=50, steps=500)"),
    ("onecycle(steps='4ep')", "onecycle(steps=200)"),
    ("piecewise(points=[('0ba', 0.0), ('1ep', 1.0), ('1dur', 0.0)])", "piecewise(points=[(0, 0.0), (50, 1.0), (1.0, 0.0)])"),
    ("infinite(cooldown='1ep', anneal='0.5dur')", "infinite(cooldown=50, anneal=0.5)"),
    ("sequence(linear(), cosine(), boundaries=['1ep'])", "sequence(linear(), cosine(), boundaries=[50])"),
    ("repeat(cosine(), every='2ep')", "repeat(cosine(), every=100)"),
    ("cooldown(constant(), at='10ep', decay='2ep')", "cooldown(constant(), at=500, decay=100)"),
    ("product(warmup(period='1ep'), cosine())", "product(warmup(period=50), cosine())"),
    ("rewarm(from_lr=0.1, warmup='1ep', then=cosine())", "rewarm(from_lr=0.1, warmup=50, then=cosine())"),
    ("noise(cosine(), range=['1ep', '0.8dur'])", "noise(cosine(), range=[50, 0.8])"),
    ("megatron(warmup='1ep', steps='10ep', decay_style='WSD', wsd_decay='2ep')",
     "megatron(warmup=50, steps=500, decay_style='WSD', wsd_decay=100)"),
    ("plateau(warmup='1ep')", "plateau(warmup=50)"),
]


@pytest.mark.parametrize("spec, steps", EVERY_DURATION, ids=[s for s, _ in EVERY_DURATION])
def test_every_duration_takes_composer_time_strings(spec, steps):
    s = lrkit.parse(spec, **UNITS)
    assert s == lrkit.parse(steps) and lrkit.parse(str(s)) == s  # read as steps: prints, and round-trips, in steps


@pytest.mark.parametrize("text, steps", [("500ba", 500), ("500BA", 500), ("2ep", 100), ("1.5ep", 75),
                                         ("0.009ep", 0), ("0.01ep", 1), ("0.03ep", 2), ("3e4tok", 7), ("1e6tok", 244),
                                         ("64sp", 2), ("1000sp", 31), (" 2ep ", 100), ("+2ep", 100)])
def test_units_to_steps_round_to_the_nearest_step(text, steps):
    assert lrkit.parse(f"constant(warmup={text!r})", **UNITS).warmup == steps


def test_dur_is_a_fraction_and_needs_nothing():
    s = lrkit.parse("cosine(warmup='0.25dur')")
    assert s.warmup == 0.25 and s == lrkit.parse("cosine(warmup=0.25)") and s.warmup_steps(200) == 50


@pytest.mark.parametrize("spec, words", [
    ("cosine(warmup='2ep')", "counts epochs, and no steps_per_epoch was given"),
    ("cosine(warmup='1000tok')", "counts tokens, and no tokens_per_step was given"),
    ("cosine(warmup='64sp')", "counts samples, and no samples_per_step was given"),
    ("cosine(warmup='1.5ba')", "not a whole number of batches"),
    ("cosine(warmup='1.5dur')", "warmup='1.5dur' reads as 1.5; warmup=1.5 is a fraction outside [0, 1]"),
    ("cosine(steps='0.5dur')", "is a fraction of the run; steps is a number of steps here"),
    ("cosine(warmup='2 epochs')", "'2 epochs' is not a duration"),
    ("cosine(warmup='2sec')", "'2sec' is not a duration"),
    ("step(every='0ba')", "every='0ba' reads as 0; every=0 steps is not positive"),
    ("multistep(milestones=['2ep', '1ep'])", "not strictly increasing"),
])
def test_missing_or_wrong_information_is_one_line(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec, **({} if "no " in words else UNITS))
    assert words in str(e.value) and "\n" not in str(e.value), str(e.value)
    if "no steps_per_epoch" in words:
        assert "steps_per_epoch=N to lrkit.parse or lrkit.torch.Scheduler" in str(e.value)


@pytest.mark.parametrize("value", [0, -1, "10", float("nan")])
def test_bad_units_are_one_line(value):
    with pytest.raises(lrkit.SpecError, match="steps_per_epoch"):
        lrkit.parse("cosine(warmup='2ep')", steps_per_epoch=value)


def test_units_reach_nested_specs_and_json_and_do_not_leak():
    s = lrkit.parse('{"family": "sequence", "schedules": ["linear()", {"family": "cosine", "warmup": "1ep"}], '
                    '"boundaries": ["2ep"]}', steps_per_epoch=10)
    assert s.boundaries == (20,) and s.schedules[1].warmup == 10
    with pytest.raises(lrkit.SpecError, match="no steps_per_epoch"):  # the next parse has none
        lrkit.parse("cosine(warmup='1ep')")


def test_scheduler_takes_the_units():
    torch = pytest.importorskip("torch")
    import lrkit.torch as lt

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    sched = lt.Scheduler(opt, "cosine(warmup='2ep')", total_steps=400, steps_per_epoch=20,
                         hyperparams={"momentum": "linear(warmup='1ep', end=0.5)"})
    assert str(sched._schedules["lr"][0]) == "cosine(warmup=40)"
    assert str(sched._schedules["momentum"][0]) == "linear(end=0.5, warmup=20)"
    with pytest.raises(lrkit.SpecError, match="no tokens_per_step"):
        lt.Scheduler(opt, "cosine(warmup='1e6tok')", total_steps=400)


def test_cli_show_and_lint_take_the_units():
    run = lambda *a: subprocess.run([sys.executable, "-m", "lrkit", *a], capture_output=True, text=True)  # noqa: E731
    r = run("show", "linear(warmup='2ep')", "--steps", "40", "--steps-per-epoch", "5", "--format", "csv")
    assert r.returncode == 0 and r.stdout.splitlines()[1:3] == ["0,0.1", "1,0.2"]
    r = run("lint", "wsd(decay='4096tok')", "--steps", "40", "--tokens-per-step", "1024")
    assert r.returncode == 0 and "wsd(decay=4)" in r.stdout
    r = run("show", "linear(warmup='2ep')", "--steps", "40")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--steps-per-epoch N" in r.stderr
