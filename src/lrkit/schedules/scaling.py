"""Rules that scale a peak LR with the batch size."""

from __future__ import annotations

import math

from . import validate as v


def linear_scaling(lr: float, batch_size: float, base_batch_size: float = 256) -> float:
    """The linear scaling rule (Goyal et al. 2017): ``lr * batch_size / base_batch_size``.

    ``linear_scaling(0.1, 8192)`` is 3.2, ResNet-50's peak LR at batch 8192.
    """
    return _scaled("linear_scaling", lr, batch_size, base_batch_size, 1.0)


def sqrt_scaling(lr: float, batch_size: float, base_batch_size: float = 256) -> float:
    """The square-root scaling rule (Krizhevsky 2014; Hoffer et al. 2017): ``lr * sqrt(batch_size / base)``."""
    return _scaled("sqrt_scaling", lr, batch_size, base_batch_size, 0.5)


def _scaled(owner: str, lr: float, batch_size: float, base: float, power: float) -> float:
    lr = v.number(owner, "lr", lr, lo=0.0, lo_open=True)
    batch_size = v.number(owner, "batch_size", batch_size, lo=0.0, lo_open=True)
    base = v.number(owner, "base_batch_size", base, lo=0.0, lo_open=True)
    return lr * math.pow(batch_size / base, power)
