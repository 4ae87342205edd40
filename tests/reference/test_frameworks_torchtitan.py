"""``torchtitan`` against torchtitan's ``linear_warmup_stable_decay``, step by step (rtol 1e-7).

torchtitan does not install here; :func:`torchtitan_lambda` re-states the lambda and the sizes that
``LRSchedulersContainer.Config.build`` computes (``torchtitan/components/optimizer/lr_scheduler.py``,
torchtitan b5bcd76, 2026-08), and a real ``torch.optim.lr_scheduler.LambdaLR`` drives it as torchtitan's
container does. Cases marked "torchtitan tests/unit_tests/test_lr_scheduler.py" are ported from
torchtitan's own suite, expected factors included.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

import lrkit

from .helpers import assert_steps, lrkit_lrs, torch_lrs

RTOL = 1e-7


def torchtitan_lambda(total_steps, warmup_steps, decay_ratio, decay_type, min_lr_factor):
    warmup_steps = int(warmup_steps)
    if warmup_steps > total_steps:
        warmup_steps = total_steps
    if decay_ratio is not None:
        decay_steps = round(total_steps * decay_ratio)
        if warmup_steps + decay_steps > total_steps:
            decay_steps = total_steps - warmup_steps
    else:
        decay_steps = total_steps - warmup_steps
    stable_steps = total_steps + 1 - warmup_steps - decay_steps  # "a virtual last step"

    def linear_warmup_stable_decay(current_step, warmup_steps, stable_steps, decay_steps, lr_decay_type,
                                   min_lr_factor):
        warmup_stable_steps = warmup_steps + stable_steps
        if current_step < warmup_steps:
            current_step += 1
            return float(current_step / warmup_steps)
        if current_step < warmup_stable_steps:
            return 1.0
        current_step += 1
        progress = float(current_step - warmup_stable_steps) / decay_steps
        if lr_decay_type == "linear":
            curr_adjustment = 1 - progress
        elif lr_decay_type == "sqrt":
            curr_adjustment = 1 - math.sqrt(progress)
        else:
            curr_adjustment = 0.5 * (1.0 + math.cos(math.pi * progress))
        return min_lr_factor + (1 - min_lr_factor) * curr_adjustment

    return functools.partial(linear_warmup_stable_decay, warmup_steps=warmup_steps, stable_steps=stable_steps,
                             decay_steps=decay_steps, lr_decay_type=decay_type, min_lr_factor=min_lr_factor)


BASE = 8e-4


def titan_lrs(T, W, ratio, kind, floor):
    """Steps 0 .. T (torchtitan's lambda is defined up to the virtual last step T)."""
    torch = pytest.importorskip("torch")
    lam = torchtitan_lambda(T, W, ratio, kind, floor)
    lrs = torch_lrs(lambda o: torch.optim.lr_scheduler.LambdaLR(o, lam), T, BASE)  # (evaluates lam(0) .. lam(T))
    return np.append(lrs, BASE * lam(T))


@pytest.mark.parametrize("kind", ["linear", "sqrt", "cosine"])
@pytest.mark.parametrize("T, W, ratio, floor", [(10, 2, None, 0.0), (100, 10, None, 0.1), (100, 10, 0.2, 0.0),
                                                (1000, 200, 0.1, 0.05), (37, 5, 0.33, 0.0), (10, 5, 0.8, 0.0),
                                                (5, 10, None, 0.0), (50, 0, 0.5, 0.2), (41, 3, 0.25, 0.0)])
def test_torchtitan(kind, T, W, ratio, floor):
    ref = titan_lrs(T, W, ratio, kind, floor)
    spec = f"torchtitan(warmup={W}, decay_ratio={ratio}, decay_type={kind!r}, floor={floor})"
    for conv in ("lrkit", "hf", "timm"):  # torchtitan's own arithmetic under every convention
        assert_steps(lrkit_lrs(spec, T + 1, BASE, conv, total=T), ref, rtol=RTOL, what=f"{spec} {conv}")


def test_decay_ratio_rounds_as_python_does():
    """round(T * decay_ratio) is Python's round, half to even: 10 * 0.25 = 2.5 -> 2 decay steps, 10 * 0.35 ->
    3.5 -> 4."""
    assert lrkit.parse("torchtitan(warmup=0, decay_ratio=0.25)").layout(10) == (0, 2, 10)
    assert lrkit.parse("torchtitan(warmup=0, decay_ratio=0.35)").layout(10) == (0, 4, 10)
    for ratio in (0.25, 0.35):
        assert_steps(lrkit_lrs(f"torchtitan(warmup=0, decay_ratio={ratio})", 11, BASE, "lrkit", total=10),
                     titan_lrs(10, 0, ratio, "linear", 0.0), rtol=RTOL)


def test_past_the_total_holds_the_floor():
    s = lrkit.parse("torchtitan(warmup=2, floor=0.1)")
    assert np.all(s(np.arange(10, 30), 10) == pytest.approx(0.1))


# ----- cases ported from torchtitan's own suite (tests/unit_tests/test_lr_scheduler.py) ------------------------

@pytest.mark.parametrize("name, T, W, ratio, floor, expected", [
    ("test_linear_warmup_decay", 10, 2, None, 0.0,
     [0.5, 1.0, 1.0, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8]),
    ("test_warmup_stable_decay", 10, 2, 0.5, 0.0, [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2]),
    ("test_warmup_exceeds_training", 5, 10, None, 0.0, [0.2, 0.4, 0.6, 0.8, 1.0]),
    ("test_warmup_stable_only", 10, 2, 0.0, 0.0, [0.5] + [1.0] * 9),
    ("test_warmup_plus_decay_exceeds_training", 10, 5, 0.8, 0.0,
     [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2]),
])
def test_torchtitan_suite(name, T, W, ratio, floor, expected):
    ours = lrkit.parse(f"torchtitan(warmup={W}, decay_ratio={ratio}, floor={floor})").sample(T)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, err_msg=name)


def test_torchtitan_suite_min_lr():
    """test_min_lr: min_lr_factor 0.2; after all 10 steps (step 10, the virtual last one) the LR is 0.2 x."""
    assert lrkit.parse("torchtitan(warmup=2, floor=0.2)")(10, 10) == pytest.approx(0.2)


# ----- the language --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["torchtitan()", "torchtitan(warmup=0.05, decay_ratio=0.2, decay_type='sqrt', "
                                                  "floor=0.1, steps=5000)"])
def test_round_trip(spec):
    s = lrkit.parse(spec)
    assert lrkit.parse(str(s)) == s and lrkit.parse(s.to_dict()) == s and str(lrkit.parse(str(s))) == str(s)


@pytest.mark.parametrize("spec, words", [
    ("torchtitan(decay_ratio=1.5)", "decay_ratio=1.5 is out of range"),
    ("torchtitan(decay_type='1-sqrt')", "decay_type='1-sqrt' is not one of"),
    ("torchtitan(floor=-0.5)", "floor=-0.5 is out of range"),
    ("torchtitan(warmup=-3)", "warmup=-3 steps is negative"),
    ("torchtitan(min_lr_factor=0.1)", "unknown parameter 'min_lr_factor'"),
])
def test_bad_arguments_one_line(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec)
    assert words in str(e.value) and "\n" not in str(e.value)
