"""lrkit under ``convention="optax"`` against optax's schedules (float64), value by value.

optax schedules are pure functions of the step; each is evaluated on ``0 .. n-1`` (past its end
too). Mappings (optax -> lrkit; the peak value is the base LR):

* ``warmup_cosine_decay_schedule(init, peak, W, T, end)`` ->
  ``cosine(warmup=W, warmup_init=init/peak, floor=end/peak)``, total ``T``
* ``join_schedules([...], boundaries)`` -> ``sequence(..., boundaries=[...])`` (each phase counts its own
  steps from its boundary, as optax does)
* ``cosine_onecycle_schedule(T, peak, pct_start, div, final_div)`` -> ``onecycle(anneal='cos', ...)``
* ``linear_onecycle_schedule(T, peak, pct_start, pct_final, ...)`` ->
  ``onecycle(anneal='linear', three_phase=True, pct_final=pct_final, ...)``
* ``sgdr_schedule([dict(init, peak, W, L, end)] * k)`` ->
  ``repeat(cosine(warmup=W, warmup_init=init/peak, floor=end/peak), every=L, times=k)``
* ``polynomial_schedule(init, end, power, T)`` -> ``polynomial(power=power, floor=end/init)``, total ``T``
* ``exponential_decay(init, k, rate)`` -> ``exponential(gamma=rate**(1/k))``; with ``staircase=True``
  -> ``step(every=k, gamma=rate)``; ``end_value`` -> ``floor``
"""

from __future__ import annotations

import numpy as np
import pytest

from .helpers import assert_steps, lrkit_lrs

optax = pytest.importorskip("optax")
pytestmark = pytest.mark.usefixtures("x64")


def ref(schedule, n, jit=True):
    """optax's values at steps ``0 .. n-1``, vmapped (and jitted: one compile instead of one per op)."""
    import jax
    import jax.numpy as jnp

    fn = jax.vmap(schedule)
    out = np.asarray((jax.jit(fn) if jit else fn)(jnp.arange(n, dtype=jnp.float64)), dtype=float)
    assert out.dtype == np.float64 and out.shape == (n,)
    return out


@pytest.mark.parametrize("init, peak, W, T, end", [(0.0, 1e-3, 100, 1000, 0.0), (1e-5, 1e-3, 10, 100, 1e-4),
                                                   (0.5, 1.0, 1, 50, 0.25)])
def test_warmup_cosine_decay(init, peak, W, T, end):
    n = T + 20
    expected = ref(optax.warmup_cosine_decay_schedule(init, peak, W, T, end), n)
    spec = f"cosine(warmup={W}, warmup_init={init / peak!r}, floor={end / peak!r})"
    assert_steps(lrkit_lrs(spec, n, peak, "optax", total=T), expected, what=spec)


def test_join_schedules():
    """join_schedules: a constant phase, a cosine phase and a polynomial phase, each on its own clock."""
    peak, n = 0.1, 400
    expected = ref(optax.join_schedules([
        optax.constant_schedule(peak),
        optax.cosine_decay_schedule(peak, decay_steps=150, alpha=0.2),
        optax.polynomial_schedule(0.2 * peak, 0.0, power=2.0, transition_steps=100),
    ], boundaries=[50, 200]), n)
    spec = "sequence(constant(), cosine(floor=0.2), product(constant(value=0.2), polynomial(power=2.0)), " \
           "boundaries=[50, 200])"
    assert_steps(lrkit_lrs(spec, n, peak, "optax", total=300), expected, what=spec)


def test_join_schedules_fractions():
    """Fractional boundaries resolve against the total (here 0.25 and 0.75 of 400 steps)."""
    n = 400
    expected = ref(optax.join_schedules([
        optax.linear_schedule(1.0, 0.5, 100),
        optax.cosine_decay_schedule(1.0, 200),
        optax.constant_schedule(0.3),
    ], boundaries=[100, 300]), n)
    spec = "sequence(linear(end=0.5), cosine(), constant(value=0.3), boundaries=[0.25, 0.75])"
    assert_steps(lrkit_lrs(spec, n, 1.0, "optax"), expected, what=spec)


@pytest.mark.parametrize("T, pct, div, final_div", [(100, 0.3, 25.0, 1e4), (1000, 0.25, 10.0, 100.0), (97, 0.3, 25.0, 1e4)])
def test_cosine_onecycle(T, pct, div, final_div):
    peak, n = 0.4, T + 10
    expected = ref(optax.cosine_onecycle_schedule(T, peak, pct, div, final_div), n)
    spec = f"onecycle(pct_start={pct}, div_factor={div}, final_div_factor={final_div})"
    assert_steps(lrkit_lrs(spec, n, peak, "optax", total=T), expected, what=spec)


@pytest.mark.parametrize("T, pct, final, div, final_div", [
    (100, 0.3, None, 25.0, 1e4), (1000, 0.25, None, 10.0, 100.0), (90, 0.2, None, 5.0, 1e3),
    (100, 0.3, 0.85, 25.0, 1e4), (1000, 0.1, 0.9, 10.0, 100.0), (97, 0.45, 0.6, 25.0, 1e4),  # optax's default 0.85
])
def test_linear_onecycle(T, pct, final, div, final_div):
    peak, n = 0.4, T + 10
    expected = ref(optax.linear_onecycle_schedule(T, peak, pct, 2 * pct if final is None else final, div, final_div), n)
    spec = f"onecycle(pct_start={pct}, div_factor={div}, final_div_factor={final_div}, anneal='linear', " \
           f"three_phase=True{'' if final is None else f', pct_final={final}'})"
    assert_steps(lrkit_lrs(spec, n, peak, "optax", total=T), expected, what=spec)


@pytest.mark.parametrize("init, W, L, end, k", [(0.0, 10, 100, 0.0, 3), (1e-4, 5, 40, 1e-4, 4), (0.0, 0, 30, 0.0, 2)])
def test_sgdr(init, W, L, end, k):
    peak, n = 1e-3, L * k + 25
    kwargs = dict(init_value=init, peak_value=peak, warmup_steps=W, decay_steps=L, end_value=end)
    expected = ref(optax.sgdr_schedule([kwargs] * k), n)
    spec = f"repeat(cosine(warmup={W}, warmup_init={init / peak!r}, floor={end / peak!r}), every={L}, times={k})"
    assert_steps(lrkit_lrs(spec, n, peak, "optax"), expected, what=spec)


@pytest.mark.parametrize("init, end, power, T", [(1.0, 0.01, 2.0, 100), (0.1, 0.0, 1.0, 37), (0.1, 0.001, 0.5, 250)])
def test_polynomial(init, end, power, T):
    n = T + 10
    # not jitted: XLA rewrites x**0.5 so that it is NaN at x = 0 (optax itself gives end_value there)
    expected = ref(optax.polynomial_schedule(init, end, power, T), n, jit=False)
    spec = f"polynomial(power={power}, floor={end / init!r})"
    assert_steps(lrkit_lrs(spec, n, init, "optax", total=T), expected, what=spec)


@pytest.mark.parametrize("k, rate, end", [(100, 0.5, None), (1, 0.99, None), (30, 0.1, 1e-3)])
def test_exponential_decay(k, rate, end):
    n, init = 300, 0.1
    expected = ref(optax.exponential_decay(init, k, rate, end_value=end), n)
    spec = f"exponential(gamma={rate ** (1.0 / k)!r}" + (f", floor={end / init!r})" if end else ")")
    assert_steps(lrkit_lrs(spec, n, init, "optax"), expected, rtol=1e-11, what=spec)


@pytest.mark.parametrize("k, rate", [(100, 0.5), (7, 0.9), (1, 0.95)])
def test_exponential_decay_staircase(k, rate):
    n, init = 300, 0.1
    expected = ref(optax.exponential_decay(init, k, rate, staircase=True), n)
    spec = f"step(every={k}, gamma={rate})"
    assert_steps(lrkit_lrs(spec, n, init, "optax"), expected, rtol=1e-12, what=spec)
