"""Two math back-ends with the same names, so each formula is written once.

``SCALAR`` works on Python floats with the ``math`` module (a scalar call costs about a
microsecond); ``ARRAY`` works on numpy arrays. Schedule formulas take the back-end as ``m``.
"""

from __future__ import annotations

import math

import numpy as np


class _Scalar:
    scalar = True
    pi = math.pi
    cos = staticmethod(math.cos)
    sin = staticmethod(math.sin)
    sqrt = staticmethod(math.sqrt)
    exp = staticmethod(math.exp)
    log = staticmethod(math.log)
    floor = staticmethod(math.floor)
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
    log = staticmethod(np.log)
    floor = staticmethod(np.floor)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    clip = staticmethod(np.clip)
    where = staticmethod(np.where)


SCALAR = _Scalar()
ARRAY = _Array()
