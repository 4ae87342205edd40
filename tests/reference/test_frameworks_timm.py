"""timm's tanh, k-decay and cycle options against the installed timm, step by step (rtol 1e-7).

``TanhLRScheduler`` -> ``tanh(lb, ub, floor=lr_min/lr, cycle_mul, cycle_decay, cycle_limit)``;
``CosineLRScheduler(k_decay=k)`` -> ``kdecay(k=k, ...)``; ``PolyLRScheduler(power, k_decay=k)`` ->
``kdecay(form="polynomial", power=power, k=k, ...)``; total ``t_initial``, ``--convention timm``
(``timm-prefix`` with ``warmup_prefix=True``). Driven per update as in ``test_timm.py``.
Cases marked "timm tests/test_scheduler.py" are ported from timm's own suite.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrkit

from .helpers import assert_steps, load_timm_scheduler, lrkit_lrs

torch = pytest.importorskip("torch")
BASE = 0.1
RTOL = 1e-7


def timm_lrs(make, n):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=BASE)
    sched = make(opt)
    out = []
    for t in range(n):
        sched.step_update(t)
        out.append(opt.param_groups[0]["lr"])
        opt.step()
    return np.asarray(out)


@pytest.fixture(scope="module")
def timm():
    return load_timm_scheduler()


CYCLES = [(1.0, 1.0, 1), (2.0, 0.5, 3), (1.5, 0.7, 4), (0.5, 0.9, 3), (1.0, 0.5, 2)]


def _timm_kwargs(T, W, init, lr_min, prefix, mul, decay, limit):
    return dict(t_initial=T, lr_min=lr_min, warmup_t=W, warmup_lr_init=init, warmup_prefix=prefix, t_in_epochs=False,
                cycle_mul=mul, cycle_decay=decay, cycle_limit=limit)


def _spec_tail(W, init, lr_min, mul, decay, limit):
    return (f"floor={lr_min / BASE!r}, warmup={W}, warmup_init={init / BASE!r}, cycle_mul={mul!r}, "
            f"cycle_decay={decay!r}, cycle_limit={limit})")


def _n(T, W, mul, limit, prefix):
    """Steps to compare: every cycle timm defines, then some after (timm's log fails past the sum of
    infinitely many cycles shrinking with cycle_mul < 1, so that case stops before it)."""
    if mul < 1.0:
        return (W if prefix else 0) + int(T / (1.0 - mul)) - 2
    return W + int(T * sum(mul ** i for i in range(limit))) + 15


@pytest.mark.parametrize("mul, decay, limit", CYCLES)
@pytest.mark.parametrize("T, W, init, lr_min, prefix", [(100, 0, 0.0, 0.0, False), (100, 10, 1e-3, 1e-3, False),
                                                        (60, 10, 1e-3, 1e-3, True), (40, 3, 0.0, 5e-3, True)])
@pytest.mark.parametrize("lb, ub", [(-7.0, 3.0), (-5.0, 1.0)])
def test_tanh(timm, lb, ub, T, W, init, lr_min, prefix, mul, decay, limit):
    n = _n(T, W, mul, limit, prefix)
    ref = timm_lrs(lambda o: timm.TanhLRScheduler(o, lb=lb, ub=ub, **_timm_kwargs(T, W, init, lr_min, prefix, mul,
                                                                                  decay, limit)), n)
    spec = f"tanh(lb={lb}, ub={ub}, " + _spec_tail(W, init, lr_min, mul, decay, limit)
    assert_steps(lrkit_lrs(spec, n, BASE, "timm-prefix" if prefix else "timm", total=T), ref, rtol=RTOL,
                 what=f"{spec} warmup_prefix={prefix}")


@pytest.mark.parametrize("mul, decay, limit", CYCLES)
@pytest.mark.parametrize("k", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("T, W, init, lr_min, prefix", [(100, 0, 0.0, 0.0, False), (80, 10, 1e-4, 1e-3, False),
                                                        (50, 5, 1e-4, 1e-3, True)])
def test_kdecay_cosine(timm, k, T, W, init, lr_min, prefix, mul, decay, limit):
    n = _n(T, W, mul, limit, prefix)
    ref = timm_lrs(lambda o: timm.CosineLRScheduler(o, k_decay=k, **_timm_kwargs(T, W, init, lr_min, prefix, mul,
                                                                                    decay, limit)), n)
    spec = f"kdecay(k={k}, " + _spec_tail(W, init, lr_min, mul, decay, limit)
    assert_steps(lrkit_lrs(spec, n, BASE, "timm-prefix" if prefix else "timm", total=T), ref, rtol=RTOL,
                 what=f"{spec} warmup_prefix={prefix}")


@pytest.mark.parametrize("mul, decay, limit", CYCLES)
@pytest.mark.parametrize("k, power", [(1.0, 0.5), (2.0, 2.0), (0.5, 1.0)])
@pytest.mark.parametrize("T, W, prefix", [(100, 0, False), (50, 5, True), (70, 7, False)])
def test_kdecay_poly(timm, k, power, T, W, prefix, mul, decay, limit):
    n = _n(T, W, mul, limit, prefix)
    ref = timm_lrs(lambda o: timm.PolyLRScheduler(o, power=power, k_decay=k, **_timm_kwargs(
        T, W, 1e-4, 1e-3, prefix, mul, decay, limit)), n)
    spec = f"kdecay(form='polynomial', power={power}, k={k}, " + _spec_tail(W, 1e-4, 1e-3, mul, decay, limit)
    assert_steps(lrkit_lrs(spec, n, BASE, "timm-prefix" if prefix else "timm", total=T), ref, rtol=RTOL,
                 what=f"{spec} warmup_prefix={prefix}")


def test_kdecay_k1_is_cosine_and_polynomial():
    for spec, plain in [("kdecay()", "cosine()"), ("kdecay(form='polynomial', power=2.0, floor=0.1)",
                                                   "polynomial(power=2.0, floor=0.1)")]:
        for conv in ("lrkit", "timm"):
            np.testing.assert_allclose(lrkit.parse(spec).sample(200, conv), lrkit.parse(plain).sample(200, conv),
                                       rtol=1e-12, atol=1e-15)


# ----- cases ported from timm's own suite (timm tests/test_scheduler.py) -----------------------------------

def test_timm_suite_tanh_decay(timm):
    """timm tests/test_scheduler.py TestTanhScheduler.test_tanh_decay: lr_min=0.001, t_initial=100,
    stepped per epoch 1..100; timm asserts only that the LR fell, lrkit matches every value."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=BASE)
    sched = timm.TanhLRScheduler(opt, t_initial=100, lr_min=0.001)
    lrs = [opt.param_groups[0]["lr"]]
    for epoch in range(1, 101):
        sched.step(epoch)
        lrs.append(opt.param_groups[0]["lr"])
    ours = lrkit_lrs("tanh(floor=0.01)", 101, BASE, "timm", total=100)
    # lrs[0] is the optimizer's LR before timm's first step() call: the base LR, not the tanh's step-0 value
    # (1 - tanh(-7)) / 2 = 1 - 8e-7 that step(0) would set
    assert lrs[0] == BASE and ours[0] == pytest.approx(BASE, rel=1e-6)
    assert_steps(ours[1:], lrs[1:], rtol=RTOL, what="tanh decay")
    assert ours[-1] < ours[0]


@pytest.mark.parametrize("make, spec", [
    (lambda timm, o: timm.TanhLRScheduler(o, t_initial=100, warmup_t=5, warmup_lr_init=0.001, warmup_prefix=True),
     "tanh(warmup=5, warmup_init=0.01)"),
    (lambda timm, o: timm.CosineLRScheduler(o, t_initial=100, warmup_t=5, warmup_lr_init=0.001, warmup_prefix=True,
                                            k_decay=2.0), "kdecay(k=2.0, warmup=5, warmup_init=0.01)"),
])
def test_timm_suite_warmup_prefix_reaches_target_lr(timm, make, spec):
    """timm tests/test_scheduler.py TestWarmup: warmup_lr_init 0.001, warmup_t 5; the LR rises through the
    warmup and is the base LR at the first step after it (warmup_prefix=True)."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=BASE)
    sched = make(timm, opt)
    lrs = [opt.param_groups[0]["lr"]]
    for epoch in range(1, 30):
        sched.step(epoch)
        lrs.append(opt.param_groups[0]["lr"])
    ours = lrkit_lrs(spec, 30, BASE, "timm-prefix", total=100)
    assert_steps(ours, lrs, rtol=RTOL, what=spec)
    assert np.all(np.diff(ours[:5]) > 0) and ours[5] == pytest.approx(BASE, rel=1e-5)  # timm's own tolerance


def test_timm_suite_cosine_cycles(timm):
    """timm tests/test_scheduler.py TestCosineScheduler.test_cosine_cycles: t_initial=50, cycle_limit=2,
    lr_min=0.001: near the floor at step 49, a restart at 50, the floor from step 100 on."""
    ref = timm_lrs(lambda o: timm.CosineLRScheduler(o, t_initial=50, lr_min=0.001, cycle_limit=2, t_in_epochs=False),
                   115)
    ours = lrkit_lrs("kdecay(floor=0.01, cycle_limit=2)", 115, BASE, "timm", total=50)
    assert_steps(ours, ref, rtol=RTOL, what="kdecay cycles")
    assert ours[49] < 0.5 * BASE and ours[50] == pytest.approx(BASE) and np.allclose(ours[100:], 0.001)


# ----- the language ------------------------------------------------------------------------------------------

SPECS = ["tanh()", "tanh(lb=-5.0, ub=2.0, floor=0.1, cycle_mul=2.0, cycle_decay=0.5, cycle_limit=3, warmup=10)",
         "kdecay(k=2.0)", "kdecay(form='polynomial', power=0.5, k=3.0, floor=0.01, cycle_limit=2)"]


@pytest.mark.parametrize("spec", SPECS)
def test_round_trip(spec):
    s = lrkit.parse(spec)
    assert lrkit.parse(str(s)) == s and lrkit.parse(s.to_dict()) == s and str(lrkit.parse(str(s))) == str(s)


@pytest.mark.parametrize("spec, words", [
    ("tanh(lb=3.0, ub=-7.0)", "lb=3.0 is not below ub=-7.0"),
    ("tanh(cycle_mul=0.0)", "cycle_mul=0.0 is out of range"),
    ("tanh(cycle_limit=0)", "cycle_limit=0 is out of range"),
    ("tanh(cycle_limit=1.5)", "cycle_limit=1.5 is not an integer"),
    ("tanh(floor=-0.1)", "floor=-0.1 is out of range"),
    ("kdecay(k=0.0)", "k=0.0 is out of range"),
    ("kdecay(form='step')", "form='step' is not one of"),
    ("kdecay(power=2.0)", "power=2.0 applies only to form='polynomial'"),
    ("kdecay(cycle_decay=-1.0)", "cycle_decay=-1.0 is out of range"),
])
def test_bad_arguments_one_line(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec)
    assert words in str(e.value) and "\n" not in str(e.value)
