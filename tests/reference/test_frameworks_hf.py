"""transformers' cosine with ``num_cycles`` and with hard restarts, against the installed transformers.

``get_cosine_schedule_with_warmup(W, T, num_cycles=c)`` -> ``cosine_waves(warmup=W, waves=c)``;
``get_cosine_with_min_lr_schedule_with_warmup(..., min_lr_rate=r)`` -> ``cosine_waves(..., floor=r)``;
``get_cosine_with_hard_restarts_schedule_with_warmup(W, T, num_cycles=c)`` -> ``cosine_restarts(warmup=W,
cycles=c)``; total ``T``, ``--convention hf``; every step (and past the end), rtol 1e-7. Cases marked
"transformers tests/optimization/test_optimization.py" are ported from transformers' own suite.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrkit

from .helpers import assert_steps, lrkit_lrs, torch_lrs

pytest.importorskip("transformers")
opt = pytest.importorskip("transformers.optimization")
BASE = 3e-4
RTOL = 1e-7


@pytest.mark.parametrize("W, T", [(0, 100), (10, 100), (7, 33), (2, 10)])
@pytest.mark.parametrize("waves", [0.5, 1.0, 1.5, 3.0, 0.25])
def test_cosine_waves(W, T, waves):
    n = 2 * T + 5
    ref = torch_lrs(lambda o: opt.get_cosine_schedule_with_warmup(o, W, T, num_cycles=waves), n, BASE)
    spec = f"cosine_waves(warmup={W}, waves={waves})"
    assert_steps(lrkit_lrs(spec, n, BASE, "hf", total=T), ref, rtol=RTOL, what=spec)


@pytest.mark.parametrize("W, T, waves, rate", [(10, 100, 1.5, 0.1), (0, 200, 2.0, 0.05), (50, 500, 0.75, 0.5)])
def test_cosine_waves_with_min_lr(W, T, waves, rate):
    n = T + T // 2
    ref = torch_lrs(lambda o: opt.get_cosine_with_min_lr_schedule_with_warmup(o, W, T, num_cycles=waves,
                                                                               min_lr_rate=rate), n, BASE)
    spec = f"cosine_waves(warmup={W}, waves={waves}, floor={rate})"
    assert_steps(lrkit_lrs(spec, n, BASE, "hf", total=T), ref, rtol=RTOL, what=spec)


@pytest.mark.parametrize("W, T", [(0, 100), (10, 100), (3, 40), (5, 17)])
@pytest.mark.parametrize("cycles", [1, 2, 3, 7])
def test_cosine_restarts(W, T, cycles):
    """Cycle lengths (T - W) / cycles that are not whole steps (95/3, 12/7, ...) included; 0 after the end."""
    n = T + 20
    ref = torch_lrs(lambda o: opt.get_cosine_with_hard_restarts_schedule_with_warmup(o, W, T, num_cycles=cycles),
                    n, BASE)
    spec = f"cosine_restarts(warmup={W}, cycles={float(cycles)})"
    assert_steps(lrkit_lrs(spec, n, BASE, "hf", total=T), ref, rtol=RTOL, what=spec)


def test_transformers_suite_hard_restarts():
    """transformers tests/optimization/test_optimization.py ScheduleInitTest.test_schedulers:
    get_cosine_with_hard_restarts_schedule_with_warmup(num_warmup_steps=2, num_training_steps=10,
    num_cycles=2) at lr 10 gives [0.0, 5.0, 10.0, 8.53, 5.0, 1.46, 10.0, 8.53, 5.0, 1.46] (tol 1e-2)."""
    expected = [0.0, 5.0, 10.0, 8.53, 5.0, 1.46, 10.0, 8.53, 5.0, 1.46]
    ours = lrkit_lrs("cosine_restarts(warmup=2, cycles=2.0)", 10, 10.0, "hf", total=10)
    np.testing.assert_allclose(ours, expected, atol=1e-2)
    ref = torch_lrs(lambda o: opt.get_cosine_with_hard_restarts_schedule_with_warmup(o, 2, 10, num_cycles=2), 10, 10.0)
    assert_steps(ours, ref, rtol=RTOL, what="hard restarts, transformers' suite")


def test_transformers_suite_cosine():
    """transformers tests/optimization/test_optimization.py ScheduleInitTest.test_schedulers:
    get_cosine_schedule_with_warmup(2, 10) at lr 10 gives [0.0, 5.0, 10.0, 9.61, 8.53, 6.91, 5.0, 3.08, 1.46,
    0.38]; cosine_waves at its default waves=0.5 is that schedule."""
    expected = [0.0, 5.0, 10.0, 9.61, 8.53, 6.91, 5.0, 3.08, 1.46, 0.38]
    np.testing.assert_allclose(lrkit_lrs("cosine_waves(warmup=2)", 10, 10.0, "hf", total=10), expected, atol=1e-2)


def test_waves_one_half_is_cosine_and_restarts_one_cycle_is_cosine_then_floor():
    for conv in ("lrkit", "hf", "timm"):
        np.testing.assert_allclose(lrkit.parse("cosine_waves(floor=0.1, warmup=7)").sample(100, conv),
                                   lrkit.parse("cosine(floor=0.1, warmup=7)").sample(100, conv), rtol=1e-12)
        np.testing.assert_allclose(lrkit.parse("cosine_restarts(floor=0.1, warmup=7)").sample(100, conv),
                                   lrkit.parse("cosine(floor=0.1, warmup=7)").sample(100, conv), rtol=1e-12)


@pytest.mark.parametrize("spec", ["cosine_waves()", "cosine_waves(waves=1.5, floor=0.1, warmup=0.05)",
                                  "cosine_restarts()", "cosine_restarts(cycles=2.5, floor=0.01, warmup=10)"])
def test_round_trip(spec):
    s = lrkit.parse(spec)
    assert lrkit.parse(str(s)) == s and lrkit.parse(s.to_dict()) == s and str(lrkit.parse(str(s))) == str(s)


def test_integer_cycles_read_as_the_same_count():
    assert lrkit.parse("cosine_restarts(cycles=2)") == lrkit.parse("cosine_restarts(cycles=2.0)")


@pytest.mark.parametrize("spec, words", [
    ("cosine_waves(waves=0)", "waves=0 is out of range"),
    ("cosine_waves(waves='many')", "waves='many' is not a number"),
    ("cosine_waves(floor=-1.0)", "floor=-1.0 is out of range"),
    ("cosine_restarts(cycles=0)", "cycles=0 is out of range"),
    ("cosine_restarts(cycles=-2)", "cycles=-2 is out of range"),
    ("cosine_restarts(num_cycles=2)", "unknown parameter 'num_cycles'"),
])
def test_bad_arguments_one_line(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec)
    assert words in str(e.value) and "\n" not in str(e.value)


# ----- get_cosine_with_min_lr_schedule_with_warmup_lr_rate ("cosine_warmup_with_min_lr") ------------------------

@pytest.mark.parametrize("W, T", [(0, 100), (10, 100), (1, 20), (7, 33), (100, 1000)])
@pytest.mark.parametrize("rate", [0.0, 0.1])
@pytest.mark.parametrize("warmup_lr_rate", [None, 0.0, 0.05, 0.5])
@pytest.mark.parametrize("waves", [0.5, 1.5])
def test_cosine_lr_rate(W, T, rate, warmup_lr_rate, waves):
    n = T + T // 2
    ref = torch_lrs(lambda o: opt.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
        o, W, T, num_cycles=waves, min_lr_rate=rate, warmup_lr_rate=warmup_lr_rate), n, BASE)
    spec = f"cosine_lr_rate(warmup={W}, waves={waves}, floor={rate}, warmup_lr_rate={warmup_lr_rate})"
    for conv in ("lrkit", "hf", "timm"):  # transformers' own counting under every convention
        assert_steps(lrkit_lrs(spec, n, BASE, conv, total=T), ref, rtol=RTOL, what=f"{spec} {conv}")


def test_cosine_lr_rate_edges():
    """Each edge one step ahead of transformers' other cosines: the floor at T - 1, the peak at W - 1 with
    warmup_lr_rate, and 1/W (not 0) at step 0 without it."""
    s = lrkit.parse("cosine_lr_rate(warmup=10, floor=0.1)")
    assert s(0, 100) == pytest.approx(0.1) and s(99, 100) == pytest.approx(0.1)
    assert lrkit.parse("cosine_lr_rate(warmup=10, warmup_lr_rate=0.2)")(9, 100) == pytest.approx(1.0)


@pytest.mark.parametrize("spec", ["cosine_lr_rate()", "cosine_lr_rate(warmup=0.1, waves=1.0, floor=0.1, "
                                                      "warmup_lr_rate=0.01, steps=300)"])
def test_cosine_lr_rate_round_trip(spec):
    s = lrkit.parse(spec)
    assert lrkit.parse(str(s)) == s and lrkit.parse(s.to_dict()) == s and str(lrkit.parse(str(s))) == str(s)


@pytest.mark.parametrize("spec, words", [
    ("cosine_lr_rate(warmup_lr_rate=-0.1)", "warmup_lr_rate=-0.1 is out of range"),
    ("cosine_lr_rate(waves=0.0)", "waves=0.0 is out of range"),
    ("cosine_lr_rate(min_lr_rate=0.1)", "unknown parameter 'min_lr_rate'"),
])
def test_cosine_lr_rate_bad_arguments_one_line(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec)
    assert words in str(e.value) and "\n" not in str(e.value)
