"""``Schedule.to_optax``: every family traces under ``jax.jit`` and equals the numpy values."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
optax = pytest.importorskip("optax")

import lrkit  # noqa: E402

SPECS = [
    "constant()", "linear(end=0.1, warmup=20)", "cosine(warmup=100, floor=0.1)", "cosine(exponent=2.0)",
    "polynomial(power=2.0, floor=0.05)", "exponential(gamma=0.99, floor=0.1)", "step(every=30, warmup=5)",
    "multistep(milestones=[30, 60, 90])", "inverse_sqrt(warmup=10)", "rex(beta=0.9)", "uba(phi=0.5)",
    "wsd(warmup=0.05, decay=0.2, form=\"cosine\")", "wsd(form=\"exp\", half_life=10, floor=0.01)",
    "power(warmup=10, batch_size=256.0, tokens_per_step=1000000.0, decay=0.2, form=\"linear\")",
    "infinite(warmup=10, cooldown=20, anneal=0.2, cooldown_form=\"inverse_sqrt\")", "onecycle(three_phase=True, pct_start=0.25)",
    "cyclic(up=10, mode=\"exp_range\", gamma=0.99)", "sgdr(period=10, mult=2, floor=0.1)",
    "piecewise(points=[(0, 1.0), (0.5, 0.5), (0.5, 0.2), (1.0, 0.0)], warmup=10)",
    "rewarm(from_lr=0.1, warmup=50, then=cosine(floor=0.1))", "warmup(form=\"radam\")",
    "product(warmup(period=10), cosine())", "sequence(linear(end=0.5), cosine(floor=0.1), boundaries=[100])",
    "clamp(exponential(gamma=0.9), floor=0.1)", "repeat(cosine(), every=0.25, times=3)",
    "cooldown(constant(), at=100, decay=50, form=\"linear\")",
]


@pytest.fixture
def x64():
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", False)


@pytest.mark.parametrize("spec", SPECS)
def test_jit_equals_numpy_in_float64(spec, x64):
    s = lrkit.parse(spec)
    f = jax.jit(s.to_optax(200, lr=0.5))
    got = np.asarray(jax.vmap(f)(jnp.arange(260)))
    np.testing.assert_allclose(got, s(np.arange(260), 200) * 0.5, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("spec", SPECS[:6])
def test_float32_default_is_close(spec):
    s = lrkit.parse(spec)
    f = jax.jit(s.to_optax(200, lr=3e-4))
    got = np.asarray([f(i) for i in range(0, 200, 7)])
    np.testing.assert_allclose(got, s(np.arange(0, 200, 7), 200) * 3e-4, rtol=2e-5, atol=1e-10)


def test_drives_an_optax_optimizer():
    sched = lrkit.parse("cosine(warmup=5, floor=0.1)").to_optax(total_steps=20, lr=0.1)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=sched)
    params = jnp.zeros(3)
    state = tx.init(params)
    seen = []
    for _ in range(20):  # after each update, the state holds the LR that update used
        _, state = tx.update(jnp.ones(3), state, params)
        seen.append(float(state.hyperparams["learning_rate"]))
    np.testing.assert_allclose(seen, lrkit.parse("cosine(warmup=5, floor=0.1)").sample(20) * 0.1, rtol=1e-6)


def test_needs_total_and_valid_lr():
    with pytest.raises(lrkit.SpecError, match="needs the total"):
        lrkit.parse("cosine()").to_optax()
    with pytest.raises(lrkit.SpecError, match="lr=-1"):
        lrkit.parse("constant()").to_optax(lr=-1)
