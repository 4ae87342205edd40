"""Shared set-up for the reference suite: jax on the CPU in float64 where a test asks for it."""

from __future__ import annotations

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest  # noqa: E402


@pytest.fixture
def x64():
    """Run optax in float64 so its values can be compared at rtol 1e-12; restored afterwards."""
    jax = pytest.importorskip("jax")
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield jax
    finally:
        jax.config.update("jax_enable_x64", before)
