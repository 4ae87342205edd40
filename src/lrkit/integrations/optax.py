"""lrkit schedules as optax schedules: pure ``jax.numpy`` functions of the step count, ``jax.jit``-able.

The same formula as the numpy evaluation runs on a ``jax.numpy`` back-end (:meth:`lrkit.Schedule.to_optax`),
so values agree with ``schedule.sample`` (to float32 precision unless ``jax_enable_x64`` is on)::

    import optax, lrkit
    sched = lrkit.parse("cosine(warmup=0.05, floor=0.1)").to_optax(total_steps=10_000, lr=3e-4)
    tx = optax.adamw(learning_rate=sched)
"""

from __future__ import annotations

from collections.abc import Callable

from ..schedules import Schedule
from ..schedules.conventions import Convention
from ..schedules.spec import parse


def to_optax(schedule: str | dict | Schedule, total_steps: int | None = None, lr: float = 1.0,
             convention: str | Convention | None = None) -> Callable:
    """An optax schedule ``count -> learning rate`` (``lr`` times the multiplier) for a schedule or spec."""
    return parse(schedule).to_optax(total_steps, lr, convention)
