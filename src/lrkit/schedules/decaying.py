"""The common frame of every decaying family: optional warmup, then a decay over ``steps``.

A family supplies ``_core(D, W, total, conv)``, the decay as a function of ``u`` (steps since the
decay began, ``u >= 0``) over a decay span of ``D`` steps. This class puts the warmup ramp in front
according to the convention (inside the total, before it, or replacing the first values).
"""

from __future__ import annotations

import dataclasses

from .._math import SCALAR
from ..errors import SpecError
from . import validate as v
from .base import Finding, Fn, Phase, Schedule
from .conventions import Convention
from .warmup import RAMP_FORMS, ramp, untuned_period


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Decaying(Schedule):
    warmup: int | float | str = 0
    warmup_form: str = "linear"
    warmup_init: float = 0.0
    beta2: float = 0.999
    steps: int | None = None

    #: The family needs a total to define its decay (False for step, exponential, inverse_sqrt ...).
    decays_over_total = True  # a class attribute, not a parameter
    #: The parameter that is the decay's floor (``end`` for linear), linted when above the peak.
    floor_field = "floor"

    def __post_init__(self) -> None:
        name = self.family
        if self.warmup == "untuned":
            pass
        elif isinstance(self.warmup, str) and not v.is_timestring(self.warmup):
            raise SpecError(f"{name}: warmup={self.warmup!r} is not a duration; expected steps (an integer), "
                            f"a fraction in [0, 1], {v.TIME_STRINGS}, or 'untuned' (2/(1-beta2) steps, Ma & Yarats)")
        else:
            self._set("warmup", v.duration(name, "warmup", self.warmup))
        v.choice(name, "warmup_form", self.warmup_form, RAMP_FORMS)
        init = v.number(name, "warmup_init", self.warmup_init, lo=0.0)
        if self.warmup_form == "exponential" and init == 0.0 and type(self)._ramp_start is Decaying._ramp_start:
            # (a family that starts its ramp elsewhere, rewarm's from_lr, checks that start itself)
            raise SpecError(f"{name}: warmup_form='exponential' grows geometrically and needs warmup_init > 0 "
                            f"(e.g. warmup_init=0.01); got warmup_init=0")
        self._set("beta2", v.number(name, "beta2", self.beta2, lo=0.0, hi=1.0, lo_open=True, hi_open=True))
        if self.steps is not None:
            self._set("steps", v.steps(name, "steps", self.steps, lo=1))
        super().__post_init__()

    def _inert(self) -> frozenset[str]:
        if self.warmup == 0:
            return frozenset({"warmup_form", "warmup_init", "beta2"})
        return frozenset() if self.warmup == "untuned" else frozenset({"beta2"})

    # ----- durations -----------------------------------------------------------------------------
    def warmup_steps(self, total: int | None) -> int:
        if self.warmup == "untuned":
            return untuned_period(self.beta2)
        return v.resolve(self.family, "warmup", self.warmup, self._own_total(total))

    def needs_total(self) -> bool:
        return self.steps is None and (self.decays_over_total or isinstance(self.warmup, float))

    def _span(self, total: int | None, conv: Convention) -> tuple[int, int | None, int | None]:
        """``(W, D, T)``: warmup steps, decay span, and the family's total (None when not needed)."""
        T = self._require_total(total) if self.needs_total() else self._own_total(total)
        W = self.warmup_steps(total)
        if T is None:
            return W, None, None
        if conv.placement == "inside":
            D = T - W
        elif conv.placement == "before":
            D = T
        else:  # replace: the schedule runs from step 0, warmup overwrites its start
            D = T
        if conv.end == "T-1":
            D -= 1
        return W, max(D, 1), T

    # ----- the formula ------------------------------------------------------------------------------
    def _core(self, D: int | None, W: int, total: int | None, conv: Convention) -> Fn:
        raise NotImplementedError

    def _compile(self, total: int | None, conv: Convention) -> Fn:
        W, D, T = self._span(total, conv)
        core = self._core(D, W, T, conv)
        if W == 0:
            return core
        peak = float(core(0.0, SCALAR))
        start = self.ramp_start(conv)
        up = ramp(self.warmup_form, W, conv.warmup_offset, start, peak)
        shift = 0.0 if conv.placement == "replace" else float(W)
        Wf = float(W)

        def fn(t, m):
            if m.scalar:
                return up(t, m) if t < Wf else core(t - shift, m)
            return m.where(t < Wf, up(t, m), core(m.maximum(t - shift, 0.0), m))

        return fn

    def _ramp_start(self) -> float:
        return self.warmup_init

    def ramp_start(self, convention: str | Convention | None = None) -> float:
        """The multiplier the warmup ramp starts from under ``convention`` (before its first step):
        ``warmup_init``, except where a library's quirks start it elsewhere (transformers' WSD: its floor)."""
        return self._ramp_start()

    def _decay_phases(self, start: int, end: int | None, total: int | None) -> list[Phase]:
        return [Phase(start, end, self.family)]

    def _phases(self, total: int | None, conv: Convention) -> list[Phase]:
        W, D, T = self._span(total, conv)
        end = None if T is None else max(T + W if conv.placement == "before" else T, W)  # W > T: an empty decay
        out = [Phase(0, W, "warmup")] if W else []
        return out + self._decay_phases(W, end, T)

    def _lint(self, total: int, conv: Convention) -> list[Finding]:
        out = []
        W = self.warmup_steps(total)
        T = self._own_total(total)
        if self.steps is not None and self.steps > total:
            out.append(Finding("phase-beyond-run", f"{self.family}: steps={self.steps} is longer than the run "
                                                   f"({total} steps); its end is never reached"))
        if T is not None and W >= T and conv.placement != "before":
            out.append(Finding("warmup-too-long", f"{self.family}: warmup of {W} steps is not shorter than "
                                                  f"the {T} steps it is part of; the decay never starts"))
        out.extend(floor_above_peak(self, self.floor_field))
        if isinstance(self.warmup_init, float) and self.warmup_init > 1.0 and self.warmup:
            out.append(Finding("warmup-above-peak", f"{self.family}: warmup_init={self.warmup_init} is above the "
                                                    f"peak (1.0), so the 'warmup' lowers the LR"))
        return out


def floor_above_peak(s: Schedule, name: str) -> list[Finding]:
    """The lint finding for a floor parameter ``name`` above the peak (1.0), if it is."""
    floor = getattr(s, name, None)
    if isinstance(floor, float) and floor > 1.0:
        return [Finding("floor-above-peak", f"{s.family}: {name}={floor} is above the peak (1.0), so the 'decay' "
                                            f"raises the LR")]
    return []


def run_steps_before(W: int, conv: Convention) -> float:
    """Steps of the run before ``u = 0`` that count on the clock of a family positioned in the run
    (step, multistep, piecewise): ``W`` when the warmup is inside the total (the decay starts at step
    ``W``); 0 when the warmup is placed before the schedule (its clock starts after the warmup) or
    replaces its first values (``u`` already counts from step 0)."""
    return float(W) if conv.placement == "inside" else 0.0


def progress(u, D: float, m, conv: Convention, periodic: bool = False):
    """``u / D`` clipped to [0, 1]; a periodic formula may continue past 1 under ``after_end='continue'``."""
    if periodic and conv.after_end == "continue":
        return m.maximum(u / D, 0.0)
    return m.clip(u / D, 0.0, 1.0)
