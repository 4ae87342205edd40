"""Two math back-ends with the same names, so each formula is written once.

``SCALAR`` works on Python floats with the ``math`` module (a scalar call costs about a
microsecond); ``ARRAY`` works on numpy arrays. Schedule formulas take the back-end as ``m``.
"""

from __future__ import annotations

import math
import sys

import numpy as np

#: Powers below the smallest normal float are flushed to 0: ``pow`` takes a slow path (~200 ns instead
#: of ~5 ns) for results that underflow, overflow or come close to doing so, which made a 10M-step
#: ``gamma ** t`` take 1-2 s; and Python's ``float ** float`` raises ``OverflowError``.
_MIN_NORMAL = sys.float_info.min
_LOG_MIN = math.log(_MIN_NORMAL)
_LOG_MAX = math.log(sys.float_info.max)


def _scalar_power(base: float, x: float) -> float:
    """``base ** x`` for ``base > 0``; ``inf`` on overflow, 0 below the smallest normal float."""
    try:
        r = base ** x
    except OverflowError:
        return math.inf
    return 0.0 if r < _MIN_NORMAL else r


def _array_power(base: float, x):
    """``base ** x`` elementwise for a scalar ``base > 0``, equal to :func:`_scalar_power` element by element,
    without libm's slow path: exponents well past the underflow/overflow point give 0/inf directly."""
    x = np.asarray(x, dtype=float)
    if base == 1.0 or not 0.0 < base < math.inf:
        return np.power(base, x)
    log_base = math.log(base)
    limit = (_LOG_MIN if base < 1.0 else _LOG_MAX) / log_base  # > 0: where the result leaves the range
    # the slow path starts within about e^1.3 of the limit; exponents within e^2 of it are computed exactly
    lo, hi = limit - 2.0 / abs(log_base), limit * (1.0 + 1e-9)
    out = np.asarray(np.power(base, np.minimum(x, lo)))
    beyond = x > lo
    if beyond.any():
        out[beyond] = 0.0 if base < 1.0 else math.inf
        edge = beyond & (x <= hi)
        if edge.any():
            out[edge] = np.power(base, x[edge])
    if base < 1.0:
        out[out < _MIN_NORMAL] = 0.0
    return out


class _Scalar:
    scalar = True
    pi = math.pi
    cos = staticmethod(math.cos)
    sin = staticmethod(math.sin)
    sqrt = staticmethod(math.sqrt)
    exp = staticmethod(math.exp)
    expm1 = staticmethod(math.expm1)
    log = staticmethod(math.log)
    floor = staticmethod(math.floor)
    power = staticmethod(_scalar_power)
    minimum = staticmethod(min)
    maximum = staticmethod(max)

    @staticmethod
    def clip(x, lo, hi):
        return lo if x < lo else (hi if x > hi else x)

    @staticmethod
    def where(cond, a, b):
        return a if cond else b


class _Array:
    scalar = False
    pi = math.pi
    cos = staticmethod(np.cos)
    sin = staticmethod(np.sin)
    sqrt = staticmethod(np.sqrt)
    exp = staticmethod(np.exp)
    expm1 = staticmethod(np.expm1)
    log = staticmethod(np.log)
    floor = staticmethod(np.floor)
    power = staticmethod(_array_power)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    clip = staticmethod(np.clip)
    where = staticmethod(np.where)


SCALAR = _Scalar()
ARRAY = _Array()


# Lookups shared by the array back-ends (numpy here, jax.numpy in :func:`jax_backend`).
_Array.searchsorted = staticmethod(lambda a, v: np.searchsorted(a, v, side="right"))
_Array.mod = staticmethod(np.mod)
_Array.asarray = staticmethod(np.asarray)


def jax_backend():
    """A back-end on ``jax.numpy``, so every schedule formula traces under ``jax.jit`` (for optax)."""
    import jax.numpy as jnp

    class _Jax:
        scalar = False
        pi = math.pi
        searchsorted = staticmethod(lambda a, v: jnp.searchsorted(jnp.asarray(a), v, side="right"))

    for name in ("cos", "sin", "sqrt", "exp", "expm1", "log", "floor", "minimum", "maximum", "clip", "where",
                 "mod", "asarray", "power"):
        setattr(_Jax, name, staticmethod(getattr(jnp, name)))
    return _Jax()
