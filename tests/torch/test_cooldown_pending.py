"""A cooldown set for a later step starts from the LR of that step, whatever happens before it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import lrkit.adaptive  # noqa: E402,F401  (registers the plateau family)
from lrkit.torch import Scheduler  # noqa: E402


def _run(sched, opt, upto, metrics):
    lrs = {}
    while sched.last_epoch < upto:
        opt.step()
        sched.step()
        t = sched.last_epoch
        if t in metrics:
            sched.step(metrics=metrics[t])
        lrs[t] = opt.param_groups[0]["lr"]
    return lrs


def _make():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    return opt, Scheduler(opt, "plateau(factor=0.5, patience=0)", total_steps=100)


def test_pending_cooldown_starts_from_the_lr_reached_at_its_step():
    opt, sched = _make()
    _run(sched, opt, 10, {})
    sched.cooldown(10, form="linear", at=20)
    lrs = _run(sched, opt, 40, {12: 1.0, 15: 2.0})  # the worse metric at 15 halves the LR
    assert lrs[16] == pytest.approx(0.5)
    assert lrs[20] == pytest.approx(0.5)  # not the 1.0 of the call, which would jump back up
    assert lrs[25] == pytest.approx(0.25) and lrs[30] == pytest.approx(0.0) and lrs[40] == pytest.approx(0.0)
    assert sched.state_dict()["cooldowns"][0]["start"] == [pytest.approx(0.5)]


def test_pending_cooldown_resumes_exactly():
    opt, sched = _make()
    _run(sched, opt, 10, {})
    sched.cooldown(10, form="1-sqrt", at=20)
    _run(sched, opt, 12, {12: 1.0})
    state = sched.state_dict()
    assert state["cooldowns"][0]["start"] is None  # not reached yet
    expected = _run(sched, opt, 40, {15: 2.0})
    opt2, sched2 = _make()
    sched2.load_state_dict(state)
    assert _run(sched2, opt2, 40, {15: 2.0}) == expected
