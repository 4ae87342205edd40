"""The classic decays: constant, linear, cosine, polynomial, exponential, step, multistep, inverse-sqrt.

Each returns a multiplier of the base LR (peak 1.0) as a function of ``u``, the steps since the
decay began, over a decay span ``D``. Warmup in front comes from :class:`Decaying`.
"""

from __future__ import annotations

import bisect

import numpy as np

from ..errors import SpecError
from . import validate as v
from .base import Finding, Fn, family
from .decaying import Decaying, progress, run_steps_before


@family("constant")
class Constant(Decaying):
    """A constant multiplier ``value`` (1.0: the base LR), after an optional warmup."""

    value: float = 1.0
    decays_over_total = False

    def _check(self) -> None:
        self._set("value", v.number("constant", "value", self.value, lo=0.0))

    def _core(self, D, W, total, conv) -> Fn:
        value = self.value
        return lambda u, m: value + 0.0 * u


@family("linear")
class Linear(Decaying):
    """Linear decay from 1 to ``end`` (Defazio et al. 2023: the worst-case-optimal default)."""

    end: float = 0.0
    floor_field = "end"  # linear's end is its floor

    def _check(self) -> None:
        self._set("end", v.number("linear", "end", self.end, lo=0.0))

    def _core(self, D, W, total, conv) -> Fn:
        end, D = self.end, float(D)
        return lambda u, m: end + (1.0 - end) * (D - m.clip(u, 0.0, D)) / D


@family("cosine")
class Cosine(Decaying):
    """Half-cosine decay from 1 to ``floor`` (Loshchilov & Hutter 2017).

    ``exponent`` raises the cosine factor to a power, as optax's ``cosine_decay_schedule`` does.
    """

    floor: float = 0.0
    exponent: float = 1.0

    def _check(self) -> None:
        self._set("floor", v.number("cosine", "floor", self.floor, lo=0.0))
        self._set("exponent", v.number("cosine", "exponent", self.exponent, lo=0.0, lo_open=True))

    def _core(self, D, W, total, conv) -> Fn:
        floor, D, e = self.floor, float(D), self.exponent
        if e == 1.0:
            return lambda u, m: floor + (1.0 - floor) * 0.5 * (1.0 + m.cos(m.pi * progress(u, D, m, conv, True)))
        return lambda u, m: floor + (1.0 - floor) * (0.5 * (1.0 + m.cos(m.pi * progress(u, D, m, conv, True)))) ** e


@family("polynomial")
class Polynomial(Decaying):
    """Polynomial decay ``floor + (1 - floor) * (1 - p)^power`` (torch PolynomialLR, HF polynomial)."""

    power: float = 1.0
    floor: float = 0.0

    def _check(self) -> None:
        self._set("power", v.number("polynomial", "power", self.power, lo=0.0, lo_open=True))
        self._set("floor", v.number("polynomial", "floor", self.floor, lo=0.0))

    def _core(self, D, W, total, conv) -> Fn:
        power, floor, D = self.power, self.floor, float(D)
        return lambda u, m: floor + (1.0 - floor) * (1.0 - progress(u, D, m, conv)) ** power


@family("exponential")
class Exponential(Decaying):
    """Exponential decay ``gamma^u`` per step (torch ExponentialLR), never below ``floor``."""

    gamma: float = 0.999
    floor: float = 0.0
    decays_over_total = False

    def _check(self) -> None:
        self._set("gamma", v.number("exponential", "gamma", self.gamma, lo=0.0, lo_open=True))
        self._set("floor", v.number("exponential", "floor", self.floor, lo=0.0))

    def _core(self, D, W, total, conv) -> Fn:
        gamma, floor = self.gamma, self.floor
        if floor == 0.0:
            return lambda u, m: m.power(gamma, u)
        return lambda u, m: m.maximum(m.power(gamma, u), floor)

    def _lint(self, total, conv):
        out = super()._lint(total, conv)
        if self.gamma > 1.0:
            out.append(Finding("rising", f"exponential: gamma={self.gamma} > 1 makes the LR grow without bound"))
        return out


@family("step")
class Step(Decaying):
    """Multiply by ``gamma`` every ``every`` steps, counted from step 0 of the run (torch StepLR).

    With the warmup placed before the schedule (timm's ``warmup_prefix``), counted from the warmup's end.
    """

    every: int | float = 0.3
    gamma: float = 0.1
    decays_over_total = False

    def _check(self) -> None:
        self._set("every", v.duration("step", "every", self.every, positive=True))
        self._set("gamma", v.number("step", "gamma", self.gamma, lo=0.0, lo_open=True))

    def needs_total(self) -> bool:
        return super().needs_total() or (self.steps is None and isinstance(self.every, float))

    def _core(self, D, W, total, conv) -> Fn:
        every = float(v.resolve("step", "every", self.every, total))
        if every < 1:
            raise SpecError(f"step: every={self.every!r} is less than one step for a total of {total}")
        gamma, W = self.gamma, run_steps_before(W, conv)
        return lambda u, m: m.power(gamma, m.floor((u + W) / every))

    def _lint(self, total, conv):
        out = super()._lint(total, conv)
        if self.gamma > 1.0:
            out.append(Finding("rising", f"step: gamma={self.gamma} > 1 multiplies the LR up every {self.every} "
                                         f"steps, without bound"))
        return out


@family("multistep")
class MultiStep(Decaying):
    """Multiply by ``gamma`` at each milestone, positions in the run (torch MultiStepLR; Goyal et al.)."""

    milestones: tuple = (0.5, 0.75)
    gamma: float = 0.1
    decays_over_total = False
    positional = ()

    def _check(self) -> None:
        ms = v.as_list(self.milestones)
        if not isinstance(ms, (list, tuple)) or not ms:
            raise SpecError(f"multistep: milestones={v.shown(ms)} is not a non-empty list of steps or fractions")
        ms = tuple(v.duration("multistep", f"milestones[{i}]", x) for i, x in enumerate(ms))
        kinds = {type(x) for x in ms}
        if len(kinds) == 1 and any(b <= a for a, b in zip(ms, ms[1:])):
            raise SpecError(f"multistep: milestones={list(ms)!r} are not strictly increasing; sort them")
        self._set("milestones", ms)
        self._set("gamma", v.number("multistep", "gamma", self.gamma, lo=0.0, lo_open=True))

    def needs_total(self) -> bool:
        return super().needs_total() or (self.steps is None and any(isinstance(x, float) for x in self.milestones))

    def resolved(self, total):
        ms = [v.resolve("multistep", "milestones", x, self._own_total(total)) for x in self.milestones]
        if any(b <= a for a, b in zip(ms, ms[1:])):
            raise SpecError(f"multistep: milestones={list(self.milestones)!r} resolve to {ms} steps for a total of "
                            f"{total}, which are not strictly increasing")
        return ms

    def _core(self, D, W, total, conv) -> Fn:
        ms = self.resolved(total)
        gamma, W = self.gamma, run_steps_before(W, conv)
        ms_arr = np.asarray(ms, dtype=float)

        def fn(u, m):
            if m.scalar:
                return gamma ** bisect.bisect_right(ms, u + W)
            return gamma ** m.searchsorted(ms_arr, u + W)

        return fn

    def _lint(self, total, conv):
        out = super()._lint(total, conv)
        late = [x for x in self.resolved(total) if x >= total]
        if late:
            out.append(Finding("milestone-beyond-run", f"multistep: milestones {late} are at or beyond the end of "
                                                       f"the run ({total} steps) and never take effect"))
        if self.gamma > 1.0:
            out.append(Finding("rising", f"multistep: gamma={self.gamma} > 1 raises the LR at each milestone"))
        return out


@family("inverse_sqrt")
class InverseSqrt(Decaying):
    """``sqrt(timescale / (u + timescale))`` after warmup (Vaswani et al. 2017; HF, big_vision).

    The default timescale is the warmup length (Vaswani's ``min(t^-0.5, t W^-1.5)`` normalised to
    peak 1), or 10 000 steps without warmup (transformers' default).
    """

    timescale: int | None = None
    decays_over_total = False

    def _check(self) -> None:
        if self.timescale is not None:
            self._set("timescale", v.steps("inverse_sqrt", "timescale", self.timescale, lo=1))

    def _core(self, D, W, total, conv) -> Fn:
        tau = float(self.timescale or W or 10_000)
        return lambda u, m: 1.0 / m.sqrt((u + tau) / tau)
