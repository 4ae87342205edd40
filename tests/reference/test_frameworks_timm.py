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


# ----- LR noise (timm's Scheduler._add_noise) -----------------------------------------------------------------

@pytest.mark.parametrize("noise_range, spec_range", [(30, "[30]"), ((20, 70), "[20, 70]"), (0, "[0]"),
                                                     ((0.25, 0.75), "[0.25, 0.75]")])
@pytest.mark.parametrize("pct, std, seed", [(0.67, 1.0, 42), (0.2, 0.5, 7), (0.9, 2.0, 0), (1.0, 0.1, 12345)])
def test_noise_on_cosine(timm, noise_range, spec_range, pct, std, seed):
    """timm's create_scheduler turns fractions into noise_range_t = fraction * t_initial (here whole steps)."""
    T = 100
    rng = tuple(x * T for x in noise_range) if isinstance(noise_range, tuple) and isinstance(noise_range[0], float) \
        else noise_range
    ref = timm_lrs(lambda o: timm.CosineLRScheduler(o, t_initial=T, lr_min=1e-4, warmup_t=5, warmup_lr_init=1e-4,
                                                    t_in_epochs=False, noise_range_t=rng, noise_pct=pct,
                                                    noise_std=std, noise_seed=seed), T + 30)
    spec = (f"noise(cosine(floor={1e-4 / BASE!r}, warmup=5, warmup_init={1e-4 / BASE!r}), range={spec_range}, "
            f"pct={pct}, std={std}, seed={seed})")
    assert_steps(lrkit_lrs(spec, T + 30, BASE, "timm", total=T), ref, rtol=RTOL, what=spec)


@pytest.mark.parametrize("make, inner", [
    (lambda timm, o, kw: timm.TanhLRScheduler(o, t_initial=80, cycle_limit=2, **kw), "tanh(cycle_limit=2)"),
    (lambda timm, o, kw: timm.StepLRScheduler(o, decay_t=30, decay_rate=0.5, **kw), "step(every=30, gamma=0.5)"),
    (lambda timm, o, kw: timm.PolyLRScheduler(o, t_initial=80, power=2.0, k_decay=2.0, **kw),
     "kdecay(form='polynomial', power=2.0, k=2.0)"),
])
def test_noise_on_other_schedulers(timm, make, inner):
    kw = dict(t_in_epochs=False, noise_range_t=(10, 150), noise_pct=0.5, noise_std=0.8, noise_seed=3)
    ref = timm_lrs(lambda o: make(timm, o, kw), 170)
    spec = f"noise({inner}, range=[10, 150], pct=0.5, std=0.8, seed=3)"
    assert_steps(lrkit_lrs(spec, 170, BASE, "timm", total=80), ref, rtol=RTOL, what=spec)


def test_noise_uniform(timm):
    """timm's base Scheduler takes noise_type='uniform' (2 (u - 1/2) pct); its subclasses leave it at the
    default, so it is set on the built scheduler here."""
    def make(o):
        s = timm.CosineLRScheduler(o, t_initial=100, t_in_epochs=False, noise_range_t=0, noise_pct=0.3, noise_seed=9)
        s.noise_type = "uniform"
        return s

    ref = timm_lrs(make, 120)
    spec = "noise(cosine(), pct=0.3, seed=9, form='uniform')"
    assert_steps(lrkit_lrs(spec, 120, BASE, "timm", total=100), ref, rtol=RTOL, what=spec)


def test_noise_is_a_pure_function_of_step_and_seed():
    s = lrkit.parse("noise(cosine(), range=[0], seed=5)")
    forward = s(np.arange(300), 300)
    backward = np.array([s(t, 300) for t in reversed(range(300))])[::-1]
    assert np.array_equal(forward, backward)
    assert not np.array_equal(forward, lrkit.parse("noise(cosine(), seed=6)")(np.arange(300), 300))
    assert np.all(forward > 0) and np.all(np.abs(forward / lrkit.parse("cosine()").sample(300) - 1) < 0.67)
    assert s(7.5, 300) == pytest.approx(s(7, 300) * lrkit.parse("cosine()")(7.5, 300) / lrkit.parse("cosine()")(7, 300))


def test_noise_without_torch_says_so_in_one_line(monkeypatch):
    from lrkit.schedules import noise as module

    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # import torch now raises ImportError
    module.draw.cache_clear()
    s = lrkit.parse("noise(cosine(), range=[10])")
    assert str(s) == "noise(cosine(), range=[10])"  # parsing and printing need no torch
    with pytest.raises(lrkit.SpecError) as e:
        s.sample(50)
    assert "needs torch" in str(e.value) and "\n" not in str(e.value)


def test_noise_is_refused_by_jax_in_one_line():
    pytest.importorskip("optax")
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse("noise(cosine())").to_optax(100)(3)
    assert "cannot be traced by jax" in str(e.value) and "\n" not in str(e.value)


def test_noise_lint_and_phases():
    s = lrkit.parse("noise(cosine(warmup=10), range=[500])")
    assert [p.label for p in s.phases(100)] == ["warmup", "cosine"]
    assert any(f.code == "phase-beyond-run" for f in lrkit.lint(s, 100))


@pytest.mark.parametrize("spec", ["noise(cosine())", "noise(tanh(), range=[0.4, 0.9], pct=0.5, std=2.0, seed=1)",
                                  "noise(linear(warmup=5), range=[10, 50], form='uniform')"])
def test_noise_round_trip(spec):
    s = lrkit.parse(spec)
    assert lrkit.parse(str(s)) == s and lrkit.parse(s.to_dict()) == s and str(lrkit.parse(str(s))) == str(s)


@pytest.mark.parametrize("spec, words", [
    ("noise()", "missing the schedule"),
    ("noise(cosine(), range=[])", "is not [start] or [start, end]"),
    ("noise(cosine(), range=[1, 2, 3])", "is not [start] or [start, end]"),
    ("noise(cosine(), range=[50, 10])", "ends before it starts"),
    ("noise(cosine(), range=[-5])", "range[0]=-5 steps is negative"),
    ("noise(cosine(), pct=0)", "pct=0 is out of range"),
    ("noise(cosine(), pct=1.5)", "pct=1.5 is out of range"),
    ("noise(cosine(), std=-1.0)", "std=-1.0 is out of range"),
    ("noise(cosine(), seed=-1)", "seed=-1 is out of range"),
    ("noise(cosine(), seed=1.5)", "seed=1.5 is not an integer"),
    ("noise(cosine(), form='gauss')", "form='gauss' is not one of"),
    ("noise(cosine(), form='uniform', std=2.0)", "std=2.0 applies only to form='normal'"),
    ("noise(cosine(), pct=0.001, std=10.0)", "too narrow"),
])
def test_noise_bad_arguments_one_line(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec)
    assert words in str(e.value) and "\n" not in str(e.value)
