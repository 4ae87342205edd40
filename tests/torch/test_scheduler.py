"""lrkit.torch.Scheduler: per-group schedules and bases, other hyperparameters, state checks, re-planning,
anytime cooldown, counting applied optimizer steps (accumulation, AMP skips), no warnings, pickling."""

from __future__ import annotations

import copy
import io
import json
import pickle
import warnings

import pytest
import torch

import lrkit
from lrkit.torch import Scheduler, StateMismatchError

BASES = (1e-3, 3e-2, 0.5)


def make_opt(kind="sgd", bases=BASES, names=("backbone", "head", None), tensor_lr=False, **kw):
    groups = []
    for lr, name in zip(bases, names):
        g = {"params": [torch.nn.Parameter(torch.ones(3))], "lr": torch.tensor(lr) if tensor_lr else lr}
        if name is not None:
            g["name"] = name
        groups.append(g)
    if kind == "sgd":
        return torch.optim.SGD(groups, momentum=kw.pop("momentum", 0.9), weight_decay=0.1, **kw)
    if kind == "adamw":
        return torch.optim.AdamW(groups, betas=(0.9, 0.95), weight_decay=0.05, **kw)
    if kind == "adafactor":
        return torch.optim.Adafactor(groups, weight_decay=0.01, **kw)
    raise ValueError(kind)


def run(opt, sched, n):
    out = []
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(list(sched.get_last_lr()))
    return out


# ----- one schedule or one per group, each group's own base ----------------------------------------------
def test_one_schedule_scales_every_groups_own_base_lr_and_floor():
    T = 50
    opt = make_opt()
    sched = Scheduler(opt, "cosine(warmup=5, floor=0.1)", T)
    s = lrkit.parse("cosine(warmup=5, floor=0.1)")
    assert sched.get_last_lr() == [b * s(0, T) for b in BASES]
    lrs = run(opt, sched, T + 5)
    for t, row in enumerate(lrs, start=1):
        assert row == [b * s(t, T) for b in BASES]
    assert [g["lr"] for g in opt.param_groups] == lrs[-1]
    # the floor is 10% of each group's own base (transformers uses the optimizer's default lr for all groups)
    assert lrs[-1] == pytest.approx([0.1 * b for b in BASES], rel=1e-12)


@pytest.mark.parametrize("how", ["list", "dict-index", "dict-name", "dict-mixed", "dict-json-keys"])
def test_one_schedule_per_group(how):
    specs = ["cosine()", "wsd(decay=0.3, floor=0.1)", "constant(warmup=4)"]
    given = {"list": specs, "dict-index": dict(enumerate(specs)),
             "dict-name": {"backbone": specs[0], "head": specs[1], 2: specs[2]},
             "dict-mixed": {0: specs[0], "head": specs[1], 2: specs[2]},
             "dict-json-keys": {"0": specs[0], "1": specs[1], "2": specs[2]}}[how]
    T = 30
    opt = make_opt()
    sched = Scheduler(opt, given, T)
    lrs = run(opt, sched, T)
    for t, row in enumerate(lrs, start=1):
        assert row == [b * lrkit.parse(s)(t, T) for b, s in zip(BASES, specs)]
    assert sched.multipliers("lr", 29) == [lrkit.parse(s)(29, T) for s in specs]


@pytest.mark.parametrize("given, match", [
    (["cosine()", "linear()"], r"got 2 schedules for 3 parameter groups"),
    ({"backbone": "cosine()", "haed": "cosine()", 2: "cosine()"}, r"no parameter group 'haed'.*did you mean 'head'"),
    ({"backbone": "cosine()", 2: "cosine()"}, r"no schedule for parameter group\(s\) 1 \('head'\)"),
    ({0: "cosine()", "backbone": "linear()", 1: "cosine()", 2: "cosine()"}, r"group 0 \('backbone'\) is given twice"),
    ({7: "cosine()"}, r"no parameter group 7; groups are 0, 1, 2, 'backbone', 'head'"),
    (3.0, r"is not a schedule spec, a list or a dict"),
    ("cosine(floor=-1)", r"cosine: floor=-1"),
])
def test_per_group_errors_are_one_clear_line(given, match):
    with pytest.raises(lrkit.SpecError, match=match) as e:
        Scheduler(make_opt(), given, 10)
    assert "\n" not in str(e.value)


def test_duplicate_group_names_are_refused_when_selecting_by_name():
    opt = make_opt(names=("a", "a", None))
    with pytest.raises(lrkit.SpecError, match="both named 'a'"):
        Scheduler(opt, {"a": "cosine()", 2: "cosine()"}, 10)


def test_a_schedule_that_decays_over_the_run_needs_total_steps():
    with pytest.raises(lrkit.SpecError, match=r"cosine\(\) decays over the run and needs total_steps="):
        Scheduler(make_opt(), "cosine()")
    sched = Scheduler(make_opt(), "inverse_sqrt(warmup=10)")  # anytime schedules need none
    assert sched.get_last_lr() == [b * lrkit.parse("inverse_sqrt(warmup=10)")(0) for b in BASES]


# ----- other hyperparameters ---------------------------------------------------------------------------
def test_sgd_momentum_and_weight_decay_in_the_same_scheduler():
    T = 20
    opt = make_opt("sgd")
    sched = Scheduler(opt, "cosine()", T, hyperparams={"momentum": "linear(end=0.5)",
                                                        "weight_decay": {"backbone": "constant()",
                                                                         "head": "cosine(floor=0.5)",
                                                                         2: "linear()"}})
    run(opt, sched, T)
    g0, g1, g2 = opt.param_groups
    assert [g["momentum"] for g in opt.param_groups] == [0.9 * 0.5] * 3
    assert (g0["weight_decay"], g1["weight_decay"], g2["weight_decay"]) == (0.1, 0.1 * 0.5, 0.0)
    assert [g["initial_momentum"] for g in opt.param_groups] == [0.9] * 3


def test_adamw_betas_are_scheduled_separately_and_stay_a_tuple():
    T = 10
    opt = make_opt("adamw")
    sched = Scheduler(opt, "constant()", T, hyperparams={"beta1": "linear(end=0.5)", "beta2": "constant()"})
    run(opt, sched, 5)
    b = opt.param_groups[0]["betas"]
    assert type(b) is tuple and b == (0.9 * lrkit.parse("linear(end=0.5)")(5, T), 0.95)
    assert sched.multipliers("beta1", 10) == [0.5] * 3


def test_adafactor_groups():
    """torch.optim.Adafactor: LR and weight decay per group; it has no betas, so beta1 is refused clearly."""
    T = 12
    opt = make_opt("adafactor")
    x = [p for g in opt.param_groups for p in g["params"]]
    sched = Scheduler(opt, {"backbone": "wsd(decay=0.5)", "head": "cosine()", 2: "constant()"}, T,
                      hyperparams={"weight_decay": "linear(end=0.1)"})
    for _ in range(T):
        sum((p ** 2).sum() for p in x).backward()
        opt.step()
        opt.zero_grad()
        sched.step()
    assert sched.get_last_lr() == [BASES[0] * 0.0, BASES[1] * 0.0, BASES[2]]
    assert [g["weight_decay"] for g in opt.param_groups] == pytest.approx([0.001] * 3)
    with pytest.raises(lrkit.SpecError, match=r"'beta1' is scheduled but parameter group 0 \('backbone'\) of "
                                              r"Adafactor has no 'betas' tuple"):
        Scheduler(make_opt("adafactor"), "cosine()", 10, hyperparams={"beta1": "constant()"})


def test_unknown_hyperparameter_names_the_valid_ones():
    with pytest.raises(lrkit.SpecError, match=r"'weight_decy' cannot be scheduled; expected one of weight_decay, "
                                              r"momentum, beta1, beta2; did you mean 'weight_decay'"):
        Scheduler(make_opt(), "cosine()", 10, hyperparams={"weight_decy": "constant()"})
    with pytest.raises(lrkit.SpecError, match="has no 'momentum'"):
        Scheduler(make_opt("adamw"), "cosine()", 10, hyperparams={"momentum": "constant()"})


def test_tensor_lr_is_filled_in_place():
    opt = make_opt("adamw", tensor_lr=True, foreach=False)
    tensors = [g["lr"] for g in opt.param_groups]
    sched = Scheduler(opt, "cosine()", 10)
    lrs = run(opt, sched, 4)
    assert all(g["lr"] is t for g, t in zip(opt.param_groups, tensors))
    assert [float(t) for t in tensors] == [float(torch.tensor(x)) for x in lrs[-1]]
    assert all(type(x) is float for x in sched.get_last_lr())


# ----- counting applied optimizer steps ---------------------------------------------------------------------
def test_gradient_accumulation_micro_steps_do_not_advance():
    T, accum = 20, 4
    opt = make_opt()
    sched = Scheduler(opt, "linear()", T)
    seen = []
    for micro in range(accum * 5):
        if (micro + 1) % accum == 0:
            opt.step()
        sched.step()  # called on every micro-step by mistake: only applied optimizer steps count
        seen.append(sched.last_epoch)
    assert seen == [m // accum + (1 if (m + 1) % accum == 0 else 0) for m in range(accum * 5)]
    assert sched.get_last_lr() == [b * (1 - 5 / T) for b in BASES]
    calls = Scheduler(make_opt(), "linear()", T, count="calls")
    for _ in range(3):
        calls.step()
    assert calls.last_epoch == 3


def test_an_amp_skipped_step_does_not_advance_the_schedule():
    """A real GradScaler on the CPU: an inf gradient makes it skip optimizer.step(), and the LR stays."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = Scheduler(opt, "linear()", 10)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8)
    x = torch.randn(8, 4)
    history = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(6):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(x).float().pow(2).mean()
            scaler.scale(loss).backward()
            if i in (0, 3):  # inject an overflow
                model.weight.grad[0, 0] = float("inf")
            before = model.weight.detach().clone()
            scaler.step(opt)
            scaler.update()
            opt.zero_grad()
            sched.step()
            skipped = torch.equal(before, model.weight.detach())
            history.append((skipped, sched.last_epoch, sched.get_last_lr()[0]))
    assert [h[0] for h in history] == [True, False, False, True, False, False]
    assert [h[1] for h in history] == [0, 1, 2, 2, 3, 4]
    assert [h[2] for h in history] == [0.1 * (1 - k / 10) for k in (0, 1, 2, 2, 3, 4)]
    assert scaler.get_scale() < 2.0 ** 8
    assert caught == []


def test_torch_warns_where_lrkit_does_not():
    """The control: torch's own scheduler warns about step order when GradScaler skips the first step."""

    def loop(make):
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = make(opt)
        scaler = torch.amp.GradScaler("cpu")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(3):
                scaler.scale(model(torch.ones(1, 2)).sum()).backward()
                if i == 0:
                    model.weight.grad.fill_(float("inf"))
                scaler.step(opt)
                scaler.update()
                opt.zero_grad()
                sched.step()
        return [str(w.message) for w in caught]

    assert any("before `optimizer.step()`" in m for m in loop(lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda t: 1.0)))
    assert loop(lambda o: Scheduler(o, "cosine()", 10)) == []


def test_no_warnings_in_any_usual_pattern():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt = make_opt("adamw")
        sched = Scheduler(opt, "cosine(warmup=2)", 10, hyperparams={"weight_decay": "linear()"})
        sched.step()  # before any optimizer step
        sched.get_lr()  # outside step()
        run(opt, sched, 12)  # past the end
        state = sched.state_dict()
        again = Scheduler(make_opt("adamw"), "cosine(warmup=2)", 10, hyperparams={"weight_decay": "linear()"})
        again.load_state_dict(state)
        again.cooldown(3)
        torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0)  # torch's schedulers still work alongside
    assert caught == []


def test_the_step_order_wrapper_of_torch_is_removed():
    """torch wraps optimizer.step to warn about call order; the wrapper stops torch.compile from tracing it."""
    opt = make_opt()
    Scheduler(opt, "cosine()", 10)
    assert "step" not in opt.__dict__ and not hasattr(opt.step, "_wrapped_by_lr_sched")


def test_step_takes_no_epoch():
    sched = Scheduler(make_opt(), "cosine()", 10)
    with pytest.raises(TypeError, match="takes no epoch"):
        sched.step(3)


# ----- state, mismatches and re-planning -------------------------------------------------------------------
def checkpoint(spec="cosine(floor=0.1)", total=100, at=40, **kw):
    opt = make_opt()
    sched = Scheduler(opt, spec, total, **kw)
    run(opt, sched, at)
    return sched.state_dict()


def test_state_is_plain_json_data():
    state = checkpoint(hyperparams={"momentum": "linear(end=0.5)"})
    assert json.loads(json.dumps(state)) == state
    assert state["schedules"] == {"lr": ["cosine(floor=0.1)"] * 3, "momentum": ["linear(end=0.5)"] * 3}


def test_loading_a_state_of_another_schedule_is_one_clear_line():
    state = checkpoint()
    sched = Scheduler(make_opt(), "wsd(decay=0.3)", 100)
    with pytest.raises(StateMismatchError) as e:
        sched.load_state_dict(state)
    msg = str(e.value)
    assert "\n" not in msg and "'cosine(floor=0.1)'" in msg and "'wsd(decay=0.3)'" in msg and "replan=True" in msg
    assert sched.last_epoch == 0  # a refused load changes nothing
    sched.load_state_dict(state, replan=True)  # from the saved step on, the new schedule
    assert sched.last_epoch == 40
    assert sched.get_last_lr() == [b * lrkit.parse("wsd(decay=0.3)")(40, 100) for b in BASES]


@pytest.mark.parametrize("change, match", [
    (dict(hyperparams={"momentum": "constant()"}), r"momentum schedule"),
    (dict(convention="torch"), r"convention 'lrkit', this scheduler uses 'torch'"),
    (dict(bases=(1e-3, 3e-2, 0.25)), r"base lr \[0.001, 0.03, 0.5\] but this optimizer's are \[0.001, 0.03, 0.25\]"),
    (dict(bases=(1e-3, 3e-2), names=("backbone", "head")), r"saved for 3 parameter groups, this optimizer has 2"),
    (dict(total=120), r"total_steps=100, this scheduler has total_steps=120; pass total_change='keep'"),
    (dict(count="calls"), r"count='optimizer'"),
])
def test_other_mismatches(change, match):
    state = checkpoint()
    opt = make_opt(bases=change.pop("bases", BASES), names=change.pop("names", ("backbone", "head", None)))
    sched = Scheduler(opt, "cosine(floor=0.1)", change.pop("total", 100), **change)
    with pytest.raises(StateMismatchError, match=match) as e:
        sched.load_state_dict(state)
    assert "\n" not in str(e.value)


def test_a_state_of_another_version_is_refused():
    state = dict(checkpoint(), version=99)
    with pytest.raises(StateMismatchError, match="version 99"):
        Scheduler(make_opt(), "cosine(floor=0.1)", 100).load_state_dict(state)


def resume_with(total, change, at=40, n=None):
    state = checkpoint(total=100, at=at)
    opt = make_opt()
    sched = Scheduler(opt, "cosine(floor=0.1)", total)
    sched.load_state_dict(state, total_change=change)
    first = sched.get_last_lr()
    return first, run(opt, sched, n if n is not None else total - at + 3), sched


@pytest.mark.parametrize("total", [150, 70])
def test_total_change_keep_decays_where_it_was_planned(total):
    s = lrkit.parse("cosine(floor=0.1)")
    first, lrs, sched = resume_with(total, "keep")
    assert first == [b * s(40, 100) for b in BASES]  # continuous: the value the run had
    for k, row in enumerate(lrs, start=41):
        assert row == [b * s(k, 100) for b in BASES]  # the old plan, then its end value
    assert sched.state_dict()["total_steps"] == total


@pytest.mark.parametrize("total", [150, 70])
def test_total_change_stretch_is_continuous_and_ends_at_the_new_total(total):
    s = lrkit.parse("cosine(floor=0.1)")
    first, lrs, _ = resume_with(total, "stretch")
    assert first == [b * s(40, 100) for b in BASES]
    series = [first[0]] + [row[0] for row in lrs]
    steps = list(range(40, 40 + len(series)))
    # continuous: no step larger than the largest step of the original cosine, rescaled by the stretch
    biggest = max(abs(s(k + 1, 100) - s(k, 100)) for k in range(100)) * BASES[0] * (60 / (total - 40))
    assert max(abs(b - a) for a, b in zip(series, series[1:])) <= biggest * 1.01
    assert all(b <= a for a, b in zip(series, series[1:]))  # still decaying, monotone
    end = steps.index(total)
    assert series[end] == pytest.approx(0.1 * BASES[0], rel=1e-12) and series[end - 1] > series[end]
    # the value at step k is the old schedule at the mapped position 40 + (k - 40) * 60 / (total - 40)
    k = 40 + (total - 40) // 2
    assert series[k - 40] == pytest.approx(BASES[0] * s.bind(100)(40 + (k - 40) * 60 / (total - 40)), rel=1e-14)


def test_a_second_stretch_composes_with_the_first():
    opt = make_opt()
    a = Scheduler(opt, "linear()", 100)
    run(opt, a, 20)
    b = Scheduler(opt, "linear()", 180)
    b.load_state_dict(a.state_dict(), total_change="stretch")
    run(opt, b, 60)
    c = Scheduler(opt, "linear()", 120)
    c.load_state_dict(b.state_dict(), total_change="stretch")
    assert c.get_last_lr() == b.get_last_lr()
    lrs = run(opt, c, 45)
    assert lrs[39][0] == pytest.approx(0.0, abs=1e-18) and lrs[38][0] > 0  # reaches the end at step 120
    assert c.multipliers("lr", 80) == b.multipliers("lr", 80)


def test_stretch_needs_room_after_the_resume_step():
    state = checkpoint(total=100, at=40)
    with pytest.raises(StateMismatchError, match="cannot stretch the schedule from step 40"):
        Scheduler(make_opt(), "cosine(floor=0.1)", 30).load_state_dict(state, total_change="stretch")


# ----- anytime cooldown -----------------------------------------------------------------------------------
def test_cooldowns_branch_from_one_checkpoint_and_resume_exactly():
    T = 1000
    opt = make_opt()
    base = Scheduler(opt, "constant(warmup=10)", T)
    run(opt, base, 300)
    ckpt = {"optimizer": opt.state_dict(), "scheduler": base.state_dict()}
    branches = {}
    for name, (steps, form, floor) in {"short-linear": (50, "linear", 0.0), "long-1-sqrt": (200, "1-sqrt", 0.1),
                                       "cosine": (100, "cosine", 0.05)}.items():
        o = make_opt()
        s = Scheduler(o, "constant(warmup=10)", T)
        o.load_state_dict(ckpt["optimizer"])
        s.load_state_dict(ckpt["scheduler"])
        s.cooldown(steps, form, floor)
        assert s.get_last_lr() == base.get_last_lr()  # continuous at the branch
        lrs = run(o, s, steps + 5)
        assert lrs[steps - 1] == pytest.approx([floor * b for b in BASES], rel=1e-12, abs=1e-18)
        assert lrs[-1] == lrs[steps - 1]  # then it holds the floor
        assert all(x[0] >= y[0] for x, y in zip(lrs, lrs[1:]))
        # resume half-way through the cooldown, in a new scheduler: bit-identical
        mid = make_opt()
        again = Scheduler(mid, "constant(warmup=10)", T)
        o2 = make_opt()
        s2 = Scheduler(o2, "constant(warmup=10)", T)
        o2.load_state_dict(ckpt["optimizer"])
        s2.load_state_dict(ckpt["scheduler"])
        s2.cooldown(steps, form, floor)
        run(o2, s2, steps // 2)
        again.load_state_dict(s2.state_dict())
        assert again.state_dict()["cooldowns"] == [{"at": 300, "decay": steps, "form": form, "floor": floor,
                                                    "start": [1.0, 1.0, 1.0]}]
        assert run(mid, again, steps - steps // 2 + 5) == lrs[steps // 2:]
        branches[name] = lrs
    assert len({tuple(map(tuple, v)) for v in branches.values()}) == 3


def test_a_scheduled_cooldown_at_a_later_step_and_its_errors():
    opt = make_opt()
    sched = Scheduler(opt, "cosine()", 100)
    sched.cooldown(10, "linear", at=50)
    lrs = run(opt, sched, 70)
    s = lrkit.parse("cosine()")
    assert lrs[48] == [b * s(49, 100) for b in BASES]
    assert lrs[54][0] == pytest.approx(BASES[0] * s(50, 100) * 0.5, rel=1e-12)
    assert lrs[-1] == [0.0] * 3
    with pytest.raises(lrkit.SpecError, match="form='exp' is not available"):
        sched.cooldown(10, "exp")
    with pytest.raises(lrkit.SpecError, match=r"cooldown: form='cos' .*cosine"):
        sched.cooldown(10, "cos")
    with pytest.raises(lrkit.SpecError, match=r"cooldown: at=5 is out of range; expected an integer >= 70"):
        sched.cooldown(10, at=5)
    with pytest.raises(lrkit.SpecError, match=r"cooldown: steps=0"):
        sched.cooldown(0)


# ----- pickling and copying --------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["pickle", "deepcopy", "torch.save"])
def test_pickle_and_deepcopy_continue_identically(how):
    opt = make_opt()
    sched = Scheduler(opt, "wsd(decay=0.5)", 40, hyperparams={"momentum": "linear(end=0.5)"})
    run(opt, sched, 10)
    sched.cooldown(15, "cosine", 0.1)
    run(opt, sched, 3)
    if how == "pickle":
        clone = pickle.loads(pickle.dumps(sched))
    elif how == "deepcopy":
        clone = copy.deepcopy(sched)
    else:
        buf = io.BytesIO()
        torch.save(sched, buf)
        buf.seek(0)
        clone = torch.load(buf, weights_only=False)
    assert clone.optimizer is not opt
    assert run(clone.optimizer, clone, 30) == run(opt, sched, 30)
    assert [g["momentum"] for g in clone.optimizer.param_groups] == [g["momentum"] for g in opt.param_groups]
    assert clone.state_dict() == sched.state_dict()


def test_accelerate_wrapped_optimizer_counts_applied_steps():
    """accelerate's AcceleratedOptimizer never runs Optimizer.__init__; the hook goes on the real optimizer,
    and accumulation micro-steps (where the wrapper skips the inner step) do not advance the schedule."""
    accelerate = pytest.importorskip("accelerate")
    from lrkit.torch import Scheduler

    model = torch.nn.Linear(2, 1)
    acc = accelerate.Accelerator(cpu=True, gradient_accumulation_steps=2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model, opt = acc.prepare(model, opt)
    sched = Scheduler(opt, "linear()", total_steps=4)
    seen = []
    for _ in range(8):
        with acc.accumulate(model):
            model(torch.ones(1, 2)).sum().backward()
            opt.step()
            sched.step()
            opt.zero_grad()
        seen.append(sched.last_epoch)
    assert seen == [0, 1, 1, 2, 2, 3, 3, 4]


def test_total_steps_absent_without_an_end_and_default_total_change():
    from lrkit.torch import Scheduler

    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    assert not hasattr(Scheduler(opt, "inverse_sqrt(warmup=10)"), "total_steps")
    s = Scheduler(opt, "cosine()", total_steps=100)
    assert s.total_steps == 100
    for _ in range(10):
        opt.step()
        s.step()
    state = s.state_dict()
    longer = Scheduler(opt, "cosine()", total_steps=200, total_change="stretch")
    longer.load_state_dict(state)  # no keyword: the default chosen at construction applies
    assert longer.get_last_lr() == s.get_last_lr()
    with pytest.raises(lrkit.SpecError, match="total_change"):
        Scheduler(opt, "cosine()", total_steps=200).load_state_dict(state)
