"""Every new shape and framework family traces under ``jax.jit`` (``to_optax``) and equals numpy in float64."""

from __future__ import annotations

import numpy as np
import pytest

import lrkit

SPECS = [
    "tanh(warmup=10, floor=0.1, cycle_limit=3, cycle_mul=1.5, cycle_decay=0.5, steps=40)",
    "kdecay(form='polynomial', k=2.0, power=0.5, cycle_mul=0.5, cycle_limit=4)",
    "kdecay(k=3.0, cycle_limit=2, cycle_mul=2.0)",
    "cosine_waves(waves=1.5, warmup=5)",
    "cosine_restarts(cycles=2.5, warmup=5)",
    "megatron(decay_style='WSD', warmup=10, wsd_decay=30, wsd_decay_style='minus_sqrt')",
    "megatron(decay_style='WSD', warmup=10, wsd_decay=30)",
    "megatron(decay_style='inverse-square-root', warmup=10, floor=0.05)",
    "megatron_wd(style='cosine', start=0.0)",
    "torchtitan(warmup=10, decay_ratio=0.3, decay_type='cosine', floor=0.1)",
    "cosine_lr_rate(warmup=10, warmup_lr_rate=0.1)",
    "deepspeed_warmup(warmup=10)",
    "deepspeed_warmup_decay(warmup=10, warmup_type='linear')",
    "deepspeed_warmup_cosine(warmup=10)",
]


@pytest.mark.parametrize("spec", SPECS)
def test_jit_equals_numpy_in_float64(spec, x64):
    jax = x64
    s = lrkit.parse(spec)
    f = jax.jit(s.to_optax(120, lr=1.0))
    got = np.array([float(f(t)) for t in range(140)])
    np.testing.assert_allclose(got, s(np.arange(140), 120), rtol=1e-12, atol=1e-15)
