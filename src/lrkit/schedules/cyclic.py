"""Schedules that go up and down: one-cycle, cyclic (triangular, triangular2, exp_range), SGDR restarts."""

from __future__ import annotations

import bisect
import math

import numpy as np

from ..errors import SpecError
from . import validate as v
from .base import Finding, Fn, Phase, Schedule, family
from .conventions import Convention
from .decaying import Decaying


@family("onecycle")
class OneCycle(Schedule):
    """The 1cycle policy (Smith & Topin 2019) as torch's OneCycleLR defines it.

    Up from ``1/div_factor`` to the peak 1 over ``pct_start`` of the run, then down to
    ``1/(div_factor*final_div_factor)``; ``three_phase`` comes back to the start before the final
    anneal, at ``pct_final`` of the run (default ``2*pct_start``, torch's; optax's
    ``linear_onecycle_schedule`` takes any ``pct_final``). ``anneal`` is ``cos`` or ``linear``. Under
    the ``torch`` convention the phases end at
    ``pct_start*T - 1`` and ``T - 1`` exactly as torch counts them; elsewhere at ``int(pct_start*T)``
    and ``T`` (optax's ``*_onecycle_schedule``).
    """

    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    anneal: str = "cos"
    three_phase: bool = False
    pct_final: float | None = None
    steps: int | None = None

    def _check(self) -> None:
        self._set("pct_start", v.number("onecycle", "pct_start", self.pct_start, lo=0.0, hi=1.0, lo_open=True,
                                        hi_open=True))
        self._set("div_factor", v.number("onecycle", "div_factor", self.div_factor, lo=0.0, lo_open=True))
        self._set("final_div_factor", v.number("onecycle", "final_div_factor", self.final_div_factor, lo=0.0,
                                               lo_open=True))
        v.choice("onecycle", "anneal", self.anneal, ("cos", "linear"))
        if not isinstance(self.three_phase, bool):
            raise SpecError(f"onecycle: three_phase={v.shown(self.three_phase)} is not True or False")
        if self.pct_final is not None:
            if not self.three_phase:
                raise SpecError("onecycle: pct_final sets where the second of three phases ends; "
                                "it needs three_phase=True")
            self._set("pct_final", v.number("onecycle", "pct_final", self.pct_final, lo=self.pct_start, hi=1.0,
                                            lo_open=True, hi_open=True))
        elif self.three_phase and self.pct_start >= 0.5:
            raise SpecError(f"onecycle: pct_start={self.pct_start} with three_phase=True leaves no final phase; "
                            f"expected pct_start < 0.5 (or give pct_final)")
        if self.steps is not None:
            self._set("steps", v.steps("onecycle", "steps", self.steps, lo=2))

    def needs_total(self) -> bool:
        return self.steps is None

    def layout(self, total: int | None, conv: Convention) -> list[tuple[float, float, float]]:
        """``[(end_step, start_value, end_value), ...]`` per phase."""
        T = self._require_total(total)
        lo = 1.0 / self.div_factor
        final = lo / self.final_div_factor
        if conv.name == "torch":
            ends = [float(self.pct_start * T) - 1, float(T - 1)]
            if self.three_phase:
                second = 2 * self.pct_start * T - 2 if self.pct_final is None else self.pct_final * T - 1
                ends = [float(self.pct_start * T) - 1, float(second), float(T - 1)]
        else:
            ends = [float(int(self.pct_start * T)), float(T)]
            if self.three_phase:
                pct_final = 2 * self.pct_start if self.pct_final is None else self.pct_final
                ends = [float(int(self.pct_start * T)), float(int(pct_final * T)), float(T)]
        values = [lo, 1.0, lo, final] if self.three_phase else [lo, 1.0, final]
        return [(ends[i], values[i], values[i + 1]) for i in range(len(ends))]

    def _compile(self, total: int | None, conv: Convention) -> Fn:
        layout = self.layout(total, conv)
        starts = [0.0] + [e for e, _, _ in layout[:-1]]
        clamp = conv.name != "torch"
        cos = self.anneal == "cos"

        def piece(i, t, m):
            end, a, b = layout[i]
            pct = (t - starts[i]) / max(end - starts[i], 1e-12)
            if clamp or not cos:  # torch's linear anneal would go negative past the end (torch raises there)
                pct = m.clip(pct, 0.0, 1.0)
            if cos:
                return b + (a - b) / 2.0 * (m.cos(m.pi * pct) + 1.0)
            return (b - a) * pct + a

        ends = [e for e, _, _ in layout]

        def fn(t, m):
            if m.scalar:
                for i, e in enumerate(ends):
                    if t <= e or i == len(ends) - 1:
                        return piece(i, t, m)
            out = piece(len(ends) - 1, t, m)
            for i in range(len(ends) - 2, -1, -1):
                out = m.where(t <= ends[i], piece(i, t, m), out)
            return out

        return fn

    def _phases(self, total, conv):
        layout = self.layout(total, conv)
        labels = ["up", "down", "anneal"] if self.three_phase else ["up", "down"]
        T = self._own_total(total)
        cuts = []
        for e, _, _ in layout[:-1]:  # torch counts to pct_start*T - 1: in a tiny run that is before step 0
            cuts.append(min(max(int(math.ceil(e)), cuts[-1] if cuts else 0), T))
        starts, ends = [0] + cuts, cuts + [T]
        return [Phase(a, b, label) for a, b, label in zip(starts, ends, labels)]


@family("cyclic")
class Cyclic(Schedule):
    """Cyclical learning rates (Smith 2017) as torch's CyclicLR: between ``base`` and ``max``
    (multipliers of the base LR), ``up`` steps rising and ``down`` falling.

    ``mode``: ``triangular``; ``triangular2`` halves the amplitude each cycle; ``exp_range`` scales it
    by ``gamma^t``.
    """

    base: float = 0.1
    max: float = 1.0
    up: int | float = 2000
    down: int | float | None = None
    mode: str = "triangular"
    gamma: float = 1.0
    steps: int | None = None

    def _check(self) -> None:
        self._set("base", v.number("cyclic", "base", self.base, lo=0.0))
        self._set("max", v.number("cyclic", "max", self.max, lo=0.0))
        self._set("up", v.duration("cyclic", "up", self.up, positive=True))
        if self.down is not None:
            self._set("down", v.duration("cyclic", "down", self.down, positive=True))
        v.choice("cyclic", "mode", self.mode, ("triangular", "triangular2", "exp_range"))
        self._set("gamma", v.number("cyclic", "gamma", self.gamma, lo=0.0, hi=1.0, lo_open=True))
        if self.steps is not None:
            self._set("steps", v.steps("cyclic", "steps", self.steps, lo=1))

    def needs_total(self) -> bool:
        return self.steps is None and (isinstance(self.up, float) or isinstance(self.down, float))

    def _compile(self, total: int | None, conv: Convention) -> Fn:
        T = self._own_total(total)
        up = float(v.resolve("cyclic", "up", self.up, T))
        down = float(v.resolve("cyclic", "down", self.down, T)) if self.down is not None else up
        for name, steps in (("up", up), ("down", down)):
            if steps < 1:
                raise SpecError(f"cyclic: {name}={getattr(self, name)!r} is less than one step for a total of {T}")
        size = up + down
        ratio = up / size
        base, height, mode, gamma = self.base, self.max - self.base, self.mode, self.gamma

        def fn(t, m):
            cycle = m.floor(1.0 + t / size)
            x = 1.0 + t / size - cycle
            scale = m.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
            amp = height * scale
            if mode == "triangular2":
                amp = amp * m.power(0.5, cycle - 1.0)
            elif mode == "exp_range":
                amp = amp * m.power(gamma, t)
            return base + amp

        return fn

    def _lint(self, total: int, conv: Convention) -> list[Finding]:
        if self.base > self.max:
            return [Finding("floor-above-peak", f"cyclic: base={self.base} is above max={self.max}, so every cycle "
                                                f"runs upside down")]
        return []


@family("sgdr")
class Sgdr(Decaying):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017; torch CosineAnnealingWarmRestarts).

    The first cycle lasts ``period`` steps, each next one ``mult`` times longer; every cycle anneals
    from its peak to ``floor``; ``peak_decay`` multiplies the peak at each restart (timm's cycle_decay).
    """

    period: int | float = 0.25
    mult: int = 1
    floor: float = 0.0
    peak_decay: float = 1.0
    decays_over_total = False

    def _check(self) -> None:
        self._set("period", v.duration("sgdr", "period", self.period, positive=True))
        self._set("mult", v.integer("sgdr", "mult", self.mult, lo=1))
        self._set("floor", v.number("sgdr", "floor", self.floor, lo=0.0))
        self._set("peak_decay", v.number("sgdr", "peak_decay", self.peak_decay, lo=0.0, lo_open=True))

    def needs_total(self) -> bool:
        return super().needs_total() or (self.steps is None and isinstance(self.period, float))

    def _core(self, D, W, total, conv) -> Fn:
        T0 = v.resolve("sgdr", "period", self.period, self._own_total(total))
        if T0 < 1:
            raise SpecError(f"sgdr: period={self.period!r} is less than one step for a total of {total}")
        mult, floor, decay = self.mult, self.floor, self.peak_decay
        if mult == 1:
            T0f = float(T0)

            def cycle_of(u, m):
                k = m.floor(u / T0f)
                return k, u - k * T0f, T0f
        else:
            starts = [0]
            while starts[-1] < 1e15:
                # (capped: a huge mult would give a start beyond the largest float; no step reaches 10**300)
                starts.append(min(starts[-1] + T0 * mult ** (len(starts) - 1), 10 ** 300))
            st = np.asarray(starts, dtype=float)
            lengths = np.diff(st)

            def cycle_of(u, m):
                if m.scalar:
                    k = bisect.bisect_right(starts, u) - 1
                    return k, u - starts[k], float(lengths[k])
                k = m.searchsorted(st, u) - 1
                return k, u - m.asarray(st)[k], m.asarray(lengths)[k]

        def fn(u, m):
            k, cur, length = cycle_of(u, m)
            peak = m.power(decay, k) if decay != 1.0 else 1.0
            return floor + (peak - floor) * 0.5 * (1.0 + m.cos(m.pi * cur / length))

        return fn
