"""Shapes from timm and transformers that the classic families cannot draw: timm's tanh and k-decay
schedules with their cycles, and transformers' cosine with any number of waves or hard restarts.

Each is a decaying family (warmup in front, the convention decides the edges):

* ``tanh(lb=-7, ub=3)``: hyperbolic-tangent decay (Hsueh et al. 2019, arXiv:1806.01593), timm's
  ``TanhLRScheduler`` (``timm/scheduler/tanh_lr.py``, ``TanhLRScheduler._get_lr``).
* ``kdecay(form="cosine", k=2)``: k-decay (Zhang & Li 2020, arXiv:2004.05909) of a cosine or
  polynomial decay, timm's ``CosineLRScheduler`` / ``PolyLRScheduler`` with ``k_decay``
  (``timm/scheduler/cosine_lr.py``, ``poly_lr.py``, ``_get_lr``); ``k=1`` is timm's plain cosine / poly.
* ``cosine_waves(waves=1.5)``: transformers' cosine with ``num_cycles`` other than 0.5
  (``get_cosine_schedule_with_warmup``, ``get_cosine_with_min_lr_schedule_with_warmup``).
* ``cosine_restarts(cycles=3)``: transformers' ``get_cosine_with_hard_restarts_schedule_with_warmup``:
  ``cycles`` equal cycles over the decay, each a fraction of it, so not whole steps in general.

timm's cycle options, on ``tanh`` and ``kdecay``: the first cycle spans the decay (timm's ``t_initial``:
the total under ``--convention timm``), each next one ``cycle_mul`` times longer, its peak ``cycle_decay``
times lower; after ``cycle_limit`` cycles the LR stays at ``floor`` (timm's ``lr_min``, as a multiplier).
"""

from __future__ import annotations

import math

import numpy as np

from .._math import ARRAY, SCALAR
from ..errors import SpecError
from . import validate as v
from .base import Fn, Phase, family
from .decaying import Decaying, progress
from .warmup import ramp

#: Past this argument ``exp(2z)`` overflows; ``1 - tanh(z)`` is then ``2 exp(-2z)`` to the last bit.
_EXP_LIMIT = 700.0


def _one_minus_tanh(z, m):
    """``1 - tanh(z)`` as ``2 / (exp(2z) + 1)``: the same on both back-ends and exact where ``tanh(z)``
    rounds to 1."""
    big = 2.0 * z > _EXP_LIMIT
    small = 2.0 / (m.exp(m.minimum(2.0 * z, _EXP_LIMIT)) + 1.0)
    return m.where(big, 2.0 * m.exp(-m.maximum(2.0 * z, _EXP_LIMIT)), small)


def _cycle_of(u, t0: float, mul: float, m):
    """timm's cycle arithmetic: ``(i, t_curr, t_i)`` for ``u`` steps into the schedule.

    With ``mul != 1`` timm takes ``i = floor(log_mul(1 - u/t0 (1 - mul)))``; numpy's log and Python's
    can differ by an ulp, which moves ``floor`` at an exact cycle boundary, so values near an integer
    are recomputed with :func:`math.log` (as timm does). Past the end of infinitely many shrinking
    cycles (``mul < 1``) ``i`` is infinite, and the caller returns the floor.
    """
    if mul == 1.0:
        i = m.floor(u / t0)
        return i, u - t0 * i, t0
    x = 1.0 - u / t0 * (1.0 - mul)
    if m.scalar:
        if x <= 0.0:
            return math.inf, 0.0, t0
        i = float(math.floor(math.log(x, mul)))
    else:
        safe = m.maximum(x, 1e-300)
        r = m.log(safe) / math.log(mul)
        i = m.floor(r)
        if m is ARRAY:
            near = np.abs(r - np.round(r)) < 1e-6
            if near.any():
                i = np.array(i, dtype=float)
                i[near] = [math.floor(math.log(float(a), mul)) if a > 0.0 else 0.0 for a in np.ravel(safe[near])]
        i = m.where(x <= 0.0, math.inf, i)
    finite = m.minimum(i, 1e6)  # (mul ** inf would overflow; those steps take the floor anyway)
    t_i = mul ** finite * t0
    t_curr = u - (1.0 - mul ** finite) / (1.0 - mul) * t0
    return i, t_curr, t_i


class _TimmCycles(Decaying):
    """timm's cycle options, shared by ``tanh`` and ``kdecay`` (not a family itself)."""

    def _check_cycles(self) -> None:
        name = self.family
        self._set("floor", v.number(name, "floor", self.floor, lo=0.0))
        self._set("cycle_mul", v.number(name, "cycle_mul", self.cycle_mul, lo=0.0, lo_open=True))
        self._set("cycle_decay", v.number(name, "cycle_decay", self.cycle_decay, lo=0.0, lo_open=True))
        self._set("cycle_limit", v.integer(name, "cycle_limit", self.cycle_limit, lo=1))

    def _shape(self, D: float):
        """``g(x, m)`` for ``x = t_curr / t_i`` in [0, 1]: the shape within one cycle, 1 at ``x = 0``."""
        raise NotImplementedError

    def _core(self, D, W, total, conv) -> Fn:
        t0, mul, decay, limit, floor = float(D), self.cycle_mul, self.cycle_decay, self.cycle_limit, self.floor
        shape = self._shape(t0)

        def fn(u, m):
            i, t_curr, t_i = _cycle_of(u, t0, mul, m)
            live = i < limit
            gamma = decay ** m.minimum(i, float(limit))
            x = m.clip(t_curr / t_i, 0.0, 1.0)
            return m.where(live, floor + (gamma - floor) * shape(x, m), floor)

        return fn

    def _decay_phases(self, start, end, total):
        if self.cycle_limit == 1 or end is None:
            return [Phase(start, end, self.family)]
        return [Phase(start, end, f"{self.family} ({self.cycle_limit} cycles)")]


@family("tanh")
class Tanh(_TimmCycles):
    """Hyperbolic-tangent decay (Hsueh et al. 2019) as timm's ``TanhLRScheduler``:
    ``floor + (peak - floor) (1 - tanh(lb (1 - x) + ub x)) / 2`` over each cycle, ``x`` its progress.

    Without ``warmup_prefix`` (``--convention timm``) timm's warmup climbs to the value at its end, not to
    the peak, and so does lrkit's there; with the warmup placed before (``timm-prefix``) it climbs to the
    base LR (1.0), as timm's does, not to the tanh's first value ``(1 - tanh(lb)) / 2`` (1 - 8e-7 for
    lb=-7).
    """

    lb: float = -7.0
    ub: float = 3.0
    floor: float = 0.0
    cycle_mul: float = 1.0
    cycle_decay: float = 1.0
    cycle_limit: int = 1

    def _check(self) -> None:
        self._set("lb", v.number("tanh", "lb", self.lb))
        self._set("ub", v.number("tanh", "ub", self.ub))
        if not self.lb < self.ub:
            raise SpecError(f"tanh: lb={self.lb} is not below ub={self.ub}; the tanh runs from lb to ub "
                            f"(timm's defaults: lb=-7.0, ub=3.0)")
        self._check_cycles()

    def _shape(self, D):
        lb, ub = self.lb, self.ub
        return lambda x, m: 0.5 * _one_minus_tanh(lb * (1.0 - x) + ub * x, m)

    def _compile(self, total, conv) -> Fn:
        fn = super()._compile(total, conv)
        W, D, T = self._span(total, conv)
        if W == 0 or conv.placement == "inside":
            return fn
        core = self._core(D, W, T, conv)
        target = 1.0 if conv.placement == "before" else float(core(float(W), SCALAR))
        up = ramp(self.warmup_form, W, conv.warmup_offset, self._ramp_start(), target)
        Wf = float(W)
        return lambda t, m: m.where(t < Wf, up(t, m), fn(t, m))


@family("kdecay")
class KDecay(_TimmCycles):
    """k-decay (Zhang & Li 2020) as timm's ``k_decay``: progress ``t^k / T^k`` in a cosine
    (``form="cosine"``, timm's ``CosineLRScheduler``) or a polynomial ``(1 - t^k/T^k)^power``
    (``form="polynomial"``, timm's ``PolyLRScheduler``; timm's default power is 0.5, lrkit's 1.0).
    ``k > 1`` holds the LR high for longer; ``k=1`` is the plain decay, with timm's cycles.
    """

    form: str = "cosine"
    k: float = 1.0
    power: float = 1.0
    floor: float = 0.0
    cycle_mul: float = 1.0
    cycle_decay: float = 1.0
    cycle_limit: int = 1

    def _check(self) -> None:
        v.choice("kdecay", "form", self.form, ("cosine", "polynomial"))
        self._set("k", v.number("kdecay", "k", self.k, lo=0.0, lo_open=True))
        self._set("power", v.number("kdecay", "power", self.power, lo=0.0, lo_open=True))
        if self.form == "cosine" and self.power != 1.0:
            raise SpecError(f"kdecay: power={self.power} applies only to form='polynomial'; got form='cosine'")
        self._check_cycles()

    def _shape(self, D):
        k, power = self.k, self.power
        if self.form == "cosine":
            return lambda x, m: 0.5 * (1.0 + m.cos(m.pi * x ** k))
        return lambda x, m: (1.0 - x ** k) ** power


@family("cosine_waves")
class CosineWaves(Decaying):
    """A cosine with any number of ``waves`` over the decay: ``floor + (1 - floor) (1 + cos(2 pi waves p)) / 2``.

    ``waves=0.5`` is the half cosine (``cosine``); transformers' ``num_cycles`` in
    ``get_cosine_schedule_with_warmup`` and, with ``floor`` (``min_lr_rate``),
    ``get_cosine_with_min_lr_schedule_with_warmup``. Periodic: under ``after_end="continue"`` (hf, torch) it
    keeps waving after the end, as transformers' does.
    """

    waves: float = 0.5
    floor: float = 0.0

    def _check(self) -> None:
        self._set("waves", v.number("cosine_waves", "waves", self.waves, lo=0.0, lo_open=True))
        self._set("floor", v.number("cosine_waves", "floor", self.floor, lo=0.0))

    def _core(self, D, W, total, conv) -> Fn:
        floor, D, c = self.floor, float(D), self.waves

        def fn(u, m):
            p = progress(u, D, m, conv, True)
            return floor + (1.0 - floor) * 0.5 * (1.0 + m.cos(m.pi * c * 2.0 * p))

        return fn


@family("cosine_restarts")
class CosineRestarts(Decaying):
    """``cycles`` half cosines from 1 to ``floor``, restarting at the peak, over the decay; then ``floor``.

    transformers' ``get_cosine_with_hard_restarts_schedule_with_warmup`` (``num_cycles``): each cycle is
    ``1/cycles`` of the decay, so its length need not be a whole number of steps (``sgdr`` restarts on
    whole steps).
    """

    cycles: float = 1.0
    floor: float = 0.0

    def _check(self) -> None:
        self._set("cycles", v.number("cosine_restarts", "cycles", self.cycles, lo=0.0, lo_open=True))
        self._set("floor", v.number("cosine_restarts", "floor", self.floor, lo=0.0))

    def _core(self, D, W, total, conv) -> Fn:
        floor, Df, c = self.floor, float(D), float(self.cycles)

        def fn(u, m):
            p = m.clip(u / Df, 0.0, 1.0)
            x = (c * p) % 1.0 if m.scalar else m.mod(c * p, 1.0)
            return m.where(p >= 1.0, floor, floor + (1.0 - floor) * 0.5 * (1.0 + m.cos(m.pi * x)))

        return fn

    def _decay_phases(self, start, end, total):
        return [Phase(start, end, f"cosine_restarts ({self.cycles:g} cycles)")]
