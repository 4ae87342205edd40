"""``convention="hf"`` at transformers' edges, against the installed ``transformers.optimization``.

Every hf preset is compared step by step (rtol 1e-7, past the end too) over small runs where the edges
matter: no warmup, a one-step warmup, a warmup one step shorter than the run, a decay of 0 steps, and a
decay the warmup runs into. The hf preset carries ``quirks="hf"``: transformers' ``get_wsd_schedule``
ramps its warmup up from ``min_lr_ratio`` (lrkit's ``floor``; ``warmup_init`` when set), places the
decay over the run's last ``num_decay_steps`` and holds ``min_lr_ratio`` after the end even with no
decay. Cases marked "transformers tests/optimization/test_optimization.py" are ported from
transformers' own suite (``ScheduleInitTest.test_schedulers``: lr 10, ``num_warmup_steps=2``,
``num_training_steps=10``).

Not reproduced, on purpose (``lint`` reports both): a warmup not shorter than the run (transformers'
linear, polynomial and WSD are at their end value from step ``W``; lrkit keeps its counting), and the
ramp of a warmup that runs into the WSD decay (transformers ramps to the peak and drops at ``W``;
lrkit's ramp ends where the decay has reached, without the jump, and matches from step ``W`` on).
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
RUNS = [(0, 10), (1, 10), (2, 10), (9, 10), (0, 1), (1, 2), (5, 37)]


def _same(spec, make, T, n=None, base=BASE):
    n = n or 2 * T + 7
    assert_steps(lrkit_lrs(spec, n, base, "hf", total=T), torch_lrs(make, n, base), rtol=RTOL, atol=1e-15,
                 what=f"{spec} T={T}")


@pytest.mark.parametrize("W, T", RUNS)
def test_linear_cosine_constant_inverse_sqrt_at_the_edges(W, T):
    _same(f"linear(warmup={W})", lambda o: opt.get_linear_schedule_with_warmup(o, W, T), T)
    _same(f"cosine(warmup={W})", lambda o: opt.get_cosine_schedule_with_warmup(o, W, T), T)
    _same(f"constant(warmup={W})", lambda o: opt.get_constant_schedule_with_warmup(o, W), T)
    _same(f"inverse_sqrt(warmup={W})", lambda o: opt.get_inverse_sqrt_schedule(o, W), T)
    _same(f"inverse_sqrt(warmup={W}, timescale=3)", lambda o: opt.get_inverse_sqrt_schedule(o, W, timescale=3), T)


@pytest.mark.parametrize("W, T", RUNS)
def test_cosine_with_min_lr_as_a_rate_and_as_an_lr(W, T):
    _same(f"cosine(warmup={W}, floor=0.1)",
          lambda o: opt.get_cosine_with_min_lr_schedule_with_warmup(o, W, T, min_lr_rate=0.1), T)
    _same(f"cosine(warmup={W}, floor=0.25)",  # min_lr is absolute: min_lr / lr
          lambda o: opt.get_cosine_with_min_lr_schedule_with_warmup(o, W, T, min_lr=0.25 * BASE), T)


@pytest.mark.parametrize("W, T", [(0, 10), (1, 10), (2, 10), (9, 10), (1, 2), (5, 37)])
@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_polynomial_at_the_edges(W, T, power):
    """Past ``num_training_steps`` transformers returns ``lr_end`` exactly; lrkit clamps at the floor."""
    _same(f"polynomial(warmup={W}, power={power}, floor={1e-7 / BASE!r})",
          lambda o: opt.get_polynomial_decay_schedule_with_warmup(o, W, T, lr_end=1e-7, power=power), T)


FORMS = ["linear", "cosine", "1-sqrt"]


@pytest.mark.parametrize("warmup_type", FORMS)
@pytest.mark.parametrize("decay_type", FORMS)
@pytest.mark.parametrize("ratio", [0.1, 0.5])
def test_wsd_warmup_starts_at_the_floor(warmup_type, decay_type, ratio):
    """The issue's case: ``wsd(..., floor=F)`` under hf, with no warmup_init, starts at F as
    ``get_wsd_schedule`` does (its warmup lambda is ``factor * (1 - min_lr_ratio) + min_lr_ratio``)."""
    W, D, T = 20, 30, 120
    spec = f"wsd(warmup={W}, decay={D}, form={decay_type!r}, warmup_form={warmup_type!r}, floor={ratio})"
    _same(spec, lambda o: opt.get_wsd_schedule(o, W, D, num_training_steps=T, warmup_type=warmup_type,
                                               decay_type=decay_type, min_lr_ratio=ratio), T)
    s = lrkit.parse(spec)
    assert s(0, T, convention="hf") == pytest.approx(ratio) and s.ramp_start("hf") == ratio
    assert s(0, T, convention="torch") == 0.0 and s.ramp_start("lrkit") == 0.0  # only transformers' quirk


def test_wsd_warmup_init_when_set_is_where_the_ramp_starts():
    s = lrkit.parse("wsd(warmup=10, decay=10, floor=0.2, warmup_init=0.05)")
    assert s(0, 50, convention="hf") == pytest.approx(0.05) and s.ramp_start("hf") == 0.05


@pytest.mark.parametrize("W, D, T", [(0, 0, 10), (3, 0, 10), (3, 7, 10), (0, 10, 10), (1, 1, 2), (4, 3, 11)])
@pytest.mark.parametrize("ratio", [0.0, 0.1])
@pytest.mark.parametrize("decay_type", FORMS)
def test_wsd_at_the_edges(W, D, T, ratio, decay_type):
    """No decay (``min_lr_ratio`` from step T on), a decay that fills the run after the warmup, and
    no stable phase at all; past the end the floor."""
    _same(f"wsd(warmup={W}, decay={D}, form={decay_type!r}, floor={ratio})",
          lambda o: opt.get_wsd_schedule(o, W, D, num_training_steps=T, decay_type=decay_type, min_lr_ratio=ratio), T)


@pytest.mark.parametrize("W, D, T", [(4, 8, 10), (0, 15, 10), (2, 12, 10)])
def test_wsd_decay_the_warmup_runs_into(W, D, T):
    """``W + decay > T``: the decay is still the run's last ``decay`` steps, so from step W on lrkit is
    transformers; before W lrkit's ramp ends at the value the decay has reached (no jump at W)."""
    spec = f"wsd(warmup={W}, decay={D}, form='linear', floor=0.1)"
    n = T + 5
    ours = lrkit_lrs(spec, n, BASE, "hf", total=T)
    ref = torch_lrs(lambda o: opt.get_wsd_schedule(o, W, D, num_training_steps=T, decay_type="linear",
                                                   min_lr_ratio=0.1), n, BASE)
    assert_steps(ours[W:], ref[W:], rtol=RTOL, what=spec)
    if W:
        assert ours[0] == pytest.approx(0.1 * BASE) and np.all(np.diff(ours[:W + 1]) >= 0)
        assert any(f.code == "phases-exceed-run" for f in lrkit.lint(spec, T, convention="hf"))


@pytest.mark.parametrize("W, S, D", [(10, 50, 40), (0, 100, 20), (5, 0, 25), (3, 7, 0)])
def test_wsd_num_stable_steps_without_warmup_init(W, S, D):
    n = W + S + D + 15
    make = lambda o: opt.get_wsd_schedule(o, W, D, num_stable_steps=S, warmup_type="cosine",  # noqa: E731
                                          decay_type="1-sqrt", min_lr_ratio=0.05)
    _same(f"wsd(warmup={W}, decay={D}, form='1-sqrt', warmup_form='cosine', floor=0.05)", make, W + S + D, n)


def test_warmup_filling_the_run_is_linted_not_reproduced():
    """transformers' linear is 0 from step W when W >= T; lrkit keeps its own counting there and lint says so."""
    assert any(f.code == "warmup-too-long" for f in lrkit.lint("linear(warmup=12)", 10, convention="hf"))


# ----- transformers tests/optimization/test_optimization.py ScheduleInitTest.test_schedulers -------------------

SUITE = [  # (lrkit spec, transformers function and kwargs, expected at lr 10 with tol 1e-2)
    ("constant()", lambda o: opt.get_constant_schedule(o), [10.0] * 10),
    ("constant(warmup=4)", lambda o: opt.get_constant_schedule_with_warmup(o, num_warmup_steps=4),
     [0.0, 2.5, 5.0, 7.5, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]),
    ("linear(warmup=2)", lambda o: opt.get_linear_schedule_with_warmup(o, 2, 10),
     [0.0, 5.0, 10.0, 8.75, 7.5, 6.25, 5.0, 3.75, 2.5, 1.25]),
    ("cosine(warmup=2)", lambda o: opt.get_cosine_schedule_with_warmup(o, 2, 10),
     [0.0, 5.0, 10.0, 9.61, 8.53, 6.91, 5.0, 3.08, 1.46, 0.38]),
    ("polynomial(warmup=2, power=2.0, floor=1e-08)",
     lambda o: opt.get_polynomial_decay_schedule_with_warmup(o, 2, 10, power=2.0, lr_end=1e-7),
     [0.0, 5.0, 10.0, 7.656, 5.625, 3.906, 2.5, 1.406, 0.625, 0.156]),
    ("inverse_sqrt(warmup=2)", lambda o: opt.get_inverse_sqrt_schedule(o, num_warmup_steps=2),
     [0.0, 5.0, 10.0, 8.165, 7.071, 6.325, 5.774, 5.345, 5.0, 4.714]),
]


@pytest.mark.parametrize("spec, make, expected", SUITE, ids=[s for s, _, _ in SUITE])
def test_transformers_suite(spec, make, expected):
    ours = lrkit_lrs(spec, 10, 10.0, "hf", total=10)
    np.testing.assert_allclose(ours, expected, atol=1e-2)
    assert_steps(ours, torch_lrs(make, 10, 10.0), rtol=RTOL, what=spec)
