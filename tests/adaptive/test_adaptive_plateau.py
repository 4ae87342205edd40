"""Plateau phases: the family, the controller (against torch's ReduceLROnPlateau), composition and resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lrkit
from lrkit.adaptive.plateau import Plateau, PlateauController, has_plateau, strip_reductions


def test_family_values_round_trip_and_warmup():
    s = lrkit.parse("plateau(factor=0.5, reductions=[10, 10, 30], min=0.1)")
    assert isinstance(s, Plateau)
    got = s.sample(40)
    want = np.where(np.arange(40) < 10, 1.0, np.where(np.arange(40) < 30, 0.25, 0.125))
    want = np.maximum(want, 0.1)
    np.testing.assert_array_equal(got, want)
    assert [s(t) for t in (0, 9, 10, 29, 30, 39)] == [1.0, 1.0, 0.25, 0.25, 0.125, 0.125]
    assert lrkit.parse(str(s)) == s and lrkit.parse(json.dumps(s.to_dict())) == s
    w = lrkit.parse("plateau(warmup=5, reductions=[3])")  # reductions count from the end of the warmup
    np.testing.assert_allclose(w.sample(10), [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0, 0.1, 0.1])


@pytest.mark.parametrize("spec, msg", [
    ("plateau(factor=1.5)", "factor"),
    ("plateau(factor=0)", "factor"),
    ("plateau(patience=-1)", "patience"),
    ("plateau(mode='maximum')", "mode"),
    ("plateau(threshold_mode='relative')", "threshold_mode"),
    ("plateau(reductions=[5, 3])", "non-decreasing"),
    ("plateau(reductions=[-1])", "reductions"),
    ("plateau(min=2)", "min"),
])
def test_family_bad_arguments_are_one_line(spec, msg):
    with pytest.raises(lrkit.SpecError, match=msg) as e:
        lrkit.parse(spec)
    assert "\n" not in str(e.value)


def test_controller_matches_torch_reduce_lr_on_plateau():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    metrics = np.r_[np.linspace(2, 1, 15), 1 + 0.01 * rng.standard_normal(60), np.linspace(1, 0.5, 10),
                    0.5 + 0.001 * rng.standard_normal(40)]
    for kw in (dict(factor=0.5, patience=3, threshold=1e-3, cooldown=2),
               dict(factor=0.3, patience=0, threshold=0.01, threshold_mode="abs"),
               dict(factor=0.5, patience=5, mode="max", min=0.1)):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=1.0)
        tkw = {k: val for k, val in kw.items() if k != "min"}
        ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, min_lr=kw.get("min", 0.0), eps=0.0, **tkw)
        spec = "plateau(" + ", ".join(f"{k}={val!r}" for k, val in kw.items()) + ")"
        ctl = PlateauController(spec)
        sign = -1 if kw.get("mode") == "max" else 1
        for t, x in enumerate(metrics):  # one observation per "epoch" of 10 steps
            ctl.observe(sign * x if kw.get("mode") == "max" else x, t * 10)
            ref.step(sign * x if kw.get("mode") == "max" else x)
            ours = ctl.schedules[0]((t + 1) * 10 - 1)  # the LR of the epoch that follows
            assert ours == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12), (kw, t)
        assert ctl.reductions, kw  # (the sequence does trigger reductions)


def test_warmup_plateau_cooldown_sequence():
    spec = "sequence(warmup(period=20), plateau(factor=0.5, patience=1), linear(), boundaries=[20, 100])"
    ctl = PlateauController(spec, total=120)
    assert has_plateau(ctl.schedules)
    assert not ctl.observe(5.0, 0) and not ctl.observe(5.0, 10)  # warmup: ignored
    assert ctl.observations == 0
    for step in (20, 30, 40):  # best, bad, bad -> reduce at 40 (patience 1)
        reduced = ctl.observe(1.0, step)
    assert reduced and ctl.reductions == [40]
    s = ctl.schedules[0]
    assert "reductions=[20]" in str(s)  # 40 run steps = 20 steps into the plateau phase
    assert s(39, 120) == 1.0 and s(40, 120) == 0.5 and s(99, 120) == 0.5
    assert s(100, 120) == 1.0 and s(119, 120) == pytest.approx(0.05)  # the cooldown phase as written
    assert not ctl.observe(1.0, 100) and not ctl.observe(1.0, 110)  # cooldown: ignored
    assert lrkit.parse(str(s)) == s
    assert strip_reductions(s) == lrkit.parse(spec)


def test_product_cooldown_starts_from_the_reduced_lr():
    spec = "product(plateau(factor=0.1, patience=0), wsd(warmup=10, decay=0.2))"
    ctl = PlateauController(spec, total=100)
    ctl.observe(1.0, 20)
    assert ctl.observe(1.0, 30)
    y = ctl.schedules[0].sample(100)
    assert y[29] == pytest.approx(1.0) and y[30] == pytest.approx(0.1)
    assert y[80] == pytest.approx(0.1) and y[99] < 0.1 * 0.2  # the cooldown decays from 0.1


def test_floor_stops_recording_and_state_round_trip():
    ctl = PlateauController("plateau(factor=0.5, patience=0, min=0.25)")
    for t in range(10):
        ctl.observe(1.0, t)
    assert ctl.reductions == [1, 2]  # 0.5, 0.25, then at the floor nothing more is recorded
    state = json.loads(json.dumps(ctl.state_dict()))
    other = PlateauController("plateau(factor=0.5, patience=0, min=0.25)")
    other.load_state_dict(state)
    assert other.schedules == ctl.schedules and other.state_dict() == ctl.state_dict()
    with pytest.raises(lrkit.SpecError, match="before the last reduction"):
        ctl.observe(1.0, 0)


def test_controller_errors():
    with pytest.raises(lrkit.SpecError, match="no plateau"):
        PlateauController("cosine()")
    with pytest.raises(lrkit.SpecError, match="same patience"):
        PlateauController(["plateau(patience=2)", "plateau(patience=3)"])
    with pytest.raises(lrkit.SpecError, match="not a number"):
        PlateauController("plateau()").observe("low", 0)


def test_per_group_schedules_share_one_metric():
    ctl = PlateauController(["plateau(factor=0.5, patience=0)", "product(plateau(factor=0.1, patience=0), "
                                                              "constant(value=2.0))", "plateau(factor=0.5, patience=0)"])
    ctl.observe(1.0, 0)
    ctl.observe(1.0, 5)
    vals = [s(10) for s in ctl.schedules]
    assert vals == [0.5, pytest.approx(0.2), 0.5]
    assert ctl.schedules[0] is ctl.schedules[2]


# ------------------------------------------------------------------------------------------ with lrkit.torch
SEQ = "sequence(warmup(period=20), plateau(factor=0.5, patience=1), linear(), boundaries=[20, 150])"


def _metric(t):
    """A validation loss that improves until step 60, then stalls (so the plateau reduces)."""
    return max(2.0 - t / 40, 0.5) + 0.0 * t


def _loop(sched, opt, w, start, stop, eval_every=10):
    import torch

    lrs = []
    for t in range(start, stop):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        (w * torch.tensor([1.0, -2.0])).sum().pow(2).backward()
        opt.step()
        sched.step()
        if (t + 1) % eval_every == 0:
            sched.step(metrics=_metric(t))  # no optimizer step in between: only feeds the metric
    return lrs


def _build(spec=SEQ, total=200):
    torch = pytest.importorskip("torch")
    from lrkit.torch import Scheduler

    w = torch.nn.Parameter(torch.tensor([0.3, 0.1]))
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    return Scheduler(opt, spec, total_steps=total), opt, w


def test_scheduler_warmup_plateau_cooldown_and_exact_resume():
    torch = pytest.importorskip("torch")
    sched, opt, w = _build()
    lrs = _loop(sched, opt, w, 0, 200)
    ctl = sched._controller
    assert ctl.reductions  # the stalled metric reduced the LR inside the plateau phase
    assert all(20 <= r < 150 for r in ctl.reductions)
    assert lrs[5] == pytest.approx(0.1 * 6 / 20)  # warmup
    r0 = ctl.reductions[0]
    assert lrs[r0 - 1] == pytest.approx(0.1) and lrs[r0] == pytest.approx(0.05)
    assert lrs[150] == pytest.approx(0.1) and lrs[199] == pytest.approx(0.1 / 50)  # the cooldown as written
    state = sched.state_dict()
    assert state["schedules"]["lr"] == [str(lrkit.parse(SEQ))]  # the spec as written; the decisions beside it
    assert json.loads(json.dumps(state)) == state

    # resume mid-plateau, after the first reduction: a new scheduler and optimizer continue identically
    s1, o1, w1 = _build()
    _loop(s1, o1, w1, 0, r0 + 5)
    saved = {"sched": json.loads(json.dumps(s1.state_dict())), "opt": o1.state_dict(), "w": w1.detach().clone()}
    s2, o2, w2 = _build()
    with torch.no_grad():
        w2.copy_(saved["w"])
    o2.load_state_dict(saved["opt"])
    s2.load_state_dict(saved["sched"])
    assert o2.param_groups[0]["lr"] == lrs[r0 + 5]
    rest = _loop(s2, o2, w2, r0 + 5, 200)
    assert rest == lrs[r0 + 5:]  # bit-identical
    assert torch.equal(w2, w) and s2._controller.reductions == ctl.reductions


def test_scheduler_metrics_errors_and_pickle():
    import pickle

    sched, opt, w = _build("cosine()", 50)
    with pytest.raises(lrkit.SpecError, match="no plateau") as e:
        sched.step(metrics=1.0)
    assert "\n" not in str(e.value)
    sched, opt, w = _build("product(plateau(patience=0, factor=0.5), cosine())", 50)
    sched.step(metrics=1.0)
    sched.step(metrics=1.0)
    assert sched.get_last_lr() == [pytest.approx(0.05)]
    clone = pickle.loads(pickle.dumps(sched))
    assert clone.state_dict() == sched.state_dict()
