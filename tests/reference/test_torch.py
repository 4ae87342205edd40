"""lrkit under ``convention="torch"`` against ``torch.optim.lr_scheduler``, value by value.

Each reference is a real torch scheduler driving ``torch.optim.SGD`` over one parameter; the LR is
read from ``param_groups[0]["lr"]`` before every ``optimizer.step()``. Mappings (torch -> lrkit):

* ``CosineAnnealingLR(T_max, eta_min)`` -> ``cosine(floor=eta_min/base)``, total ``T_max``
* ``OneCycleLR(max_lr, total_steps, ...)`` -> ``onecycle(...)`` times ``max_lr``
* ``CyclicLR(base_lr, max_lr, ...)`` -> ``cyclic(base=base_lr/L, max=max_lr/L, ...)`` times ``L``
* ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)`` -> ``sgdr(period=T_0, mult=T_mult, floor=...)``
* ``StepLR``/``MultiStepLR``/``ExponentialLR``/``PolynomialLR`` -> ``step``/``multistep``/``exponential``/
  ``polynomial`` (total ``total_iters``)
* ``LinearLR(start_factor=1, end_factor=e, total_iters=N)`` -> ``linear(end=e)``, total ``N``
* ``SequentialLR([LinearLR(s, 1, W), CosineAnnealingLR(T-W, eta_min)], [W])`` ->
  ``cosine(warmup=W, warmup_init=s, floor=eta_min/base)``, total ``T`` (torch's LinearLR warmup starts
  at ``start_factor``, which is lrkit's ``warmup_init``; the ramp counts from step 0, the torch
  convention's ``warmup_offset=0``).
"""

from __future__ import annotations

import numpy as np
import pytest

from .helpers import assert_steps, lrkit_lrs, torch_lrs

torch = pytest.importorskip("torch")
S = torch.optim.lr_scheduler


@pytest.mark.parametrize("T, eta_min, base", [(100, 0.0, 0.1), (250, 0.002, 0.02), (37, 0.5, 1.0)])
def test_cosine_annealing(T, eta_min, base):
    ref = torch_lrs(lambda o: S.CosineAnnealingLR(o, T_max=T, eta_min=eta_min), T + 1, base)
    assert_steps(lrkit_lrs(f"cosine(floor={eta_min / base!r})", T + 1, base, "torch", total=T), ref,
                 what=f"CosineAnnealingLR(T_max={T}, eta_min={eta_min})")


def test_cosine_annealing_after_the_end():
    """torch's cosine rises again after T_max (convention torch: after_end='continue'); lrkit clamps."""
    T, base = 50, 0.1
    ref = torch_lrs(lambda o: S.CosineAnnealingLR(o, T_max=T), 3 * T, base)
    assert ref[T + 10] > ref[T] + 1e-3  # torch really does come back up
    assert_steps(lrkit_lrs("cosine()", 3 * T, base, "torch", total=T), ref, what="cosine past T_max")
    clamped = lrkit_lrs("cosine()", 3 * T, base, "lrkit", total=T)
    assert np.all(clamped[T:] == 0.0)


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("T, pct, div, final_div, three", [
    (100, 0.3, 25.0, 1e4, False), (1000, 0.25, 10.0, 100.0, False), (97, 0.3, 25.0, 1e4, True),
    (400, 0.1, 5.0, 1e3, True)])
def test_onecycle(anneal, T, pct, div, final_div, three):
    max_lr = 0.5
    make = lambda o: S.OneCycleLR(o, max_lr=max_lr, total_steps=T, pct_start=pct, anneal_strategy=anneal,  # noqa: E731
                                  div_factor=div, final_div_factor=final_div, three_phase=three,
                                  cycle_momentum=False)
    ref = torch_lrs(make, T, max_lr)
    spec = (f"onecycle(pct_start={pct}, div_factor={div}, final_div_factor={final_div}, anneal={anneal!r}, "
            f"three_phase={three})")
    assert_steps(lrkit_lrs(spec, T, max_lr, "torch"), ref, what=f"OneCycleLR {spec}")


@pytest.mark.parametrize("mode, gamma", [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.995)])
@pytest.mark.parametrize("up, down", [(20, None), (15, 35)])
def test_cyclic(mode, gamma, up, down):
    base_lr, max_lr, L = 0.001, 0.1, 0.1
    n = 4 * (up + (down or up)) + 7
    make = lambda o: S.CyclicLR(o, base_lr=base_lr, max_lr=max_lr, step_size_up=up, step_size_down=down,  # noqa: E731
                                mode=mode, gamma=gamma, cycle_momentum=False)
    ref = torch_lrs(make, n, L)
    spec = f"cyclic(base={base_lr / L!r}, max={max_lr / L!r}, up={up}, down={down}, mode={mode!r}, gamma={gamma})"
    assert_steps(lrkit_lrs(spec, n, L, "torch"), ref, what=f"CyclicLR {spec}")


@pytest.mark.parametrize("T0, mult, eta_min", [(10, 1, 0.0), (10, 2, 0.0), (7, 2, 0.001), (25, 1, 0.004), (3, 3, 0.0)])
def test_cosine_warm_restarts(T0, mult, eta_min):
    base, n = 0.01, 200
    ref = torch_lrs(lambda o: S.CosineAnnealingWarmRestarts(o, T_0=T0, T_mult=mult, eta_min=eta_min), n, base)
    spec = f"sgdr(period={T0}, mult={mult}, floor={eta_min / base!r})"
    assert_steps(lrkit_lrs(spec, n, base, "torch"), ref, what=f"CosineAnnealingWarmRestarts {spec}")


@pytest.mark.parametrize("every, gamma", [(30, 0.1), (7, 0.5), (1, 0.9)])
def test_step(every, gamma):
    ref = torch_lrs(lambda o: S.StepLR(o, step_size=every, gamma=gamma), 100, 0.1)
    assert_steps(lrkit_lrs(f"step(every={every}, gamma={gamma})", 100, 0.1, "torch"), ref, what="StepLR")


@pytest.mark.parametrize("milestones, gamma", [([30, 60, 90], 0.1), ([5, 6, 50], 0.5), ([1], 0.2)])
def test_multistep(milestones, gamma):
    ref = torch_lrs(lambda o: S.MultiStepLR(o, milestones=milestones, gamma=gamma), 100, 0.1)
    assert_steps(lrkit_lrs(f"multistep(milestones={milestones}, gamma={gamma})", 100, 0.1, "torch"), ref,
                 what="MultiStepLR")


@pytest.mark.parametrize("gamma", [0.99, 0.9, 0.5])
def test_exponential(gamma):
    ref = torch_lrs(lambda o: S.ExponentialLR(o, gamma=gamma), 300, 0.1)
    assert_steps(lrkit_lrs(f"exponential(gamma={gamma})", 300, 0.1, "torch"), ref, rtol=1e-11, atol=1e-300,
                 what="ExponentialLR")


@pytest.mark.parametrize("total_iters, power", [(100, 1.0), (100, 2.0), (57, 0.5)])
def test_polynomial(total_iters, power):
    n = total_iters + 20
    ref = torch_lrs(lambda o: S.PolynomialLR(o, total_iters=total_iters, power=power), n, 0.1)
    assert_steps(lrkit_lrs(f"polynomial(power={power})", n, 0.1, "torch", total=total_iters), ref,
                 what="PolynomialLR")


@pytest.mark.parametrize("end, total_iters", [(0.0, 100), (0.1, 100), (0.25, 33)])
def test_linear_lr(end, total_iters):
    n = total_iters + 10
    make = lambda o: S.LinearLR(o, start_factor=1.0, end_factor=end, total_iters=total_iters)  # noqa: E731
    ref = torch_lrs(make, n, 0.1)
    assert_steps(lrkit_lrs(f"linear(end={end})", n, 0.1, "torch", total=total_iters), ref, what="LinearLR")


@pytest.mark.parametrize("W, T, start, eta_min", [(10, 100, 0.01, 0.0), (50, 500, 0.1, 1e-3), (1, 20, 0.5, 0.0)])
def test_linear_warmup_then_cosine(W, T, start, eta_min):
    """``SequentialLR([LinearLR, CosineAnnealingLR], [W])`` is ``cosine(warmup=W, warmup_init=start_factor)``."""
    base = 0.1

    def make(o):
        warm = S.LinearLR(o, start_factor=start, end_factor=1.0, total_iters=W)
        cos = S.CosineAnnealingLR(o, T_max=T - W, eta_min=eta_min)
        return S.SequentialLR(o, [warm, cos], milestones=[W])

    ref = torch_lrs(make, T, base)
    spec = f"cosine(warmup={W}, warmup_init={start}, floor={eta_min / base!r})"
    assert_steps(lrkit_lrs(spec, T, base, "torch"), ref, what=f"SequentialLR {spec}")
