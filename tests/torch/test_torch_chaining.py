"""lrkit.torch.Scheduler with torch's own schedulers (issue 14): ``SequentialLR``, ``ChainedScheduler``, a
``StepLR`` stepping the same optimizer, resuming any of them, ``last_epoch=`` and ``step(epoch)``.

The oracles are torch's own schedulers with the same multiplier ``f``: in a ``SequentialLR`` ``LambdaLR(f)``
(each phase's count restarts at its milestone); chained, torch's chainable form of ``f``,
``MultiplicativeLR(f(t) / f(t - 1))`` (each scheduler multiplies the LR the others left), and with
``chainable=False`` ``LambdaLR(f)`` (which overwrites them). Every step, rtol 1e-7.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrkit  # noqa: E402
from lrkit.torch import Scheduler  # noqa: E402

S = torch.optim.lr_scheduler
LR = 0.05
RTOL = 1e-7
SPECS = [("exponential(gamma=0.9)", None), ("cosine(warmup=3, floor=0.02)", 30), ("linear(end=0.1, warmup=0.1)", 40),
         ("wsd(warmup=4, decay=10, form='cosine', floor=0.05)", 30)]


def _opt(groups=1):
    params = [torch.nn.Parameter(torch.zeros(1, dtype=torch.float64)) for _ in range(groups)]
    return torch.optim.SGD([{"params": [p], "lr": LR * (i + 1)} for i, p in enumerate(params)], lr=LR)


def _run(make, n=45, groups=1):
    """The LR of every group before each optimizer step, stepping each scheduler ``make`` returns after it."""
    o = _opt(groups)
    scheds = make(o)
    out = []
    for _ in range(n):
        out.append([g["lr"] for g in o.param_groups])
        o.step()
        for s in scheds:
            s.step()
    return np.asarray(out)


def _f(spec, total):
    s = lrkit.parse(spec)
    return lambda t: s(t, total)


def _ratio(spec, total):
    f = _f(spec, total)
    return lambda t: f(t) / f(t - 1)


def _chainable(o, spec, total):
    """torch's chainable form of the multiplier: the group LR set to ``base * f(0)``, then multiplied by
    ``f(t) / f(t - 1)`` at every step (MultiplicativeLR)."""
    for g in o.param_groups:
        g["lr"] = g["lr"] * _f(spec, total)(0)
    return S.MultiplicativeLR(o, _ratio(spec, total))


def _same(ours, ref, what):
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=0, err_msg=what)


# ----- SequentialLR: the count restarts at the milestone -------------------------------------------------
@pytest.mark.parametrize("spec, total", SPECS)
@pytest.mark.parametrize("milestone", [1, 3, 7])
def test_sequential_lr_constant_then_lrkit(spec, total, milestone):
    """The issue's case: before, lrkit's count ran on from step 0, 0.0328 where torch gives 0.045."""
    ours = _run(lambda o: [S.SequentialLR(o, [S.ConstantLR(o, factor=0.1, total_iters=milestone),
                                              Scheduler(o, spec, total)], [milestone])], groups=2)
    ref = _run(lambda o: [S.SequentialLR(o, [S.ConstantLR(o, factor=0.1, total_iters=milestone),
                                             S.LambdaLR(o, _f(spec, total))], [milestone])], groups=2)
    _same(ours, ref, f"SequentialLR([ConstantLR, {spec}], [{milestone}])")


def test_sequential_lr_issue_numbers():
    ours = _run(lambda o: [S.SequentialLR(o, [S.ConstantLR(o, factor=0.1, total_iters=3),
                                              Scheduler(o, "exponential(gamma=0.9)")], [3])], n=6)
    assert ours[4, 0] == pytest.approx(0.045) and ours[3, 0] == pytest.approx(0.05)


@pytest.mark.parametrize("spec, total", SPECS[:2])
def test_sequential_lr_lrkit_first_and_in_the_middle(spec, total):
    ours = _run(lambda o: [S.SequentialLR(o, [Scheduler(o, spec, total), S.ExponentialLR(o, gamma=0.8)], [9])])
    ref = _run(lambda o: [S.SequentialLR(o, [S.LambdaLR(o, _f(spec, total)), S.ExponentialLR(o, gamma=0.8)], [9])])
    _same(ours, ref, "SequentialLR([lrkit, ExponentialLR])")
    ours = _run(lambda o: [S.SequentialLR(o, [S.LinearLR(o, 0.2, total_iters=4), Scheduler(o, spec, total),
                                              S.ConstantLR(o, factor=0.5, total_iters=100)], [4, 20])])
    ref = _run(lambda o: [S.SequentialLR(o, [S.LinearLR(o, 0.2, total_iters=4), S.LambdaLR(o, _f(spec, total)),
                                             S.ConstantLR(o, factor=0.5, total_iters=100)], [4, 20])])
    _same(ours, ref, "SequentialLR([LinearLR, lrkit, ConstantLR])")


# ----- chained: other schedulers' changes are kept as factors ----------------------------------------------
@pytest.mark.parametrize("spec, total", SPECS)
@pytest.mark.parametrize("order", ["lrkit first", "lrkit last"])
def test_chained_scheduler_with_step_lr(spec, total, order):
    def chain(o, mine):
        pair = [mine, S.StepLR(o, step_size=4, gamma=0.5)]
        return [S.ChainedScheduler(pair if order == "lrkit first" else pair[::-1])]

    ours = _run(lambda o: chain(o, Scheduler(o, spec, total)), groups=2)
    ref = _run(lambda o: chain(o, _chainable(o, spec, total)), groups=2)
    _same(ours, ref, f"ChainedScheduler {order}: {spec}")


def test_chained_exponential_is_torch_exponential_lr():
    ours = _run(lambda o: [S.ChainedScheduler([Scheduler(o, "exponential(gamma=0.9)"), S.StepLR(o, 3, 0.5)])])
    ref = _run(lambda o: [S.ChainedScheduler([S.ExponentialLR(o, gamma=0.9), S.StepLR(o, 3, 0.5)])])
    _same(ours, ref, "ChainedScheduler([exponential, StepLR]) vs torch's ExponentialLR")
    assert ours[4, 0] == pytest.approx(0.05 * 0.9 ** 4 * 0.5)  # before: the StepLR halving was lost at step 4


@pytest.mark.parametrize("spec, total", SPECS[:2])
def test_two_schedulers_stepping_one_optimizer(spec, total):
    ours = _run(lambda o: [Scheduler(o, spec, total), S.StepLR(o, step_size=5, gamma=0.3)])
    ref = _run(lambda o: [_chainable(o, spec, total), S.StepLR(o, step_size=5, gamma=0.3)])
    _same(ours, ref, f"lrkit and StepLR on one optimizer: {spec}")
    ours = _run(lambda o: [S.StepLR(o, step_size=5, gamma=0.3), Scheduler(o, spec, total)])
    ref = _run(lambda o: [S.StepLR(o, step_size=5, gamma=0.3), _chainable(o, spec, total)])
    _same(ours, ref, f"StepLR, then lrkit, on one optimizer: {spec}")


@pytest.mark.parametrize("spec, total", SPECS[:2])
def test_chainable_false_overwrites_as_lambda_lr(spec, total):
    ours = _run(lambda o: [S.ChainedScheduler([Scheduler(o, spec, total, chainable=False), S.StepLR(o, 4, 0.5)])])
    ref = _run(lambda o: [S.ChainedScheduler([S.LambdaLR(o, _f(spec, total)), S.StepLR(o, 4, 0.5)])])
    _same(ours, ref, "chainable=False")


def test_alone_the_lr_is_the_closed_form_exactly():
    o = _opt()
    sched = Scheduler(o, "cosine(warmup=5)", 50)
    s = lrkit.parse("cosine(warmup=5)")
    for t in range(1, 60):
        o.step()
        sched.step()
        assert o.param_groups[0]["lr"] == LR * s(t, 50) and sched._chain.factors == [1.0]


def test_a_tensor_lr_changed_in_place_is_kept_as_a_factor():
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    o = torch.optim.SGD([p], lr=torch.tensor(LR, dtype=torch.float64))
    sched = Scheduler(o, "exponential(gamma=0.9)")
    for t in range(1, 8):
        o.step()
        sched.step()
        if t == 3:
            o.param_groups[0]["lr"].mul_(0.5)  # another writer, in place
    assert sched.get_last_lr()[0] == pytest.approx(LR * 0.9 ** 7 * 0.5, rel=1e-12)


def test_a_reloaded_optimizer_is_not_another_scheduler():
    """optimizer.load_state_dict makes new group dicts: lrkit writes its own LR there again, keeps no factor."""
    o = _opt()
    sched = Scheduler(o, "cosine()", 40)
    for _ in range(10):
        o.step()
        sched.step()
    saved = copy.deepcopy(o.state_dict())
    saved["param_groups"][0]["lr"] = 123.0
    o.load_state_dict(saved)
    o.step()
    sched.step()
    assert sched._chain.factors == [1.0] and o.param_groups[0]["lr"] == LR * lrkit.parse("cosine()")(11, 40)


# ----- resume ------------------------------------------------------------------------------------------------
def _chained(o, spec="cosine(warmup=3)", total=40):
    return S.ChainedScheduler([Scheduler(o, spec, total), S.StepLR(o, step_size=4, gamma=0.5)])


def _sequential(o, spec="cosine(warmup=3)", total=40, milestone=6):
    return S.SequentialLR(o, [S.ConstantLR(o, factor=0.1, total_iters=milestone), Scheduler(o, spec, total)],
                          [milestone])


@pytest.mark.parametrize("make", [_chained, _sequential], ids=["ChainedScheduler", "SequentialLR"])
@pytest.mark.parametrize("at", [3, 4, 6, 9])
def test_resume_in_a_new_process_continues_bit_for_bit(make, at):
    """Saved at a StepLR boundary (its change not yet taken in), before and after a SequentialLR milestone."""
    n = 30
    o = _opt(2)
    sched = make(o)
    straight = []
    for t in range(n):
        straight.append([g["lr"] for g in o.param_groups])
        o.step()
        sched.step()
        if t == at - 1:
            ckpt = copy.deepcopy({"opt": o.state_dict(), "sched": sched.state_dict()})
    o2 = _opt(2)
    sched2 = make(o2)
    o2.load_state_dict(ckpt["opt"])
    sched2.load_state_dict(ckpt["sched"])
    resumed = []
    for _ in range(at, n):
        resumed.append([g["lr"] for g in o2.param_groups])
        o2.step()
        sched2.step()
    assert resumed == straight[at:]


# ----- last_epoch= and step(epoch) -----------------------------------------------------------------------
@pytest.mark.parametrize("spec, total", SPECS)
@pytest.mark.parametrize("last", [0, 5, 17])
def test_last_epoch_resumes_the_count_as_torch(spec, total, last):
    def resumed(make):
        o = _opt(2)
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]  # as a loaded optimizer state holds it
            g["lr"] = 999.0
        sched = make(o)
        out = []
        for _ in range(15):
            out.append([g["lr"] for g in o.param_groups])
            o.step()
            sched.step()
        return np.asarray(out), sched

    ours, sched = resumed(lambda o: Scheduler(o, spec, total, last_epoch=last))
    ref, torch_sched = resumed(lambda o: S.LambdaLR(o, _f(spec, total), last_epoch=last))
    _same(ours, ref, f"last_epoch={last}: {spec}")
    assert sched.last_epoch == torch_sched.last_epoch
    state = sched.state_dict()
    again = Scheduler(_opt(2), spec, total)
    again.load_state_dict(state)
    assert again.get_last_lr() == sched.get_last_lr()


@pytest.mark.parametrize("value, words", [(-2, "last_epoch=-2 is not -1"), (1.5, "last_epoch=1.5"),
                                          ("3", "last_epoch='3'"), (True, "last_epoch=True")])
def test_bad_last_epoch_is_one_line(value, words):
    with pytest.raises(lrkit.SpecError) as e:
        Scheduler(_opt(), "cosine()", 10, last_epoch=value)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_last_epoch_without_initial_lr_says_what_to_load():
    with pytest.raises(lrkit.SpecError) as e:
        Scheduler(_opt(2), "cosine()", 10, last_epoch=4)
    msg = str(e.value)
    assert "\n" not in msg and "no initial_lr" in msg and "load the optimizer's state first" in msg


def test_step_with_an_epoch_is_refused_with_the_alternative():
    with pytest.raises(TypeError) as e:
        Scheduler(_opt(), "cosine()", 10).step(3)
    msg = str(e.value)
    assert "\n" not in msg and "takes no epoch" in msg and "last_epoch=N - 1" in msg and "load_state_dict" in msg


def test_chainable_must_be_a_bool_and_match_the_saved_state():
    with pytest.raises(lrkit.SpecError, match="chainable='yes' is not True or False"):
        Scheduler(_opt(), "cosine()", 10, chainable="yes")
    state = Scheduler(_opt(), "cosine()", 10).state_dict()
    with pytest.raises(lrkit.integrations.torch.StateMismatchError, match="chainable=True, this scheduler has"):
        Scheduler(_opt(), "cosine()", 10, chainable=False).load_state_dict(state)


def test_restart_past_recorded_decisions_is_one_line():
    o = _opt()
    sched = Scheduler(o, "constant()", 50)
    for _ in range(5):
        o.step()
        sched.step()
    sched.cooldown(10, at=8)
    with pytest.raises(lrkit.SpecError, match="cannot restart the count at step 0: cooldowns"):
        sched._update_lr(0)


def test_a_float32_tensor_lr_rewritten_by_step_lr_keeps_no_rounding_drift():
    """StepLR fills a tensor LR with its own value between its boundaries: no change, so no factor."""
    p = torch.nn.Parameter(torch.zeros(1))
    o = torch.optim.SGD([p], lr=torch.tensor(LR))  # float32
    sched = S.ChainedScheduler([Scheduler(o, "cosine()", 100), S.StepLR(o, step_size=1000)])
    for _ in range(50):
        o.step()
        sched.step()
    assert sched._schedulers[0]._chain.factors == [1.0]
