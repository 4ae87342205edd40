"""lrkit under ``convention="hf"`` against transformers' schedule functions, value by value.

transformers returns a ``LambdaLR`` over a closed-form lambda; it is driven here with a torch SGD
optimizer and read from ``param_groups[0]["lr"]``. Mappings (transformers -> lrkit, total ``T``):

* ``get_linear_schedule_with_warmup(W, T)`` -> ``linear(warmup=W)``
* ``get_cosine_schedule_with_warmup(W, T)`` -> ``cosine(warmup=W)`` (rises again after ``T``)
* ``get_cosine_with_min_lr_schedule_with_warmup(W, T, min_lr_rate=r)`` -> ``cosine(warmup=W, floor=r)``
* ``get_polynomial_decay_schedule_with_warmup(W, T, lr_end, power)`` ->
  ``polynomial(warmup=W, power=power, floor=lr_end/lr)``
* ``get_inverse_sqrt_schedule(W, timescale)`` -> ``inverse_sqrt(warmup=W, timescale=timescale)``
* ``get_wsd_schedule(W, D, T, warmup_type, decay_type, min_lr_ratio=m)`` ->
  ``wsd(warmup=W, decay=D, form=decay_type, warmup_form=warmup_type, floor=m, warmup_init=m)``
  (HF's WSD warmup starts at ``min_lr_ratio``); with ``num_stable_steps=S`` the total is ``W+S+D``.
"""

from __future__ import annotations

import pytest

from .helpers import assert_steps, lrkit_lrs, torch_lrs

transformers = pytest.importorskip("transformers")
opt = pytest.importorskip("transformers.optimization")

BASE = 3e-4


@pytest.mark.parametrize("W, T", [(0, 100), (10, 100), (100, 1000), (1, 7)])
def test_linear(W, T):
    ref = torch_lrs(lambda o: opt.get_linear_schedule_with_warmup(o, W, T), T + 5, BASE)
    assert_steps(lrkit_lrs(f"linear(warmup={W})", T + 5, BASE, "hf", total=T), ref, what=f"linear W={W} T={T}")


@pytest.mark.parametrize("W, T", [(0, 100), (10, 100), (100, 1000), (3, 10)])
def test_cosine(W, T):
    """Includes 2T steps: transformers' cosine comes back up after the end, as the hf convention does."""
    n = 2 * T
    ref = torch_lrs(lambda o: opt.get_cosine_schedule_with_warmup(o, W, T), n, BASE)
    assert ref[T + T // 4] > ref[T] + 1e-6 * BASE
    assert_steps(lrkit_lrs(f"cosine(warmup={W})", n, BASE, "hf", total=T), ref, what=f"cosine W={W} T={T}")


@pytest.mark.parametrize("W, T, rate", [(10, 100, 0.1), (0, 200, 0.05), (50, 500, 0.5)])
def test_cosine_with_min_lr(W, T, rate):
    n = T + T // 2
    ref = torch_lrs(lambda o: opt.get_cosine_with_min_lr_schedule_with_warmup(o, W, T, min_lr_rate=rate), n, BASE)
    assert_steps(lrkit_lrs(f"cosine(warmup={W}, floor={rate})", n, BASE, "hf", total=T), ref,
                 what=f"cosine_with_min_lr W={W} T={T} rate={rate}")


@pytest.mark.parametrize("W, T, lr_end, power", [(10, 100, 1e-7, 1.0), (0, 100, 3e-5, 2.0), (25, 300, 1e-6, 0.5)])
def test_polynomial(W, T, lr_end, power):
    n = T + 10
    make = lambda o: opt.get_polynomial_decay_schedule_with_warmup(o, W, T, lr_end=lr_end, power=power)  # noqa: E731
    ref = torch_lrs(make, n, BASE)
    spec = f"polynomial(warmup={W}, power={power}, floor={lr_end / BASE!r})"
    assert_steps(lrkit_lrs(spec, n, BASE, "hf", total=T), ref, what=spec)


@pytest.mark.parametrize("W, timescale", [(0, None), (0, 500), (100, None), (100, 400), (10, 10)])
def test_inverse_sqrt(W, timescale):
    """Without ``timescale`` transformers takes the warmup length, or 10 000 without warmup; so does lrkit."""
    n = 1500
    ref = torch_lrs(lambda o: opt.get_inverse_sqrt_schedule(o, W, timescale=timescale), n, BASE)
    spec = f"inverse_sqrt(warmup={W}" + (f", timescale={timescale})" if timescale else ")")
    assert_steps(lrkit_lrs(spec, n, BASE, "hf"), ref, what=spec)


FORMS = ["linear", "cosine", "1-sqrt"]


@pytest.mark.parametrize("warmup_type", FORMS)
@pytest.mark.parametrize("decay_type", FORMS)
@pytest.mark.parametrize("min_lr_ratio", [0.0, 0.1])
def test_wsd(warmup_type, decay_type, min_lr_ratio):
    W, D, T = 20, 30, 120
    make = lambda o: opt.get_wsd_schedule(o, W, D, num_training_steps=T, warmup_type=warmup_type,  # noqa: E731
                                          decay_type=decay_type, min_lr_ratio=min_lr_ratio)
    ref = torch_lrs(make, T + 10, BASE)
    spec = (f"wsd(warmup={W}, decay={D}, form={decay_type!r}, warmup_form={warmup_type!r}, floor={min_lr_ratio}, "
            f"warmup_init={min_lr_ratio})")
    assert_steps(lrkit_lrs(spec, T + 10, BASE, "hf", total=T), ref, what=spec)


@pytest.mark.parametrize("W, S, D", [(10, 50, 40), (0, 100, 20), (5, 0, 25)])
def test_wsd_num_stable_steps(W, S, D):
    """``num_stable_steps`` instead of a total: the run is ``W + S + D`` steps, then ``min_lr_ratio``."""
    n = W + S + D + 15
    make = lambda o: opt.get_wsd_schedule(o, W, D, num_stable_steps=S, decay_type="1-sqrt",  # noqa: E731
                                          min_lr_ratio=0.05)
    ref = torch_lrs(make, n, BASE)
    spec = f"wsd(warmup={W}, decay={D}, form='1-sqrt', floor=0.05, warmup_init=0.05)"
    assert_steps(lrkit_lrs(spec, n, BASE, "hf", total=W + S + D), ref, what=spec)
