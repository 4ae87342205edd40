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
from ..errors import SpecError
from ..schedules import Schedule
from ..schedules import validate as v
from ..schedules.conventions import Convention, get_convention
from ..schedules.plateau import Plateau
from ..spec import parse


def _nodes(s: Schedule):
    yield s
    for c in s.children():
        yield from _nodes(c)


def _scalar(value):
    """A 0-d numpy or JAX array as its Python number (``jnp.array(1000)`` for a total); others unchanged."""
    return value.item() if getattr(value, "shape", None) == () and hasattr(value, "item") else value


def to_optax(schedule: str | dict | Schedule, total_steps: int | None = None, lr: float = 1.0,
             convention: str | Convention | None = None) -> Callable:
    """An optax schedule ``count -> learning rate`` (``lr`` times the multiplier)."""
    import jax.numpy as jnp

    s = parse(schedule)
    if any(isinstance(n, Plateau) and not n.reductions for n in _nodes(s)):
        raise SpecError(f"to_optax: {s} has a plateau(...) phase with no recorded reductions: it lowers the LR when "
                        f"a metric fed during training stops improving, and an optax schedule sees only the step "
                        f"count, so it would never lower it (use optax.contrib.reduce_on_plateau for that)")
    if total_steps is not None:
        total_steps = v.total_steps(_scalar(total_steps), "total_steps")
    lr = v.number("to_optax", "lr", _scalar(lr), lo=0.0, lo_open=True)
    fn = s._compile(total_steps, get_convention(convention))
    m = jax_backend()

    def optax_schedule(count):
        t = jnp.asarray(count, dtype=jnp.result_type(float))
        return lr * jnp.asarray(fn(t, m), dtype=t.dtype)

    optax_schedule.__doc__ = f"optax schedule for {s} over {total_steps} steps, peak LR {lr}"
    return optax_schedule
