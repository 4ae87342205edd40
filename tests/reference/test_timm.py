"""lrkit under ``convention="timm"`` against timm's schedulers, value by value.

timm (``pip install --no-deps timm``: its ``__init__`` imports torchvision, but ``timm.scheduler`` needs
only torch) is loaded without running ``timm/__init__.py``; skipped cleanly when that is not possible.
Schedulers are built with ``t_in_epochs=False`` and driven per update: ``step_update(t)`` sets the LR
for update ``t``, read from ``param_groups[0]["lr"]``.

Mappings (timm -> lrkit; ``lr_min`` and ``warmup_lr_init`` are absolute in timm, multipliers in lrkit):

* ``CosineLRScheduler(t_initial=T, lr_min, warmup_t=W, warmup_lr_init)`` ->
  ``cosine(warmup=W, warmup_init=warmup_lr_init/lr, floor=lr_min/lr)``, total ``T``. Without
  ``warmup_prefix`` the warmup *replaces* the first ``W`` values of a ``T``-step cosine (the timm
  preset); with ``warmup_prefix=True`` the cosine runs ``T`` steps *after* the warmup, which is
  ``Convention(placement="before", warmup_offset=0)``.
* ``StepLRScheduler(decay_t, decay_rate)`` -> ``step(every=decay_t, gamma=decay_rate)``
* ``PolyLRScheduler(t_initial=T, power, lr_min)`` -> ``polynomial(power=power, floor=lr_min/lr)``
* ``MultiStepLRScheduler(decay_t=[m, ...])`` -> ``multistep(milestones=[m - 1, ...])``: timm compares
  milestones with ``t + 1`` (its docstring: "a milestone of 10 applies at schedule index 9"), one step
  earlier than torch's MultiStepLR, which lrkit's ``multistep`` follows.
* ``WSDLRScheduler(t_initial=T, decay_t=D, decay_fn, lr_min, warmup_t=W)`` -> ``wsd(decay=D, form=...,
  floor=lr_min/lr, warmup=W)``, total ``T``, warmup placed before (timm's WSD warmup is always a prefix);
  timm's ``power`` decay with ``decay_power=2`` is lrkit's ``square``. timm's ``exp`` decay is normalised
  to reach ``lr_min`` (``(r^x - r)/(1 - r)``), a different curve from lrkit's ``floor^x``: not compared.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrkit

from .helpers import assert_steps, load_timm_scheduler, lrkit_lrs

torch = pytest.importorskip("torch")
BASE = 0.05
PREFIX = "timm-prefix"  # the preset for warmup_prefix=True


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


@pytest.mark.parametrize("T, W, init, lr_min", [(100, 0, 0.0, 0.0), (100, 10, 1e-4, 1e-5), (500, 50, 0.0, 5e-3),
                                                (40, 1, 0.01, 0.0)])
@pytest.mark.parametrize("prefix", [False, True])
def test_cosine(timm, T, W, init, lr_min, prefix):
    n = T + W + 20
    make = lambda o: timm.CosineLRScheduler(o, t_initial=T, lr_min=lr_min, warmup_t=W,  # noqa: E731
                                            warmup_lr_init=init, warmup_prefix=prefix, t_in_epochs=False)
    ref = timm_lrs(make, n)
    spec = f"cosine(warmup={W}, warmup_init={init / BASE!r}, floor={lr_min / BASE!r})"
    assert_steps(lrkit_lrs(spec, n, BASE, PREFIX if prefix else "timm", total=T), ref,
                 what=f"{spec} warmup_prefix={prefix}")


@pytest.mark.parametrize("every, gamma, W, prefix", [(30, 0.1, 0, True), (30, 0.5, 10, False), (25, 0.5, 10, True)])
def test_step(timm, every, gamma, W, prefix):
    n = 150
    make = lambda o: timm.StepLRScheduler(o, decay_t=every, decay_rate=gamma, warmup_t=W,  # noqa: E731
                                          warmup_lr_init=1e-4, warmup_prefix=prefix, t_in_epochs=False)
    ref = timm_lrs(make, n)
    spec = f"step(every={every}, gamma={gamma}" + (f", warmup={W}, warmup_init={1e-4 / BASE!r})" if W else ")")
    assert_steps(lrkit_lrs(spec, n, BASE, PREFIX if prefix else "timm"), ref, what=f"{spec} warmup_prefix={prefix}")


@pytest.mark.parametrize("T, power, lr_min, W", [(100, 0.5, 0.0, 0), (100, 2.0, 1e-4, 10), (60, 1.0, 0.0, 5)])
def test_poly(timm, T, power, lr_min, W):
    n = T + 15
    make = lambda o: timm.PolyLRScheduler(o, t_initial=T, power=power, lr_min=lr_min, warmup_t=W,  # noqa: E731
                                          warmup_lr_init=0.0, t_in_epochs=False)
    ref = timm_lrs(make, n)
    spec = f"polynomial(power={power}, floor={lr_min / BASE!r}, warmup={W})"
    assert_steps(lrkit_lrs(spec, n, BASE, "timm", total=T), ref, what=spec)


@pytest.mark.parametrize("milestones, W, prefix", [([30, 60, 90], 0, True), ([10, 25], 5, False), ([10, 25], 5, True)])
def test_multistep(timm, milestones, W, prefix):
    n = 120
    make = lambda o: timm.MultiStepLRScheduler(o, decay_t=milestones, decay_rate=0.3, warmup_t=W,  # noqa: E731
                                               warmup_lr_init=0.0, warmup_prefix=prefix, t_in_epochs=False)
    ref = timm_lrs(make, n)
    spec = f"multistep(milestones={[m - 1 for m in milestones]}, gamma=0.3, warmup={W})"
    assert_steps(lrkit_lrs(spec, n, BASE, PREFIX if prefix else "timm"), ref, what=f"{spec} warmup_prefix={prefix}")


@pytest.mark.parametrize("decay_fn, form", [("linear", "linear"), ("1-sqrt", "1-sqrt"), ("cosine", "cosine"),
                                            ("power", "square")])
@pytest.mark.parametrize("T, D, W, lr_min", [(100, 20, 10, 0.0), (200, 200, 0, 1e-3), (80, 30, 25, 5e-4)])
def test_wsd(timm, decay_fn, form, T, D, W, lr_min):
    if not hasattr(timm, "WSDLRScheduler"):
        pytest.skip("this timm has no WSDLRScheduler (added in timm 1.0.2x)")
    n = W + T + 10
    make = lambda o: timm.WSDLRScheduler(o, t_initial=T, decay_t=D, decay_fn=decay_fn, decay_power=2.0,  # noqa: E731
                                         lr_min=lr_min, warmup_t=W, warmup_lr_init=1e-4, t_in_epochs=False)
    ref = timm_lrs(make, n)
    spec = f"wsd(decay={D}, form={form!r}, floor={lr_min / BASE!r}, warmup={W}, warmup_init={1e-4 / BASE!r})"
    assert_steps(lrkit_lrs(spec, n, BASE, PREFIX, total=T), ref, what=spec)
