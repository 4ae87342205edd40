"""Combinators: ``sequence`` (phases with boundaries), ``product``, ``clamp``, ``repeat``, ``rewarm`` and
``cooldown``.

Each is itself a :class:`Schedule`, prints as its spec and parses back to an equal object::

    sequence(linear(end=0.5), cosine(floor=0.1), boundaries=[1000])
    product(warmup(period=500), cosine())
    clamp(exponential(gamma=0.999), floor=0.05)
    repeat(cosine(), every=1000, times=3)
    rewarm(from_lr=0.1, warmup=500, then=cosine(floor=0.1))
    cooldown(constant(), at=9000, decay=1000)
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from .._math import ARRAY, SCALAR
from ..errors import SpecError
from . import validate as v
from .base import Finding, Fn, Phase, Schedule, family
from .budget import DECAY_FORMS, cooldown_shape
from .conventions import Convention
from .decaying import Decaying, floor_above_peak
from .spec import as_schedule


def _children(owner: str, name: str, values) -> tuple[Schedule, ...]:
    if isinstance(values, (Schedule, str, dict)):
        values = (values,)
    values = v.as_list(values)
    if not isinstance(values, (list, tuple)):
        raise SpecError(f"{owner}: {name}={v.shown(values)} is not a list of schedules; expected schedules such as "
                        f"{owner}(cosine(), linear(), ...)")
    if not values:
        raise SpecError(f"{owner}: {name} is empty; expected at least one schedule")
    return tuple(as_schedule(owner, f"{name}[{i}]", x) for i, x in enumerate(values))


@family("sequence")
class Sequence(Schedule):
    """Phases one after another: phase ``i`` runs from ``boundaries[i-1]`` to ``boundaries[i]``.

    Each phase sees its own steps counted from its start and its own length as its total (as optax's
    ``join_schedules``). Boundaries are steps or fractions of the total, strictly increasing.
    """

    schedules: tuple = ()
    boundaries: tuple = ()
    schedule_fields = ("schedules",)
    positional = ("schedules",)

    def _check(self) -> None:
        phases = _children("sequence", "schedules", self.schedules)
        if len(phases) < 2:
            raise SpecError(f"sequence: got {len(phases)} phase; expected two or more (a single schedule needs no "
                            f"sequence)")
        bs = v.as_list(self.boundaries)
        if not isinstance(bs, (list, tuple)):
            bs = (bs,)
        if len(bs) != len(phases) - 1:
            raise SpecError(f"sequence: {len(phases)} phases need {len(phases) - 1} boundaries; got {len(bs)} "
                            f"({list(bs)!r})")
        bs = tuple(v.duration("sequence", f"boundaries[{i}]", b, positive=True) for i, b in enumerate(bs))
        if any(type(a) is type(b) and b <= a for a, b in zip(bs, bs[1:])):
            raise SpecError(f"sequence: boundaries={list(bs)!r} are not strictly increasing; sort them")
        self._set("schedules", phases)
        self._set("boundaries", bs)

    def needs_total(self) -> bool:
        return any(isinstance(b, float) for b in self.boundaries) or self.schedules[-1].needs_total()

    def starts(self, total: int | None) -> list[int]:
        starts = [0] + [v.resolve("sequence", "boundaries", b, total) for b in self.boundaries]
        if any(b <= a for a, b in zip(starts, starts[1:])):
            raise SpecError(f"sequence: boundaries={list(self.boundaries)!r} resolve to {starts[1:]} steps for a total "
                            f"of {total}, which leaves an empty phase")
        return starts

    def _compile(self, total: int | None, conv: Convention) -> Fn:
        starts = self.starts(total)
        ends = starts[1:] + [total]
        fns = []
        for child, a, b in zip(self.schedules, starts, ends):
            length = None if b is None else b - a
            fns.append(child._compile(length if length is None or length > 0 else 1, conv))
        sf = [float(s) for s in starts]
        sa = np.asarray(sf)

        def fn(t, m):
            if m.scalar:
                i = bisect.bisect_right(sf, t) - 1
                return fns[i](t - sf[i], m)
            idx = m.searchsorted(sa, t) - 1
            if m is not ARRAY:  # traced back-ends (jax) cannot assign through a mask
                out = fns[0](t, m)
                for i, f in enumerate(fns[1:], 1):
                    out = m.where(idx == i, f(m.maximum(t - sf[i], 0.0), m), out)
                return out
            out = np.empty_like(t)
            for i, f in enumerate(fns):
                mask = idx == i
                if mask.any():
                    out[mask] = f(t[mask] - sf[i], m)
            return out

        return fn

    def _phases(self, total, conv):
        starts = self.starts(total)
        ends = starts[1:] + [total]
        out = []
        for child, a, b in zip(self.schedules, starts, ends):
            if b is None:
                out.extend(Phase(a + p.start, None if p.end is None else a + p.end, p.label)
                           for p in child._phases(None, conv))
                continue
            b = max(b, a)  # a boundary beyond the run leaves an empty phase, not one that ends before it starts
            for p in child._phases(max(b - a, 1), conv):
                end = None if p.end is None else min(a + p.end, b)
                out.append(Phase(min(a + p.start, b), end, p.label))
        return out

    def _lint(self, total, conv):
        out = []
        starts = self.starts(total)
        late = [s for s in starts[1:] if s >= total]
        if late:
            out.append(Finding("phase-beyond-run", f"sequence: boundaries at steps {late} are at or beyond the end "
                                                   f"of the run ({total} steps); those phases never run"))
        ends = starts[1:] + [total]
        for child, a, b in zip(self.schedules, starts, ends):
            if b - a > 0:
                out.extend(child._lint(b - a, conv))
        return out


@family("product")
class Product(Schedule):
    """The product of several schedules, step by step (e.g. a warmup factor times a decay)."""

    factors: tuple = ()
    schedule_fields = ("factors",)
    positional = ("factors",)

    def _check(self) -> None:
        factors = _children("product", "factors", self.factors)
        if len(factors) < 2:
            raise SpecError(f"product: got {len(factors)} factor; expected two or more")
        self._set("factors", factors)

    def needs_total(self) -> bool:
        return any(f.needs_total() for f in self.factors)

    def _compile(self, total, conv):
        fns = [f._compile(total, conv) for f in self.factors]

        def fn(t, m):
            out = fns[0](t, m)
            for f in fns[1:]:
                out = out * f(t, m)
            return out

        return fn

    def _phases(self, total, conv):
        return self.factors[-1]._phases(total, conv)

    def _lint(self, total, conv):
        return [f for x in self.factors for f in x._lint(total, conv)]


@family("clamp")
class Clamp(Schedule):
    """A schedule held between ``floor`` and ``ceiling`` (multipliers of the base LR)."""

    schedule: Schedule | None = None
    floor: float = 0.0
    ceiling: float = math.inf
    schedule_fields = ("schedule",)
    positional = ("schedule",)

    def _check(self) -> None:
        if self.schedule is None:
            raise SpecError("clamp: missing the schedule to clamp, e.g. clamp(exponential(gamma=0.99), floor=0.1)")
        self._set("schedule", as_schedule("clamp", "schedule", self.schedule))
        self._set("floor", v.number("clamp", "floor", self.floor, lo=0.0))
        ceiling = math.inf if self.ceiling in ("inf", math.inf) else self.ceiling
        if ceiling != math.inf:
            ceiling = v.number("clamp", "ceiling", ceiling, lo=0.0, lo_open=True)
            if ceiling < self.floor:
                raise SpecError(f"clamp: ceiling={ceiling} is below floor={self.floor}")
        self._set("ceiling", ceiling)

    def needs_total(self) -> bool:
        return self.schedule.needs_total()

    def _compile(self, total, conv):
        inner = self.schedule._compile(total, conv)
        lo, hi = self.floor, self.ceiling
        return lambda t, m: m.clip(inner(t, m), lo, hi)

    def _phases(self, total, conv):
        return self.schedule._phases(total, conv)

    def _lint(self, total, conv):
        out = self.schedule._lint(total, conv)
        if self.floor > 1.0:
            out.append(Finding("floor-above-peak", f"clamp: floor={self.floor} is above the peak (1.0)"))
        return out


@family("repeat")
class Repeat(Schedule):
    """Restart a schedule every ``every`` steps (or fraction); after ``times`` cycles hold its end value."""

    schedule: Schedule | None = None
    every: int | float = 0.25
    times: int | None = None
    schedule_fields = ("schedule",)
    positional = ("schedule",)

    def _check(self) -> None:
        if self.schedule is None:
            raise SpecError("repeat: missing the schedule to repeat, e.g. repeat(cosine(), every=1000)")
        self._set("schedule", as_schedule("repeat", "schedule", self.schedule))
        self._set("every", v.duration("repeat", "every", self.every, positive=True))
        if self.times is not None:
            self._set("times", v.integer("repeat", "times", self.times, lo=1))

    def needs_total(self) -> bool:
        return isinstance(self.every, float)

    def _compile(self, total, conv):
        L = v.resolve("repeat", "every", self.every, total)
        if L < 1:
            raise SpecError(f"repeat: every={self.every!r} is less than one step for a total of {total}")
        inner = self.schedule._compile(L, conv)
        Lf = float(L)
        stop = math.inf if self.times is None or self.times * L > v.MAX_FLOAT else float(self.times * L)
        end_value = inner(Lf, SCALAR)

        def fn(t, m):
            if m.scalar:
                return end_value if t >= stop else inner(t % Lf, m)
            return m.where(t >= stop, end_value, inner(m.mod(t, Lf), m))

        return fn

    def _lint(self, total, conv):
        L = v.resolve("repeat", "every", self.every, total)
        out = self.schedule._lint(min(L, total), conv)
        if L >= total:
            every = f"every={self.every}" + (f" ({L} steps)" if isinstance(self.every, float) else " steps")
            out.append(Finding("phase-beyond-run", f"repeat: {every} is not shorter than the run ({total} steps); "
                                                   f"the schedule never restarts"))
        return out

    def _phases(self, total, conv):
        L = v.resolve("repeat", "every", self.every, total)
        n = self.times if self.times is not None else (math.ceil(total / L) if total else 1)
        return [Phase(i * L, (i + 1) * L, f"cycle {i + 1}") for i in range(min(n, 50))]


@family("rewarm")
class Rewarm(Decaying):
    """Re-warming for continual pre-training (Gupta et al. 2023; Ibrahim et al. 2024).

    Ramp from ``from_lr`` (the previous run's final LR, as a multiplier of the new base LR) up to
    ``to`` over ``warmup`` steps, then follow ``then`` (any decay, scaled to peak ``to``).
    """

    from_lr: float = 0.0
    to: float = 1.0
    then: Schedule | None = None
    schedule_fields = ("then",)
    decays_over_total = False

    def _check(self) -> None:
        self._set("from_lr", v.number("rewarm", "from_lr", self.from_lr, lo=0.0))
        self._set("to", v.number("rewarm", "to", self.to, lo=0.0, lo_open=True))
        if self.warmup_init != 0.0:
            raise SpecError("rewarm: warmup_init is not used; the ramp starts at from_lr")
        if self.warmup == 0:
            raise SpecError("rewarm: warmup=0 leaves no re-warming; give warmup= (steps or fraction)")
        if self.warmup_form == "exponential" and self.from_lr == 0.0:
            raise SpecError("rewarm: warmup_form='exponential' needs from_lr > 0")
        self._set("then", as_schedule("rewarm", "then", self.then if self.then is not None else "constant"))

    def needs_total(self) -> bool:
        return super().needs_total() or self.then.needs_total()

    def _ramp_start(self) -> float:
        return self.from_lr

    def _core(self, D, W, total, conv):
        inner = self.then._compile(D, conv)
        to = self.to
        return lambda u, m: to * inner(u, m)

    def _decay_phases(self, start, end, total):
        return [Phase(start, end, f"{self.then.family}")]

    def _lint(self, total, conv):
        out = super()._lint(total, conv)
        W, D, _ = self._span(total, conv)
        if D is not None and D > 0:  # (a warmup longer than the run is reported above)
            out.extend(self.then._lint(D, conv))
        return out


@family("cooldown")
class Cooldown(Schedule):
    """Any schedule until step ``at``, then a cooldown over ``decay`` steps from the LR it had at ``at``
    down to ``floor`` with a WSD ``form`` (Hägele et al. 2024's cooldown decided during training)."""

    schedule: Schedule | None = None
    at: int = 0
    decay: int = 1
    form: str = "1-sqrt"
    floor: float = 0.0
    schedule_fields = ("schedule",)
    positional = ("schedule",)

    def _check(self) -> None:
        if self.schedule is None:
            raise SpecError("cooldown: missing the schedule to cool down, e.g. cooldown(constant(), at=9000, "
                            "decay=1000)")
        self._set("schedule", as_schedule("cooldown", "schedule", self.schedule))
        self._set("at", v.steps("cooldown", "at", self.at, lo=0))
        self._set("decay", v.steps("cooldown", "decay", self.decay, lo=1))
        v.choice("cooldown", "form", self.form, DECAY_FORMS)
        self._set("floor", v.number("cooldown", "floor", self.floor, lo=0.0))
        if self.form == "exp" and self.floor == 0.0:
            raise SpecError("cooldown: form='exp' decays geometrically to the floor and needs floor > 0")

    def needs_total(self) -> bool:
        return self.schedule.needs_total()

    def _compile(self, total, conv):
        inner = self.schedule._compile(total, conv)
        at, length = float(self.at), float(self.decay)
        start = float(inner(at, SCALAR))
        if start <= self.floor:
            return lambda t, m: m.where(t < at, inner(t, m), m.minimum(start, inner(t, m)) * 0.0 + start)
        shape = cooldown_shape(self.form, self.floor / start)

        def fn(t, m):
            x = m.clip((t - at) / length, 0.0, 1.0)
            if m.scalar:
                return inner(t, m) if t < at else start * shape(x, m)
            return m.where(t < at, inner(t, m), start * shape(x, m))

        return fn

    def _lint(self, total, conv):
        out = self.schedule._lint(total, conv) + floor_above_peak(self, "floor")
        if self.at >= total:
            out.append(Finding("phase-beyond-run", f"cooldown: at={self.at} is at or beyond the end of the run "
                                                   f"({total} steps); the cooldown never starts"))
        elif self.at + self.decay > total:
            out.append(Finding("phase-beyond-run", f"cooldown: at={self.at} + decay={self.decay} = "
                                                   f"{self.at + self.decay} steps end beyond the run ({total} steps); "
                                                   f"the cooldown is cut short"))
        return out

    def _phases(self, total, conv):
        before = [p for p in self.schedule._phases(total, conv) if p.start < self.at]
        before = [Phase(p.start, self.at if p.end is None or p.end > self.at else p.end, p.label) for p in before]
        return before + [Phase(self.at, self.at + self.decay, f"cooldown ({self.form})")]
