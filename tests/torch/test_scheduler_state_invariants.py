"""A saved scheduler state is checked for its invariants, not only its types: counters consistent with the step,
a cooldown floor in [0, 1] and a start recorded exactly when its step is reached, the totals explained by the
recorded total changes, stretches and reductions at or before the saved step. A tampered state is one line and
changes nothing (before: last_epoch=300, optimizer_steps=5, last_counted=999 was accepted and the next step ran
at step -693; a cooldown floor of 5 and eval_total=1 were used as given)."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import lrkit.adaptive  # noqa: F401  (registers the plateau family)
from lrkit.torch import Scheduler, StateMismatchError


def _opt():
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 0.1 * (i + 1)} for i in range(2)],
                           momentum=0.9)


def _run(opt, sched, n, metrics=None):
    for _ in range(n):
        opt.step()
        sched.step()
        if metrics is not None:
            sched.step(metrics=metrics(sched.last_epoch))


def plain():
    opt = _opt()
    sched = Scheduler(opt, "cosine(floor=0.1)", 50, hyperparams={"momentum": "linear(end=0.5)"})
    _run(opt, sched, 10)
    return sched.state_dict(), lambda: Scheduler(_opt(), "cosine(floor=0.1)", 50,
                                                 hyperparams={"momentum": "linear(end=0.5)"})


def cooled():
    opt = _opt()
    sched = Scheduler(opt, "constant()", 50)
    _run(opt, sched, 10)
    sched.cooldown(20, "linear", 0.1)
    sched.cooldown(10, "cosine", 0.0, at=40)
    _run(opt, sched, 10)
    return sched.state_dict(), lambda: Scheduler(_opt(), "constant()", 50)


def plateaued():
    opt = _opt()
    spec = "plateau(patience=1, cooldown=2, factor=0.5)"
    sched = Scheduler(opt, spec)
    _run(opt, sched, 12, metrics=lambda t: 1.0)
    state = sched.state_dict()
    assert state["controller"]["reductions"]
    return state, lambda: Scheduler(_opt(), spec)


def stretched():
    state, _ = plain()
    opt = _opt()
    sched = Scheduler(opt, "cosine(floor=0.1)", 80, hyperparams={"momentum": "linear(end=0.5)"})
    sched.load_state_dict(state, total_change="stretch")
    _run(opt, sched, 5)
    return sched.state_dict(), lambda: Scheduler(_opt(), "cosine(floor=0.1)", 80,
                                                 hyperparams={"momentum": "linear(end=0.5)"})


def kept():
    state, _ = plain()
    opt = _opt()
    sched = Scheduler(opt, "cosine(floor=0.1)", 70, hyperparams={"momentum": "linear(end=0.5)"})
    sched.load_state_dict(state, total_change="keep")
    _run(opt, sched, 5)
    return sched.state_dict(), lambda: Scheduler(_opt(), "cosine(floor=0.1)", 70,
                                                 hyperparams={"momentum": "linear(end=0.5)"})


SCENARIOS = {f.__name__: f() for f in (plain, cooled, plateaued, stretched, kept)}


def _tampers():
    """Each ``(state, k, x) -> tampered state`` (or None where it does not apply) breaks one invariant."""
    def counted_above_applied(s, k, x):
        return dict(s, last_counted=s["optimizer_steps"] + k)

    def counted_above_step(s, k, x):
        return dict(s, last_counted=s["last_epoch"] + k, optimizer_steps=s["last_epoch"] + k + 3)

    def step_count(s, k, x):
        return dict(s, step_count=s["last_epoch"] + 1 + k if k % 2 else 0)

    def eval_total(s, k, x):
        new = k if s["eval_total"] != k else k + 1
        return dict(s, eval_total=new)

    def eval_none(s, k, x):
        return dict(s, eval_total=None) if s["total_steps"] is not None else None

    def floor(s, k, x):
        c = {"at": 0, "decay": 5, "form": "linear", "floor": 0.0, "start": [1.0, 1.0]}
        cooldowns = copy.deepcopy(s["cooldowns"]) or [c]
        cooldowns[0]["floor"] = 1.0 + x if k % 2 else -x
        return dict(s, cooldowns=cooldowns)

    def start_missing(s, k, x):
        cooldowns = copy.deepcopy(s["cooldowns"]) + [{"at": s["last_epoch"] - k % (s["last_epoch"] + 1), "decay": 3,
                                                      "form": "linear", "floor": 0.0, "start": None}]
        return dict(s, cooldowns=cooldowns)

    def start_ahead(s, k, x):
        cooldowns = copy.deepcopy(s["cooldowns"]) + [{"at": s["last_epoch"] + k, "decay": 3, "form": "linear",
                                                      "floor": 0.0, "start": [1.0, 1.0]}]
        return dict(s, cooldowns=cooldowns)

    def stretch_ahead(s, k, x):
        at = s["last_epoch"] + k
        return dict(s, stretches=[*s["stretches"], [at, at + 10, at + 20]])

    def negative_base(s, k, x):
        key = "momentum" if "momentum" in s["bases"] else "lr"
        bases = dict(s["bases"], **{key: [-x, *s["bases"][key][1:]]})
        return dict(s, bases=bases, base_lrs=bases["lr"])

    def beta_at_one(s, k, x):
        if "momentum" not in s["bases"]:
            return None
        return dict(s, bases=dict(s["bases"], momentum=[1.0 + x, s["bases"]["momentum"][1]]))

    def lr_bases_differ(s, k, x):
        return dict(s, base_lrs=[s["base_lrs"][0] + x, *s["base_lrs"][1:]])

    def reduction_ahead(s, k, x):
        if not s["controller"]:
            return None
        c = dict(s["controller"], reductions=[*s["controller"]["reductions"], s["last_epoch"] + k])
        c["observations"] = max(c["observations"], len(c["reductions"]))
        return dict(s, controller=c)

    def num_bad(s, k, x):
        if not s["controller"]:
            return None
        return dict(s, controller=dict(s["controller"], num_bad=1 + k))  # patience=1

    def total_chain(s, k, x):
        if s["total_steps"] is None:
            return None
        extra = [s["last_epoch"], s["total_steps"], s["total_steps"] + k, "keep"]
        return dict(s, total_changes=[*s["total_changes"], extra])

    def changes_without_stretch(s, k, x):
        if not s["stretches"]:
            return None
        return dict(s, total_changes=[[c[0], c[1], c[2], "keep"] for c in s["total_changes"]])

    return [f for name, f in locals().items() if callable(f)]


TAMPERS = _tampers()


def _refused(state, build, bad):
    opt_sched = build()
    before = opt_sched.state_dict()
    lrs = [g["lr"] for g in opt_sched.optimizer.param_groups]
    with pytest.raises(StateMismatchError) as e:
        opt_sched.load_state_dict(bad)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("this is not a valid lrkit.torch.Scheduler state: "), msg
    assert opt_sched.state_dict() == before
    assert [g["lr"] for g in opt_sched.optimizer.param_groups] == lrs
    return msg


def test_every_scenario_loads_untampered():
    for name, (state, build) in SCENARIOS.items():
        sched = build()
        sched.load_state_dict(copy.deepcopy(state))
        assert sched.state_dict() == state, name


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=st.sampled_from(sorted(SCENARIOS)), tamper=st.sampled_from(TAMPERS),
       k=st.integers(1, 10**6), x=st.floats(1e-9, 1e6))
def test_a_tampered_state_is_one_line_and_changes_nothing(scenario, tamper, k, x):
    state, build = SCENARIOS[scenario]
    bad = tamper(copy.deepcopy(state), k, x)
    assume(bad is not None)
    _refused(state, build, bad)


@pytest.mark.parametrize("edit, match", [
    (dict(last_epoch=300, optimizer_steps=5, last_counted=999), "last_counted=999 is above optimizer_steps=5"),
    (dict(eval_total=1), r"eval_total=1 with total_steps=50; expected 50, the run's first total"),
    (dict(cooldowns=[{"at": 5, "decay": 10, "form": "linear", "floor": 5.0, "start": [1.0, 1.0]}]),
     r"floor \(in \[0, 1\]\)"),
])
def test_the_reported_states(edit, match):
    state, build = SCENARIOS["plain"]
    assert re.search(match, _refused(state, build, dict(state, **edit)))


def test_an_off_by_one_step_stays_loadable():
    """last_epoch one ahead of the counted steps is a consistent state (test_resume relies on it)."""
    state, build = SCENARIOS["plain"]
    build().load_state_dict(dict(state, last_epoch=state["last_epoch"] + 1))


def test_a_state_saved_before_total_changes_were_recorded_loads():
    state, build = SCENARIOS["kept"]
    old = {k: x for k, x in state.items() if k != "total_changes"}
    sched = build()
    sched.load_state_dict(old)
    assert sched.state_dict()["total_changes"] is None  # the history is unknown from then on, and says so
