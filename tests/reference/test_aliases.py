"""The names users already type (issue 14): every transformers ``lr_scheduler_type`` value and every torch and
timm scheduler class, enumerated from the installed libraries, either parses (as that library's schedule, with
its argument names, under its convention) or is refused in one line that spells the lrkit schedule.

A name a library adds later fails ``test_every_*``: give it an entry in ``lrkit.schedules.aliases``.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import lrkit
from lrkit.schedules import REGISTRY, aliases

from .helpers import assert_steps, lrkit_lrs, torch_lrs

RTOL = 1e-7
BASE = 3e-4


def _refusal(name: str) -> str:
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(name)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"unknown schedule family {name!r}; "), msg
    return msg


def _spelling_is_lrkit(alias) -> None:
    """The hint's family exists and every ``name=`` in it is one of that family's parameters."""
    if not alias.family:
        return
    assert alias.family in REGISTRY, alias
    top = re.sub(r"\([^()]*\)", "", alias.args)  # the family's own arguments, not those of a nested spec
    named = re.findall(r"(?:^|,\s*)([a-z_]+)=", top)
    assert named or alias.family in ("sequence", "product"), alias
    for name in named:
        assert name in REGISTRY[alias.family].param_names(), (alias.family, name)


# ----- transformers -----------------------------------------------------------------------------------------
transformers = pytest.importorskip("transformers")
opt = pytest.importorskip("transformers.optimization")
SchedulerType = transformers.trainer_utils.SchedulerType

#: (spec in transformers' names, the transformers schedule, total) for the values that parse
PARSED = {
    "constant_with_warmup": [("constant_with_warmup(num_warmup_steps=7)",
                              lambda o: opt.get_constant_schedule_with_warmup(o, 7), 40)],
    "cosine_with_restarts": [("cosine_with_restarts(num_warmup_steps=5, num_cycles=3)",
                              lambda o: opt.get_cosine_with_hard_restarts_schedule_with_warmup(o, 5, 40, num_cycles=3),
                              40),
                             ("cosine_with_restarts", lambda o: opt.get_cosine_with_hard_restarts_schedule_with_warmup(
                                 o, 0, 30), 30)],
    "cosine_with_min_lr": [("cosine_with_min_lr(num_warmup_steps=5, min_lr_rate=0.1)",
                            lambda o: opt.get_cosine_with_min_lr_schedule_with_warmup(o, 5, 40, min_lr_rate=0.1), 40),
                           ("cosine_with_min_lr(num_warmup_steps=3, num_cycles=1.5, min_lr_rate=0.2)",
                            lambda o: opt.get_cosine_with_min_lr_schedule_with_warmup(o, 3, 40, num_cycles=1.5,
                                                                                     min_lr_rate=0.2), 40)],
    "cosine_warmup_with_min_lr": [("cosine_warmup_with_min_lr(num_warmup_steps=5, min_lr_rate=0.1, warmup_lr_rate=0.05)",
                                   lambda o: opt.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
                                       o, 5, 40, min_lr_rate=0.1, warmup_lr_rate=0.05), 40)],
    "warmup_stable_decay": [("warmup_stable_decay(num_warmup_steps=10, num_decay_steps=20, min_lr_ratio=0.1)",
                             lambda o: opt.get_wsd_schedule(o, 10, 20, num_training_steps=60, min_lr_ratio=0.1), 60),
                            ("warmup_stable_decay(num_warmup_steps=4, num_decay_steps=9, warmup_type='1-sqrt', "
                             "decay_type='linear')", lambda o: opt.get_wsd_schedule(
                                 o, 4, 9, num_training_steps=30, warmup_type="1-sqrt", decay_type="linear"), 30),
                            ("warmup_stable_decay(num_warmup_steps=5, num_decay_steps=10, num_stable_steps=15, "
                             "min_lr_ratio=0.05)", lambda o: opt.get_wsd_schedule(
                                 o, 5, 10, num_stable_steps=15, min_lr_ratio=0.05), None)],
}


@pytest.mark.parametrize("value", [t.value for t in SchedulerType])
def test_every_transformers_scheduler_type(value):
    if value in REGISTRY:
        assert value in aliases.SAME_NAMES, f"{value}: an lrkit family; say how it reads in aliases.SAME_NAMES"
        return
    assert value in aliases.ALIASES, f"transformers' lr_scheduler_type {value!r} has no entry in aliases.ALIASES"
    alias = aliases.ALIASES[value]
    _spelling_is_lrkit(alias)
    if aliases.parses(value):
        assert value in PARSED, f"{value} parses: add a case comparing it with transformers"
        return
    msg = _refusal(value)
    assert "transformers' " in msg and (not alias.family or f"{alias.family}(" in msg)


@pytest.mark.parametrize("spec, make, total", [c for cases in PARSED.values() for c in cases],
                         ids=[c[0][:60] for cases in PARSED.values() for c in cases])
@pytest.mark.parametrize("outer", ["lrkit", "timm"])
def test_transformers_names_are_transformers_values_under_any_convention(spec, make, total, outer):
    """Pinned to hf: the values are transformers' whatever convention evaluates the spec; past the end too."""
    n = (total or 30) + 12
    s = lrkit.parse(spec)
    ours = (s.sample(n, outer) if total is None else s(np.arange(n), total=total, convention=outer)) * BASE
    assert_steps(ours, torch_lrs(make, n, BASE), rtol=RTOL, atol=1e-15, what=f"{spec} under {outer}")
    assert lrkit.parse(str(s)) == s and lrkit.parse(s.to_dict()) == s and str(s).startswith("under(")


def test_the_same_names_are_transformers_values_under_hf():
    for spec, make in [("linear(warmup=5)", lambda o: opt.get_linear_schedule_with_warmup(o, 5, 40)),
                       ("cosine(warmup=5)", lambda o: opt.get_cosine_schedule_with_warmup(o, 5, 40)),
                       ("constant()", lambda o: opt.get_constant_schedule(o)),
                       ("inverse_sqrt(warmup=5)", lambda o: opt.get_inverse_sqrt_schedule(o, 5))]:
        assert_steps(lrkit_lrs(spec, 50, BASE, "hf", total=40), torch_lrs(make, 50, BASE), rtol=RTOL, what=spec)


@pytest.mark.parametrize("spec, words", [
    ("warmup_stable_decay(num_warmup_steps=10)", "needs num_decay_steps="),
    ("warmup_stable_decay(num_decay_steps=5, num_training_steps=50, num_stable_steps=10)", "not both"),
    ("warmup_stable_decay(num_decay_steps=5, num_cycles=1.0)", "num_cycles=1.0"),
    ("warmup_stable_decay(num_decay_steps=5, warmup=3)", "unknown parameter 'warmup'"),
    ("warmup_stable_decay(num_decay_steps=5, decay_type='exp2')", "form='exp2' is not one of"),
    ("warmup_stable_decay(num_decay_steps=-5)", "decay=-5 steps is negative"),
    ("cosine_with_min_lr(min_lr=1e-5)", "min_lr=1e-05 is an LR"),
    ("cosine_with_min_lr(num_warmup_steps=5)", "needs min_lr_rate="),
    ("constant_with_warmup(num_training_steps=100)", "unknown parameter 'num_training_steps'"),
    ("constant_with_warmup(5)", "positional argument '5' is not allowed"),
])
def test_transformers_arguments_wrong_are_one_line(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec)
    assert words in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_a_transformers_name_in_json_and_inside_a_combinator():
    s = lrkit.parse('{"family": "constant_with_warmup", "num_warmup_steps": 5}')
    assert s == lrkit.parse("constant_with_warmup(num_warmup_steps=5)")
    seq = lrkit.parse("sequence(constant_with_warmup(num_warmup_steps=2), cosine(), boundaries=[10])")
    assert seq(1, 20) == pytest.approx(0.5)  # the first phase counted as transformers counts: 1/2 at step 1


# ----- torch ------------------------------------------------------------------------------------------------
torch = pytest.importorskip("torch")
S = torch.optim.lr_scheduler
TORCH = sorted(n for n, c in vars(S).items() if inspect.isclass(c) and c.__module__ == S.__name__
               and issubclass(c, S.LRScheduler))


@pytest.mark.parametrize("name", TORCH)
def test_every_torch_scheduler_class(name):
    assert name in aliases.ALIASES, f"torch's {name} has no entry in aliases.ALIASES"
    alias = aliases.ALIASES[name]
    assert alias.library == "torch" and not aliases.parses(name)
    _spelling_is_lrkit(alias)
    msg = _refusal(name)
    assert f"torch's {name}" in msg and (not alias.family or f"{alias.family}(" in msg)
    if alias.convention:
        assert f"convention={alias.convention!r}" in msg


#: torch schedulers whose lrkit spelling has no reference test elsewhere, at every step
TORCH_VALUES = [
    ("sequence(constant(value=0.25), constant(), boundaries=[7])", lambda o: S.ConstantLR(o, factor=0.25, total_iters=7)),
    ("piecewise(points=[(0, 0.2), (12, 0.9)])", lambda o: S.LinearLR(o, start_factor=0.2, end_factor=0.9,
                                                                      total_iters=12)),
    ("piecewise(points=[(0, 1.0), (9, 0.3)])", lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.3,
                                                                     total_iters=9)),
    ("constant(warmup=10, warmup_init=0.1)", lambda o: S.LinearLR(o, start_factor=0.1, total_iters=10)),
    ("exponential(gamma=0.93)", lambda o: S.MultiplicativeLR(o, lambda t: 0.93)),
    ("polynomial(steps=20, power=2.0)", lambda o: S.PolynomialLR(o, total_iters=20, power=2.0)),
]


@pytest.mark.parametrize("spec, make", TORCH_VALUES, ids=[s for s, _ in TORCH_VALUES])
def test_torch_spellings_give_torch_values(spec, make):
    n = 40
    assert_steps(lrkit_lrs(spec, n, 0.1, "torch"), torch_lrs(make, n, 0.1), rtol=RTOL, what=spec)


# ----- timm -------------------------------------------------------------------------------------------------
def _timm_names():
    from .helpers import load_timm_scheduler

    timm = load_timm_scheduler()
    base = timm.scheduler.Scheduler
    return sorted(n for n in dir(timm) if inspect.isclass(getattr(timm, n)) and issubclass(getattr(timm, n), base))


@pytest.fixture(scope="module")
def timm_names():
    return _timm_names()


def test_every_timm_scheduler_class(timm_names):
    assert len(timm_names) >= 6
    for name in timm_names:
        assert name in aliases.ALIASES, f"timm's {name} has no entry in aliases.ALIASES"
        alias = aliases.ALIASES[name]
        _spelling_is_lrkit(alias)
        msg = _refusal(name)
        assert f"timm's {name}" in msg and f"{alias.family}(" in msg


# ----- spelled otherwise, and library argument names given to lrkit families -----------------------------
@pytest.mark.parametrize("name, meant", [("cosineannealinglr", "CosineAnnealingLR"),
                                         ("CosineWithRestarts", "cosine_with_restarts"),
                                         ("WarmupStableDecay", "warmup_stable_decay"), ("WSD", "wsd")])
def test_another_case_or_separator_gets_did_you_mean(name, meant):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(name)
    assert f"did you mean {meant!r}?" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("spec, words", [
    ("cosine(T_max=100)", "torch's T_max is steps= here"),
    ("cosine(num_warmup_steps=100)", "transformers' num_warmup_steps is warmup= here"),
    ("cosine(eta_min=0.001)", "torch's eta_min is an LR: floor=eta_min/lr here"),
    ("step(step_size=30)", "torch's step_size is every= here"),
    ("cosine(warmup_t=5, t_initial=100)", "timm's warmup_t is warmup= here"),
    ("plateau(min_lr=1e-5)", "torch's min_lr is an LR: min=min_lr/lr here"),
    ("wsd(num_decay_steps=100)", "transformers' num_decay_steps is decay= here"),
])
def test_library_argument_names_get_the_lrkit_name(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec)
    assert words in str(e.value) and "\n" not in str(e.value), str(e.value)


# ----- under ------------------------------------------------------------------------------------------------
def test_under_pins_the_convention():
    s = lrkit.parse("under(cosine(warmup=10), convention='hf')")
    inner = lrkit.parse("cosine(warmup=10)")
    for outer in ("lrkit", "torch", "timm", "optax"):
        np.testing.assert_array_equal(s.sample(100, outer), inner.sample(100, "hf"))
    assert s.phases(100) == inner.phases(100, "hf") and lrkit.parse(str(s)) == s
    assert [f.code for f in lrkit.lint(s, 100)] == [f.code for f in lrkit.lint(inner, 100, convention="hf")]


@pytest.mark.parametrize("spec, words", [("under(convention='hf')", "under: missing the schedule"),
                                         ("under(cosine(), convention='hugging')", "convention='hugging' is not one of"),
                                         ("under(cosine(), convention='HF')", "did you mean 'hf'")])
def test_under_bad_arguments_one_line(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec)
    assert words in str(e.value) and "\n" not in str(e.value)
