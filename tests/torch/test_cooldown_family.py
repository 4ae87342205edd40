"""Scheduler.cooldown is the ``cooldown`` family: the run it makes is the one the spec
``cooldown(<schedule>, at=..., decay=..., form=..., floor=...)`` describes, value for value (before: a second
implementation whose floor > 0 cooldowns differed in the last bits, and whose start ignored a plateau reduction
made at the cooldown's own step). Old states (no ``total_changes``) still load."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import lrkit  # noqa: E402
import lrkit.adaptive  # noqa: E402,F401  (registers the plateau family)
from lrkit.torch import Scheduler, StateMismatchError  # noqa: E402

BASES = [0.1, 0.3]


def _opt():
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": b} for b in BASES])


def _run(opt, sched, n, metrics=None):
    out = {}
    for _ in range(n):
        opt.step()
        sched.step()
        t = sched.last_epoch
        if metrics and t in metrics:
            sched.step(metrics=metrics[t])
        out[t] = sched.get_last_lr()
    return out


@pytest.mark.parametrize("spec", ["cosine(warmup=5, floor=0.1)", "constant()", "linear(end=0.3)"])
@pytest.mark.parametrize("form, floor", [("linear", 0.1), ("cosine", 0.37), ("1-sqrt", 0.0), ("square", 0.05)])
def test_a_cooldown_is_the_cooldown_family(spec, form, floor):
    T, at, decay = 80, 30, 25
    opt = _opt()
    sched = Scheduler(opt, spec, T)
    _run(opt, sched, 10)
    sched.cooldown(decay, form, floor, at=at)
    lrs = _run(opt, sched, 80)
    family = lrkit.parse(f"cooldown({spec}, at={at}, decay={decay}, form={form!r}, floor={floor})")
    for t, got in lrs.items():
        assert got == [b * family(t, T) for b in BASES], t


def test_nested_cooldowns_are_nested_families():
    """A later cooldown replaces an earlier one from its own at: the family around the family."""
    T = 60
    opt = _opt()
    sched = Scheduler(opt, "constant()", T)
    sched.cooldown(30, "linear", 0.2, at=10)
    _run(opt, sched, 20)
    sched.cooldown(10, "cosine", 0.0)  # at 20, from the LR the first cooldown reached there
    lrs = _run(opt, sched, 50)
    inner = "cooldown(constant(), at=10, decay=30, form='linear', floor=0.2)"
    family = lrkit.parse(f"cooldown({inner}, at=20, decay=10, form='cosine')")
    assert all(got == [b * family(t, T) for b in BASES] for t, got in lrs.items())
    assert sched.state_dict()["cooldowns"][1]["start"] == [lrkit.parse(inner)(20, T)] * 2


def test_a_cooldown_starts_from_the_lr_of_its_step_reductions_at_that_step_included():
    """The family evaluated with the reductions the controller recorded gives every value of the run."""
    opt = _opt()
    sched = Scheduler(opt, "plateau(factor=0.5, patience=0)", 60)
    _run(opt, sched, 5)
    sched.cooldown(10, "linear", at=20)
    lrs = _run(opt, sched, 40, metrics={8: 1.0, 12: 2.0, 20: 3.0})  # worse at 12 and at 20 itself
    reductions = sched.state_dict()["controller"]["reductions"]
    assert reductions == [12, 20]
    family = lrkit.parse(f"cooldown(plateau(factor=0.5, patience=0, reductions={reductions}), at=20, decay=10, "
                         f"form='linear')")
    assert lrs[20] == [b * 0.25 for b in BASES]  # the reduction at 20 is the LR of step 20
    assert all(got == [b * family(t, 60) for b in BASES] for t, got in lrs.items())


def test_a_stretched_run_cools_down_in_optimizer_steps():
    """After a stretch, a cooldown's at and decay still count optimizer steps; it starts from the stretched
    schedule's value at its step."""
    opt = _opt()
    sched = Scheduler(opt, "cosine()", 50)
    _run(opt, sched, 20)
    state = sched.state_dict()
    opt = _opt()
    longer = Scheduler(opt, "cosine()", 100)
    longer.load_state_dict(state, total_change="stretch")
    _run(opt, longer, 10)
    longer.cooldown(10, "linear")
    lrs = _run(opt, longer, 15)
    start = lrkit.parse("cosine()")(longer.position(30), 50)
    assert longer.state_dict()["cooldowns"][0]["start"] == [start, start]
    assert lrs[35] == [b * start * 0.5 for b in BASES] and lrs[40] == [0.0, 0.0]


def test_a_state_without_total_changes_loads_and_continues_exactly():
    """States saved before total_changes was recorded hold the same cooldown entries: they still load."""
    opt = _opt()
    sched = Scheduler(opt, "constant(warmup=3)", 50)
    _run(opt, sched, 10)
    sched.cooldown(20, "cosine", 0.1)
    sched.cooldown(5, "linear", at=25)
    _run(opt, sched, 5)
    old = {k: x for k, x in sched.state_dict().items() if k != "total_changes"}
    want = _run(opt, sched, 30)
    again = Scheduler(_opt(), "constant(warmup=3)", 50)
    again.load_state_dict(old)
    assert _run(again.optimizer, again, 30) == want


def test_an_edited_cooldown_start_is_refused():
    opt = _opt()
    sched = Scheduler(opt, "cosine()", 50)
    _run(opt, sched, 10)
    sched.cooldown(10)
    state = sched.state_dict()
    state["cooldowns"][0]["start"] = [0.5, 0.5]
    with pytest.raises(StateMismatchError, match=r"cooldown 0 at step 10 records the start \[0.5, 0.5\]"):
        Scheduler(_opt(), "cosine()", 50).load_state_dict(state)
    Scheduler(_opt(), "cosine()", 50).load_state_dict(state, replan=True)  # the way on: recomputed
