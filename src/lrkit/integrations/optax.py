"""lrkit schedules as optax schedules: pure ``jax.numpy`` functions of the step count, ``jax.jit``-able.

The same formula as the numpy evaluation runs on a ``jax.numpy`` back-end, so values agree with
``schedule.sample`` (to float32 precision unless ``jax_enable_x64`` is on)::

    import optax, lrkit
    sched = lrkit.parse("cosine(warmup=0.05, floor=0.1)").to_optax(total_steps=10_000, lr=3e-4)
    tx = optax.adamw(learning_rate=sched)
"""

from __future__ import annotations

from collections.abc import Callable

from .._math import jax_backend
from ..schedules import Schedule
from ..schedules import validate as v
from ..schedules.conventions import Convention, get_convention
from ..spec import parse


def to_optax(schedule: str | dict | Schedule, total_steps: int | None = None, lr: float = 1.0,
             convention: str | Convention | None = None) -> Callable:
    """An optax schedule ``count -> learning rate`` (``lr`` times the multiplier)."""
    import jax.numpy as jnp

    s = parse(schedule)
    if total_steps is not None:
        total_steps = v.total_steps(total_steps, "total_steps")
    lr = v.number("to_optax", "lr", lr, lo=0.0, lo_open=True)
    fn = s._compile(total_steps, get_convention(convention))
    m = jax_backend()

    def optax_schedule(count):
        t = jnp.asarray(count, dtype=jnp.result_type(float))
        return lr * jnp.asarray(fn(t, m), dtype=t.dtype)

    optax_schedule.__doc__ = f"optax schedule for {s} over {total_steps} steps, peak LR {lr}"
    return optax_schedule
