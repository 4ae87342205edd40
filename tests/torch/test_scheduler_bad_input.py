"""lrkit.torch.Scheduler on bad input: one clear SpecError line naming the problem, never a raw error from deep
inside, never a silent fallback, and a failed load_state_dict leaves the scheduler as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lrkit
from lrkit.torch import Scheduler, StateMismatchError


def sgd(lr=0.1, n=2, **kw):
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.ones(2))], "lr": lr * (i + 1)} for i in range(n)],
                           **kw)


def stepped(spec="cosine()", total=10, n=3, **kw):
    opt = sgd(**kw)
    sched = Scheduler(opt, spec, total)
    for _ in range(n):
        opt.step()
        sched.step()
    return opt, sched


# ----- load_state_dict ------------------------------------------------------------------------------------
GOOD = stepped()[1].state_dict()
START = [1.0, 1.0]


@pytest.mark.parametrize("key, value, match", [
    ("last_epoch", "x", r"last_epoch='x'; expected an integer >= 0"),
    ("last_epoch", -5, r"last_epoch=-5"),
    ("last_epoch", 1.5, r"last_epoch=1.5"),
    ("optimizer_steps", None, r"optimizer_steps=None"),
    ("total_steps", "10", r"total_steps='10'; expected None or a positive integer"),
    ("eval_total", -3, r"eval_total=-3"),
    ("schedules", None, r"schedules=None"),
    ("schedules", {"lr": "cosine()"}, r"schedules\['lr'\]='cosine\(\)'; expected a list of 2 spec strings"),
    ("base_lrs", None, r"base_lrs=None; expected a list of finite numbers"),
    ("bases", {"lr": [0.1, "x"]}, r"bases\['lr'\]"),
    ("bases", {"lr": [0.1]}, r"bases\['lr'\] has 1 values for 2 parameter groups"),
    ("convention", None, r"convention=None; expected a preset name"),
    ("count", None, r"count=None; expected 'optimizer' or 'calls'"),
    ("cooldowns", None, r"cooldowns=None; expected a list"),
    ("cooldowns", [{"at": 1}], r"cooldown \{'at': 1\}; expected at"),
    ("cooldowns", [{"at": 1, "decay": 0, "form": "linear", "floor": 0.0, "start": START}], r"decay"),
    ("cooldowns", [{"at": 1, "decay": 3, "form": "nope", "floor": 0.0, "start": START}], r"form"),
    ("cooldowns", [{"at": 1, "decay": 3, "form": "linear", "floor": 0.0, "start": [1.0]}],
     r"cooldown start has 1 values for 2 parameter groups"),
    ("stretches", [[1, 2]], r"stretch \[1, 2\]; expected \(step, old total, new total\)"),
    ("stretches", [[5, 10, 5]], r"stretch \[5, 10, 5\]"),
    ("version", True, r"version True"),
])
def test_a_garbage_state_is_one_clear_line_and_changes_nothing(key, value, match):
    """Before: KeyError, TypeError, ZeroDivisionError from deep inside, or a silent load of nonsense (a cooldown
    for one of two groups, a stretch that runs backwards), with the scheduler half restored."""
    opt, sched = stepped(n=1)
    before, lrs = sched.state_dict(), [g["lr"] for g in opt.param_groups]
    bad = dict(GOOD, **{key: value})
    with pytest.raises(StateMismatchError, match=match):
        sched.load_state_dict(bad)
    assert sched.state_dict() == before
    assert [g["lr"] for g in opt.param_groups] == lrs


@pytest.mark.parametrize("key", ["last_epoch", "optimizer_steps", "schedules", "base_lrs", "cooldowns", "stretches",
                                 "convention", "count", "total_steps"])
def test_a_state_missing_an_entry_names_it(key):
    bad = {k: x for k, x in GOOD.items() if k != key}
    with pytest.raises(StateMismatchError, match=f"lacks '{key}'"):
        stepped(n=0)[1].load_state_dict(bad)


@pytest.mark.parametrize("state", [None, [1, 2], "abc", 3])
def test_a_state_that_is_not_a_dict(state):
    with pytest.raises(StateMismatchError, match="expected the dict saved by lrkit.torch.Scheduler.state_dict"):
        stepped(n=0)[1].load_state_dict(state)


def test_a_bad_plateau_controller_state_changes_nothing():
    spec = "plateau(patience=1)"
    opt, sched = stepped(spec, None, 2)
    state = sched.state_dict()
    before = sched.state_dict()
    with pytest.raises(StateMismatchError, match="controller="):
        sched.load_state_dict(dict(state, controller={"reductions": "x"}))
    assert sched.state_dict() == before


def test_replan_must_be_a_bool():
    """Before: replan='no' (from a config file) was truthy and silently switched schedules."""
    _, sched = stepped("linear()")
    with pytest.raises(lrkit.SpecError, match="replan='no' is not True or False"):
        sched.load_state_dict(GOOD, replan="no")


def test_a_convention_with_the_same_name_but_other_settings_names_the_difference():
    conv = dict(GOOD["convention"], after_end="continue")
    with pytest.raises(StateMismatchError, match=r"convention 'lrkit' set differently \(after_end='continue'\)"):
        stepped(n=0)[1].load_state_dict(dict(GOOD, convention=conv))


# ----- the optimizer's base values ------------------------------------------------------------------------
@pytest.mark.parametrize("lr, match", [(None, "lr=None"), ("0.1", "lr='0.1'"), (float("nan"), "lr=nan"),
                                       (float("inf"), "lr=inf"), (-0.1, "lr=-0.1")])
def test_a_group_lr_that_is_not_a_finite_number(lr, match):
    """Before: None raised a raw TypeError from float(); '0.1', nan, inf and negative LRs were silently used."""
    opt = sgd()
    opt.param_groups[1]["lr"] = lr
    with pytest.raises(lrkit.SpecError, match=rf"parameter group 1 of SGD has {match}; .*finite number >= 0"):
        Scheduler(opt, "constant()")


def test_transformers_adafactor_with_a_relative_step_says_why():
    transformers = pytest.importorskip("transformers")
    opt = transformers.optimization.Adafactor([torch.nn.Parameter(torch.ones(2))], lr=None, relative_step=True)
    with pytest.raises(lrkit.SpecError, match="has lr=None.*relative_step=False"):
        Scheduler(opt, "constant()")


def test_a_hyperparameter_that_is_zero_everywhere_cannot_be_scheduled():
    """Before: hyperparams={'momentum': ...} on SGD(momentum=0) silently kept momentum at 0 forever."""
    with pytest.raises(lrkit.SpecError, match="'momentum' is scheduled, but it is 0 in every parameter group"):
        Scheduler(sgd(), "constant()", hyperparams={"momentum": "linear()"}, total_steps=10)
    opt = sgd(momentum=0.9)
    opt.param_groups[0]["momentum"] = 0.0  # one group at 0 (a no-decay group, say) is fine
    Scheduler(opt, "constant()", hyperparams={"momentum": "linear()"}, total_steps=10)


def test_hints_for_adam_style_names():
    adam = torch.optim.Adam([torch.nn.Parameter(torch.ones(2))])
    with pytest.raises(lrkit.SpecError, match="'betas' cannot be scheduled.*'beta1' and 'beta2'"):
        Scheduler(adam, "constant()", hyperparams={"betas": "constant()"})
    with pytest.raises(lrkit.SpecError, match="has no 'momentum'; Adam-style optimizers keep momentum in beta1"):
        Scheduler(adam, "constant()", hyperparams={"momentum": "constant()"})


def test_a_beta_or_momentum_schedule_that_reaches_one_is_refused():
    """Before: a multiplier above 1 silently set beta2=1.998 or momentum=1.125, and training diverged."""
    adam = torch.optim.AdamW([torch.nn.Parameter(torch.ones(2))], betas=(0.9, 0.999))
    with pytest.raises(lrkit.SpecError, match=r"hyperparams\['beta2'\]: cyclic\(.*\) takes beta2 of parameter group 0 "
                                              r"to 1.998 at step 2 .*must stay in \[0, 1\)"):
        Scheduler(adam, "constant()", 10, hyperparams={"beta2": "cyclic(base=0.5, max=2.0, up=2)"})
    opt = sgd(momentum=0.9)  # no total: caught at the step that reaches it, before it is written
    sched = Scheduler(opt, "constant()", hyperparams={"momentum": "cyclic(base=0.5, max=2.0, up=2)"})
    opt.step()
    with pytest.raises(lrkit.SpecError, match=r"takes momentum of parameter group 0 to 1.125 at step 1"):
        sched.step()
    assert opt.param_groups[0]["momentum"] < 1.0


def test_a_tensor_lr_that_requires_grad_is_filled():
    """Before: RuntimeError 'a leaf Variable that requires grad is being used in an in-place operation'."""
    lr = torch.tensor(0.1, requires_grad=True)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=lr)
    sched = Scheduler(opt, "linear()", 10)
    opt.step()
    sched.step()
    assert lr.item() == pytest.approx(0.09)
    assert lr.requires_grad


def test_a_zero_dimensional_total_is_a_number():
    """Before: total_steps=torch.tensor(10) was 'not a whole number of steps'."""
    assert Scheduler(sgd(), "cosine()", torch.tensor(10)).total_steps == 10
    assert Scheduler(sgd(), "cosine()", np.int64(10)).total_steps == 10


# ----- step(metrics=...) and cooldown ----------------------------------------------------------------------
@pytest.mark.parametrize("metric", [torch.tensor([1.0, 2.0]), np.array([1.0, 2.0])])
def test_a_metric_with_several_values(metric):
    """Before: RuntimeError 'a Tensor with 2 elements cannot be converted to Scalar' from the plateau code."""
    opt, sched = stepped("plateau(patience=1)", None, 1)
    with pytest.raises(lrkit.SpecError, match=r"step\(metrics=...\): got 2 values .*expected one number"):
        sched.step(metrics=metric)
    sched.step(metrics=torch.tensor([1.0]))  # one value in a tensor is fine


def test_a_cooldown_floor_above_the_peak_is_refused():
    """Before: floor=2.0 silently did nothing (every group's LR was already below it)."""
    _, sched = stepped("wsd(decay=0.2)")
    with pytest.raises(lrkit.SpecError, match=r"cooldown: floor=2.0 is out of range; expected a number in \[0, 1\]"):
        sched.cooldown(3, floor=2.0)
    assert sched.cooldowns == []


def test_a_huge_total_allocates_nothing_that_grows_with_it():
    """Before: every Scheduler with a total allocated total_steps + 1 values up front (800 MB at 10^8 steps; at
    10^12 numpy could not allocate them), for a check that only [0, 1) hyperparameters need."""
    import tracemalloc

    tracemalloc.start()
    try:
        opt = sgd(momentum=0.9)
        sched = Scheduler(opt, "cosine()", 10**12, hyperparams={"momentum": "linear(end=0.5)"})
        opt.step()
        sched.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB"
    assert sched.get_last_lr()[0] == pytest.approx(0.1)
    with pytest.raises(lrkit.SpecError, match=r"takes momentum of parameter group 0 to 1.8 at step 1000000000000 "):
        Scheduler(sgd(momentum=0.9), "cosine()", 10**12, hyperparams={"momentum": "linear(end=2.0)"})
