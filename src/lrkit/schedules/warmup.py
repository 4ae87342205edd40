"""Warmup: ramps in front of a schedule, and warmup factors that multiply one.

Two ways to warm up, both from the literature:

* ``warmup=W`` on any decaying family: a ramp over the first ``W`` steps up to the value the
  schedule starts its decay at (HF, optax, Goyal et al. 2017). Forms: ``linear``; ``cosine`` and
  ``1-sqrt`` (transformers' WSD warmup types); ``exponential`` (geometric growth from
  ``warmup_init``, which must be > 0); ``sigmoid`` (a logistic S-curve, TVLARS-like, Do et al. 2023).
  ``warmup="untuned"`` takes ``W = 2 / (1 - beta2)`` steps (Ma & Yarats 2021).
* ``warmup(period=..., form=...)``, a factor to multiply onto any schedule with ``product``, as
  pytorch-warmup's dampening does: ``linear`` ``min(1, (t+1)/period)``; ``exponential``
  ``1 - exp(-(t+1)/period)``; ``untuned``/``untuned_exponential`` with the period from ``beta2``
  (``2/(1-beta2)`` and ``1/(1-beta2)``); ``radam``: RAdam's rectification term ``r`` (Liu et al. 2020)
  as an LR factor, as pytorch-warmup's ``RAdamWarmup``: step ``t`` takes ``r`` at ``t + delta``, with
  ``delta`` the first step at which the variance is tractable, so no step is wasted at LR 0.
"""

from __future__ import annotations

import math

from ..errors import SpecError
from . import validate as v
from .base import Fn, Phase, Schedule, family
from .conventions import Convention

RAMP_FORMS = ("linear", "cosine", "1-sqrt", "exponential", "sigmoid")
SIGMOID_STEEPNESS = 10.0


def untuned_period(beta2: float, exponential: bool = False) -> int:
    """Ma & Yarats' rule of thumb: ``2/(1-beta2)`` steps for linear, ``1/(1-beta2)`` for exponential.

    Whole steps, rounded down, but not lost to float error: 2000 for ``beta2=0.999`` as the paper says
    (pytorch-warmup's ``int(2.0 / (1 - 0.999))`` is 1999, because ``2/(1-0.999)`` is 1999.99999...).
    """
    return int(math.floor((1.0 if exponential else 2.0) / (1.0 - beta2) + 1e-6))


def ramp(form: str, warmup: int, offset: int, start: float, target: float) -> Fn:
    """``fn(t, m)``: the ramp from ``start`` (before step 0) to ``target`` (at step ``warmup``)."""
    W = float(warmup)
    if form == "exponential":
        ratio = target / start

        def fn(t, m):
            return start * ratio ** m.minimum((t + offset) / W, 1.0)

        return fn

    lo = 1.0 / (1.0 + math.exp(SIGMOID_STEEPNESS / 2))
    span = 1.0 - 2.0 * lo

    def fn(t, m):
        x = m.minimum((t + offset) / W, 1.0)
        if form == "linear":
            s = x
        elif form == "cosine":
            s = 0.5 * (1.0 - m.cos(m.pi * x))
        elif form == "1-sqrt":
            s = 1.0 - m.sqrt(1.0 - x)
        else:  # sigmoid, rescaled to run exactly from 0 to 1
            s = (1.0 / (1.0 + m.exp(-SIGMOID_STEEPNESS * (x - 0.5))) - lo) / span
        return start + (target - start) * s

    return fn


def radam_offset(beta2: float) -> int:
    """The first step ``t >= 1`` at which RAdam's variance is tractable (``rho_t > 4``); 5 for beta2 >= 0.8."""
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    t = 1
    while rho_inf - 2.0 * t * beta2 ** t / (1.0 - beta2 ** t) <= 4.0:
        t += 1
    return t


def radam_rectification(t, m, beta2: float, offset: int):
    """RAdam's variance rectification ``r_t`` (Liu et al. 2020) at step ``t + offset``, 0 while rho_t <= 4."""
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    k = m.maximum(t + offset, 1.0)
    # 1 - beta2^k with expm1: rho_t cancels ~2k/(1-beta2) terms, so a 1-ulp error in beta2^k (numpy's and
    # libm's pow differ there) became a 1e-11 difference between the scalar and the vectorised value
    one_minus_b = -m.expm1(k * math.log(beta2))
    rho = rho_inf - 2.0 * k * (1.0 - one_minus_b) / one_minus_b
    ok = rho > 4.0
    safe = m.where(ok, rho, 5.0)
    r = m.sqrt((safe - 4.0) * (safe - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * safe))
    return m.where(ok, r, 0.0)


@family("warmup")
class Warmup(Schedule):
    """A warmup factor that reaches (or approaches) 1; multiply it onto a schedule with ``product``.

    Reproduces pytorch-warmup (Ma & Yarats 2021): ``product(warmup(period=100), cosine())``.
    """

    period: int | None = None
    form: str = "linear"
    beta2: float = 0.999

    FORMS = ("linear", "exponential", "untuned", "untuned_exponential", "radam")

    def _check(self) -> None:
        v.choice("warmup", "form", self.form, self.FORMS)
        self._set("beta2", v.number("warmup", "beta2", self.beta2, lo=0.0, hi=1.0, lo_open=True, hi_open=True))
        if self.form == "radam" and self.beta2 <= 0.6:
            raise SpecError(f"warmup: beta2={self.beta2} with form='radam' never makes RAdam's variance tractable "
                            f"(rho_inf <= 4); expected beta2 > 0.6")
        if self.form in ("linear", "exponential"):
            if self.period is None:
                raise SpecError(f"warmup: form={self.form!r} needs period= (steps); "
                                f"or use form='untuned' to take it from beta2")
            self._set("period", v.steps("warmup", "period", self.period, lo=1))
        elif self.period is not None:
            raise SpecError(f"warmup: period={v.shown(self.period)} is not used by form={self.form!r}, "
                            f"which takes its period from beta2; remove it")

    def _inert(self) -> frozenset[str]:
        return frozenset({"beta2"}) if self.form in ("linear", "exponential") else frozenset()

    def effective_period(self) -> int | None:
        if self.form in ("untuned", "untuned_exponential"):
            return untuned_period(self.beta2, self.form == "untuned_exponential")
        return self.period

    def _compile(self, total: int | None, conv: Convention) -> Fn:
        off = conv.warmup_offset
        if self.form == "radam":  # the same under every convention: delta already skips the void steps
            beta2, delta = self.beta2, radam_offset(self.beta2)
            return lambda t, m: radam_rectification(t, m, beta2, delta)
        tau = float(self.effective_period())
        if self.form in ("linear", "untuned"):
            return lambda t, m: m.minimum((t + off) / tau, 1.0)
        return lambda t, m: 1.0 - m.exp(-(t + off) / tau)

    def _phases(self, total, conv):
        p = self.effective_period()
        return [Phase(0, p, "warmup")] if p is not None else [Phase(0, None, "rectification")]
