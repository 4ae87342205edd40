"""``to_optax`` on bad or unusual input: one clear line, never a silently different schedule."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
jnp = pytest.importorskip("jax.numpy")
pytest.importorskip("optax")

import lrkit  # noqa: E402
from lrkit.integrations.optax import to_optax  # noqa: E402


@pytest.mark.parametrize("spec", ["plateau()", "sequence(constant(), plateau(patience=3), boundaries=[5])",
                                  "product(plateau(), cosine())"])
def test_a_metric_driven_plateau_is_refused(spec):
    """Before: a plateau phase silently ran as a constant LR (an optax schedule never sees the metric)."""
    with pytest.raises(lrkit.SpecError, match=r"plateau\(...\) phase with no recorded reductions.*reduce_on_plateau"):
        to_optax(spec, 10)


def test_a_plateau_with_recorded_reductions_replays():
    f = to_optax("sequence(constant(), plateau(reductions=[2]), boundaries=[5])", 10, lr=1.0)
    assert float(f(6)) == pytest.approx(1.0) and float(f(8)) == pytest.approx(0.1)


def test_zero_dimensional_arrays_are_numbers():
    """Before: total_steps=jnp.array(10) was 'not a whole number of steps', lr=jnp.array(0.1) 'not a number'."""
    f = to_optax("cosine()", jnp.array(10), lr=jnp.array(0.5))
    assert float(f(0)) == pytest.approx(0.5)
    assert float(f(10)) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(lrkit.SpecError, match="total_steps=0 is zero"):
        to_optax("cosine()", jnp.array(0))
