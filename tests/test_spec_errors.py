"""A corpus of bad specs and arguments: each raises lrkit.SpecError with ONE line that names the
family or parameter and the bad value (and, where it helps, what would be valid)."""

from __future__ import annotations

import builtins
import math
import os

import numpy as np
import pytest

import lrkit
from lrkit import SpecError, parse


def one_line_error(fn, *needles: str) -> str:
    with pytest.raises(SpecError) as info:
        fn()
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message and "\n" not in message, f"not one line: {message!r}"
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# (spec, strings the one-line message must contain)
BAD_SPECS = [
    # unknown names, with did-you-mean
    ("cosin()", ["'cosin'", "did you mean 'cosine'"]),
    ("cosine_decay(floor=0.1)", ["'cosine_decay'", "families:"]),
    ("cosine(flor=0.1)", ["cosine", "'flor'", "did you mean 'floor'"]),
    ("wsd(decay_form='cosine')", ["wsd", "'decay_form'"]),
    ("sequence(cosine(), linear(), boundary=[10])", ["sequence", "'boundary'", "did you mean 'boundaries'"]),
    ("wsd(form='sqrt')", ["wsd", "form='sqrt'", "'1-sqrt'"]),
    ("cosine(warmup_form='quadratic')", ["warmup_form='quadratic'", "'linear'"]),
    ("onecycle(anneal='cosine')", ["anneal='cosine'", "did you mean 'cos'"]),
    ("cyclic(mode='tri')", ["cyclic", "mode='tri'", "'triangular'"]),
    ("infinite(cooldown_form='linear')", ["infinite", "cooldown_form='linear'"]),
    ("warmup(form='gradual', period=10)", ["warmup", "form='gradual'"]),
    # syntax
    ("cosine(floor=0.1", ["syntax error", "cosine(floor=0.1"]),
    ("cosine(floor=)", ["syntax error"]),
    ("cosine(,)", ["syntax error"]),
    ("", ["empty"]),
    ("   ", ["empty"]),
    ("1.5", ["'1.5'", "not a schedule"]),
    ("'cosine'", ["not a schedule"]),
    ("[cosine()]", ["not a schedule"]),
    ("cosine(), linear()", ["not a schedule"]),
    # positional arguments where not allowed
    ("cosine(0.1)", ["cosine", "positional", "0.1"]),
    ("wsd(0.2, floor=0.1)", ["wsd", "positional", "0.2"]),
    ("clamp(cosine(), linear())", ["clamp", "one schedule", "2"]),
    ("sequence(cosine(), 5, boundaries=[10])", ["sequence", "5", "not a schedule"]),
    # non-literals: nothing is ever evaluated
    ("__import__('os').system('x')", ["__import__('os').system('x')", "not a schedule"]),
    ("cosine(floor=__import__('os').getpid())", ["floor=", "not a literal", "nothing is evaluated"]),
    ("cosine(floor=os.environ)", ["floor=os.environ", "not a literal"]),
    ("cosine(floor=lambda: 1)", ["floor=lambda: 1", "not a literal"]),
    ("cosine(floor=1+1)", ["floor=1 + 1", "not a literal"]),
    ("cosine(warmup=10*10)", ["warmup=10 * 10", "not a literal"]),
    ("cosine(floor=f'{1}')", ["floor=f'{1}'", "not a literal"]),
    ("cosine(floor=[x for x in y])", ["floor=", "not a literal"]),
    ("cosine(floor=1 if 1 else 0)", ["floor=", "not a literal"]),
    ("cosine(floor={1: 2})", ["floor={1: 2}", "not a literal"]),
    ("cosine(floor=b'x')", ["floor=b'x'", "not a literal"]),
    ("cosine(warmup=0.5j)", ["warmup=0.5j", "not a literal"]),
    ("cosine(floor=~1)", ["floor=~1", "not a literal"]),
    ("cosine(floor=floor)", ["floor=floor", "strings need quotes"]),
    ("cosine(**{'floor': 1})", ["cosine", "'**'"]),
    ("cosine().floor", ["not a schedule"]),
    ("cosine()()", ["not a schedule"]),
    ("cosine[0]", ["not a schedule"]),
    ("cosine(floor=0.1, floor=0.2)", ["cosine", "floor", "twice"]),
    # numbers out of range
    ("cosine(floor=-0.1)", ["cosine", "floor=-0.1", ">= 0"]),
    ("cosine(floor=nan)", ["cosine", "floor=nan", "not finite"]),
    ("cosine(floor=inf)", ["cosine", "floor=inf", "not finite"]),
    ("cosine(floor=1e999)", ["floor=inf", "not finite"]),
    ("cosine(floor=True)", ["floor=True", "not a number"]),
    ("cosine(floor='0.1')", ["floor='0.1'", "not a number"]),
    ("cosine(floor=None)", ["floor=None", "not a number"]),
    ("cosine(exponent=0)", ["exponent=0", "> 0"]),
    ("polynomial(power=-1)", ["polynomial", "power=-1"]),
    ("exponential(gamma=0)", ["exponential", "gamma=0", "> 0"]),
    ("exponential(gamma=-0.5)", ["gamma=-0.5"]),
    ("step(gamma=0)", ["step", "gamma=0"]),
    ("constant(value=-1)", ["constant", "value=-1"]),
    ("linear(end=-0.5)", ["linear", "end=-0.5"]),
    ("rex(beta=1.0)", ["rex", "beta=1.0", "[0, 1)"]),
    ("uba(phi=0)", ["uba", "phi=0", "> 0"]),
    ("uba(phi=-2)", ["uba", "phi=-2"]),
    ("power(b=0.5)", ["power", "b=0.5", "< 0"]),
    ("power(a=0)", ["power", "a=0"]),
    ("power(lr_max=nan)", ["power", "lr_max=nan"]),
    ("infinite(constant_lr=0)", ["infinite", "constant_lr=0"]),
    ("infinite(min_lr=-0.1)", ["infinite", "min_lr=-0.1"]),
    ("onecycle(pct_start=1.0)", ["onecycle", "pct_start=1.0", "(0, 1)"]),
    ("onecycle(pct_start=0)", ["onecycle", "pct_start=0"]),
    ("onecycle(div_factor=0)", ["onecycle", "div_factor=0"]),
    ("onecycle(three_phase=1)", ["three_phase=1", "True or False"]),
    ("onecycle(pct_final=0.8)", ["onecycle", "pct_final", "three_phase=True"]),
    ("onecycle(pct_start=0.3, pct_final=0.2, three_phase=True)", ["onecycle", "pct_final=0.2"]),
    ("onecycle(pct_start=0.6, three_phase=True)", ["pct_start=0.6", "pct_final"]),
    ("onecycle(three_phase=True, pct_start=0.6)", ["pct_start=0.6", "three_phase"]),
    ("cyclic(gamma=1.5)", ["cyclic", "gamma=1.5"]),
    ("sgdr(mult=0)", ["sgdr", "mult=0", ">= 1"]),
    ("sgdr(mult=1.5)", ["sgdr", "mult=1.5", "not an integer"]),
    ("sgdr(peak_decay=0)", ["sgdr", "peak_decay=0"]),
    ("inverse_sqrt(timescale=0)", ["inverse_sqrt", "timescale=0"]),
    ("inverse_sqrt(timescale=100.5)", ["inverse_sqrt", "timescale=100.5", "not an integer"]),
    ("cosine(warmup='untuned', beta2=1.0)", ["beta2=1.0", "(0, 1)"]),
    ("cosine(warmup_init=-1)", ["warmup_init=-1"]),
    ("cosine(warmup=10, warmup_form='exponential')", ["warmup_form='exponential'", "warmup_init"]),
    ("wsd(form='exp')", ["wsd", "form='exp'", "floor"]),
    ("wsd(half_life=10)", ["wsd", "half_life=10", "form='exp'"]),
    ("power(decay=0.1, form='exp')", ["power", "form='exp'", "floor"]),
    ("warmup(form='radam', beta2=0.5)", ["beta2=0.5", "radam"]),
    # durations: fractions outside [0, 1], floats that look like steps, negatives
    ("cosine(warmup=1.5)", ["cosine", "warmup=1.5", "fraction outside [0, 1]"]),
    ("cosine(warmup=100.0)", ["warmup=100.0", "write 100 without the decimal point"]),
    ("cosine(warmup=-5)", ["warmup=-5", "negative"]),
    ("cosine(warmup=-0.1)", ["warmup=-0.1"]),
    ("cosine(warmup=inf)", ["warmup=inf", "not finite"]),
    ("cosine(warmup=nan)", ["warmup=nan", "not finite"]),
    ("cosine(warmup='long')", ["warmup='long'", "not a duration", "'untuned'"]),
    ("cosine(warmup=[1, 2])", ["warmup=", "not a duration"]),
    ("wsd(decay=2.0)", ["wsd", "decay=2.0", "fraction outside"]),
    ("step(every=0)", ["step", "every=0", "not positive"]),
    ("step(every=0.0)", ["step", "every=0.0"]),
    ("sgdr(period=0)", ["sgdr", "period=0"]),
    ("cyclic(up=0)", ["cyclic", "up=0"]),
    ("repeat(cosine(), every=0)", ["repeat", "every=0"]),
    ("repeat(cosine(), times=0)", ["repeat", "times=0"]),
    ("cosine(steps=0)", ["cosine", "steps=0", ">= 1"]),
    ("cosine(steps=10.5)", ["cosine", "steps=10.5", "not an integer"]),
    ("cosine(steps=-3)", ["cosine", "steps=-3"]),
    # milestones and points
    ("multistep(milestones=[600, 300])", ["multistep", "milestones=[600, 300]", "not strictly increasing"]),
    ("multistep(milestones=[100, 100])", ["milestones=[100, 100]", "not strictly increasing"]),
    ("multistep(milestones=[0.5, 0.5])", ["milestones=[0.5, 0.5]"]),
    ("multistep(milestones=[])", ["multistep", "milestones="]),
    ("multistep(milestones=5)", ["multistep", "milestones=5"]),
    ("multistep(milestones=[1.5])", ["milestones[0]=1.5", "fraction outside"]),
    ("multistep(milestones=[-10])", ["milestones[0]=-10", "negative"]),
    ("piecewise(points=[(0.5, 1.0), (0.2, 0.5)])", ["piecewise", "points[1]", "0.2", "non-decreasing"]),
    ("piecewise(points=[(0, -1.0)])", ["piecewise", "points[0] value=-1.0"]),
    ("piecewise(points=[1, 2])", ["piecewise", "points[0]=1", "(position, value)"]),
    ("piecewise(points=[])", ["piecewise", "points="]),
    # sequences: boundary count, order, zero
    ("sequence(cosine(), linear())", ["sequence", "2 phases need 1 boundaries", "got 0"]),
    ("sequence(cosine(), linear(), boundaries=[5, 10])", ["sequence", "need 1 boundaries", "got 2", "[5, 10]"]),
    ("sequence(cosine(), linear(), cosine(), boundaries=[50, 10])", ["sequence", "boundaries=[50, 10]",
                                                                     "not strictly increasing"]),
    ("sequence(cosine(), linear(), boundaries=[0])", ["sequence", "boundaries[0]=0", "not positive"]),
    ("sequence(cosine(), linear(), boundaries=[0.0])", ["sequence", "boundaries[0]=0.0"]),
    ("sequence(cosine(), linear(), boundaries=[-5])", ["sequence", "boundaries[0]=-5", "negative"]),
    ("sequence(cosine(), linear(), boundaries=[nan])", ["sequence", "boundaries[0]=nan"]),
    ("sequence(cosine(), linear(), boundaries=[1.5])", ["sequence", "boundaries[0]=1.5"]),
    ("sequence(cosine(), boundaries=[])", ["sequence", "1 phase", "two or more"]),
    ("product(cosine())", ["product", "1 factor", "two or more"]),
    ("clamp()", ["clamp", "missing the schedule"]),
    ("clamp(cosine(), floor=0.5, ceiling=0.2)", ["clamp", "ceiling=0.2", "floor=0.5"]),
    ("clamp(cosine(), floor=-1)", ["clamp", "floor=-1"]),
    ("repeat()", ["repeat", "missing the schedule"]),
    ("rewarm(from_lr=0.1)", ["rewarm", "warmup=0"]),
    ("rewarm(warmup=10, warmup_init=0.1)", ["rewarm", "warmup_init"]),
    ("rewarm(warmup=10, from_lr=-1)", ["rewarm", "from_lr=-1"]),
    ("rewarm(warmup=10, to=0)", ["rewarm", "to=0"]),
    ("rewarm(warmup=10, warmup_form='exponential')", ["rewarm", "from_lr > 0"]),
    ("rewarm(warmup=10, then=cosin())", ["'cosin'", "did you mean 'cosine'"]),
    ("warmup()", ["warmup", "period="]),
    ("warmup(period=0)", ["warmup", "period=0"]),
    ("warmup(form='radam', period=10)", ["warmup", "period=10", "radam"]),
    # found by adversarial probing
    ("product(factors=5)", ["product", "factors=5", "not a list of schedules"]),
    ("COSINE()", ["'COSINE'", "did you mean 'cosine'"]),
    ("rewarm(warmup=10, then=[cosine()])", ["rewarm", "then=(cosine(),)", "not a schedule"]),
    ("cosine(warmup=cosine())", ["cosine", "warmup=cosine()", "not a duration"]),
]

BAD_DICTS = [
    ({}, ["'family'"]),
    ({"floor": 0.1}, ["'family'", "floor"]),
    ({"family": "cosin"}, ["'cosin'", "did you mean 'cosine'"]),
    ({"family": "cosine", "flor": 0.1}, ["cosine", "'flor'", "did you mean 'floor'"]),
    ({"family": "cosine", "floor": "0.1"}, ["cosine", "floor='0.1'", "not a number"]),
    ({"family": "cosine", "floor": {"a": 1}}, ["cosine", "floor="]),
    ({"family": "cosine", "warmup": 100.0}, ["warmup=100.0"]),
    ({"family": 5}, ["family 5"]),
    ({"family": ["cosine"]}, ["['cosine']"]),
    ({"family": "cosine", 1: 2}, ["cosine", "unknown parameter 1"]),
    ({"family": "sequence", "schedules": [5, 6], "boundaries": [10]}, ["sequence", "schedules[0]=5"]),
    ({"family": "sequence", "schedules": [{"family": "cosine"}, {"familly": "linear"}], "boundaries": [10]},
     ["'family'", "familly"]),
    ({"family": "clamp", "schedule": 5}, ["clamp", "schedule=5"]),
    ({"family": "product", "factors": {"family": "cosine"}}, ["product", "1 factor"]),
    ({"family": None}, ["family None"]),
    ({"family": "rewarm", "warmup": 5, "then": ["cosine()"]}, ["rewarm", "then=(cosine(),)"]),
]

BAD_JSON = [
    ('{"family": "cosine",', ["not valid JSON", "column"]),
    ('{"family": "cosine", "flor": 1}', ["'flor'", "'floor'"]),
    ('{"floor": 0.1}', ["'family'"]),
    ('{}', ["'family'"]),
]


@pytest.mark.parametrize("spec,needles", BAD_SPECS, ids=[s or "<empty>" for s, _ in BAD_SPECS])
def test_bad_spec_text(spec, needles):
    one_line_error(lambda: parse(spec), *needles)


@pytest.mark.parametrize("data,needles", BAD_DICTS, ids=[str(d) for d, _ in BAD_DICTS])
def test_bad_dict(data, needles):
    one_line_error(lambda: parse(data), *needles)


@pytest.mark.parametrize("text,needles", BAD_JSON)
def test_bad_json(text, needles):
    one_line_error(lambda: parse(text), *needles)


def test_the_corpus_is_large():
    assert len(BAD_SPECS) + len(BAD_DICTS) + len(BAD_JSON) >= 60


@pytest.mark.parametrize("spec", [None, 5, 1.5, [1], b"cosine()", ("cosine()",)])
def test_parse_needs_a_string_or_dict(spec):
    one_line_error(lambda: parse(spec), "spec=", "not a string or a dict")


def test_nothing_is_ever_evaluated(monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    real_import = builtins.__import__

    def spy_import(name, *args, **kwargs):
        if name == "os":
            calls.append(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", spy_import)
    for spec in ["__import__('os').system('touch /tmp/lrkit-pwned')",
                 "cosine(floor=__import__('os').system('x'))",
                 "sequence(cosine(), __import__('os').system('x'), boundaries=[1])",
                 "cosine(floor=(lambda: __import__('os').system('x'))())"]:
        with pytest.raises(SpecError):
            parse(spec)
    assert calls == []


# ----- totals, conventions and steps given at evaluation ----------------------------------------------------

@pytest.mark.parametrize("total,needles", [
    (0, ["total=0", "zero"]), (-5, ["total=-5", "negative"]), (10.5, ["total=10.5", "whole number"]),
    ("100", ["total='100'"]), (math.nan, ["total=nan"]), (math.inf, ["total=inf"]), (True, ["total=True"]),
])
def test_bad_totals(total, needles):
    s = parse("cosine()")
    one_line_error(lambda: s(5, total), *needles)
    one_line_error(lambda: s.sample(total), *needles)
    one_line_error(lambda: s.bind(total), *needles)
    one_line_error(lambda: s.phases(total), *needles)
    one_line_error(lambda: lrkit.lint(s, total), *needles)


@pytest.mark.parametrize("spec", ["cosine()", "linear()", "wsd()", "onecycle()", "cosine(warmup=0.1, steps=None)",
                                  "sequence(constant(), cosine(), boundaries=[0.5])", "multistep()"])
def test_a_missing_total_is_named(spec):
    one_line_error(lambda: parse(spec)(5), "total", "steps")


def test_a_spec_that_needs_no_total_runs_without_one():
    assert parse("constant()")(5) == 1.0 and parse("exponential(gamma=0.5)")(1) == 0.5


@pytest.mark.parametrize("convention,needles", [
    ("pytorch", ["convention='pytorch'", "did you mean 'torch'"]), ("HF", ["convention='HF'", "hf"]),
    ("", ["convention=''"]), (5, ["convention=5"]), ("timm ", ["did you mean 'timm'"]),
])
def test_bad_convention_names(convention, needles):
    one_line_error(lambda: parse("cosine()")(5, 10, convention=convention), *needles)
    one_line_error(lambda: lrkit.get_convention(convention), *needles)


def test_bad_custom_conventions():
    one_line_error(lambda: lrkit.Convention("x", warmup_offset=2), "warmup_offset=2")
    one_line_error(lambda: lrkit.Convention("x", placement="after"), "placement='after'")
    one_line_error(lambda: lrkit.Convention("x", end="T+1"), "end='T+1'")
    one_line_error(lambda: lrkit.Convention("x", after_end="wrap"), "after_end='wrap'")


@pytest.mark.parametrize("step,needles", [
    (-1, ["step=-1", "negative"]), (-0.5, ["step=-0.5", "negative"]), (math.nan, ["step=nan", "not a number"]),
    (np.int64(-3), ["step=", "negative"]), ([0, 5, -2], ["step=-2.0", "negative"]),
    (np.array([0.0, np.nan]), ["step=nan"]), (True, ["step=True"]), ("5", ["step='5'"]), (None, ["step=None"]),
    (["a"], ["step="]), (["1"], ["step=['1']"]), (np.array(["1"]), ["step=['1']"]), ([True, False], ["step=[True"]),
    (np.array([[1.0], [-2.0]]), ["step=-2.0", "negative"]),
])
def test_bad_steps_at_evaluation(step, needles):
    s = parse("cosine()")
    one_line_error(lambda: s(step, 100), *needles)
    one_line_error(lambda: s.bind(100)(step), *needles)


@pytest.mark.parametrize("spec,total,needles", [
    ("multistep(milestones=[0.5, 0.51])", 10, ["multistep", "milestones", "not strictly increasing"]),
    ("sequence(cosine(), linear(), boundaries=[0.01])", 10, ["sequence", "boundaries", "empty phase"]),
    ("sequence(cosine(), linear(), cosine(), boundaries=[60, 0.5])", 100, ["sequence", "boundaries=[60, 0.5]", "[60, 50]"]),
    ("repeat(cosine(), every=0.01)", 10, ["repeat", "every=0.01", "less than one step"]),
    ("sgdr(period=0.01)", 10, ["sgdr", "period=0.01", "less than one step"]),
    ("step(every=0.01)", 10, ["step", "every=0.01", "less than one step"]),
    ("cyclic(up=0.01)", 10, ["cyclic", "up=0.01", "less than one step"]),
    ("piecewise(points=[(50, 1.0), (0.2, 0.0)])", 100, ["piecewise", "non-decreasing"]),
])
def test_fractions_that_clash_for_a_total(spec, total, needles):
    s = parse(spec)  # valid as written; the clash appears only for this total
    one_line_error(lambda: s(0, total), *needles)


def test_scaling_rules_validate_their_arguments():
    one_line_error(lambda: lrkit.linear_scaling(0.1, 0), "batch_size=0")
    one_line_error(lambda: lrkit.sqrt_scaling(-0.1, 256), "lr=-0.1")
    one_line_error(lambda: lrkit.linear_scaling(0.1, 256, base_batch_size=math.nan), "base_batch_size=nan")
