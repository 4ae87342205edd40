"""What each parameter group follows at every step: the schedules with the run's decisions applied (plateau
reductions, re-planned totals, anytime cooldowns), each distinct one bound once.

An anytime cooldown is the ``cooldown`` family (:class:`lrkit.schedules.compose.Cooldown`) around the
schedule, one per ``Scheduler.cooldown`` call, the latest outermost: so a later cooldown replaces an earlier
one from its own ``at`` on, and each starts from the LR its step has. A stretch of the run's length maps each
optimizer step to a position of the schedule (:func:`~.state.position`); it wraps the schedule *inside* the
cooldowns, whose ``at`` and ``decay`` count optimizer steps (integers, as the family's fields are)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..._math import SCALAR
from ...schedules import Schedule
from ...schedules.compose import Cooldown
from ...schedules.conventions import Convention
from .groups import HYPERPARAMS


#: The look-ahead check of a [0, 1) hyperparameter evaluates at most this many steps, ``AHEAD_CHUNK`` at a time.
AHEAD_STEPS = 2**20
AHEAD_CHUNK = 2**16


class PlanEntry(NamedTuple):
    """One scheduled hyperparameter: its group field, one compiled function per distinct schedule, the index
    of each group's function, and each group's base value."""

    key: str
    field: str
    index: int | None
    fns: list
    slots: list[int]
    bases: list[float]


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False, eq=False)
class Stretched(Schedule):
    """``schedule`` evaluated at the stretched position of each optimizer step (never registered: it lives
    only in a scheduler's plan, the stretches themselves are the state)."""

    family = "stretched"
    schedule: Schedule | None = None
    stretches: tuple = ()
    schedule_fields = ("schedule",)

    def needs_total(self) -> bool:
        return self.schedule.needs_total()

    def _compile(self, total, conv):
        inner = self.schedule._compile(total, conv)
        stretches = tuple(reversed(self.stretches))

        def fn(t, m):  # the arithmetic of state.position, step by step
            if m.scalar:
                for at, old, new in stretches:
                    if t > at:
                        t = at + (t - at) * (old - at) / (new - at)
                return inner(t, m)
            for at, old, new in stretches:
                t = m.where(t > at, at + (t - at) * (old - at) / (new - at), t)
            return inner(t, m)

        return fn

    def _phases(self, total, conv):
        return self.schedule._phases(total, conv)


def live(schedule: Schedule, key: str, cooldowns: Sequence[Mapping], stretches: Sequence[tuple]) -> Schedule:
    """``schedule`` with the stretches and (for the LR) the cooldowns applied."""
    s = Stretched(schedule=schedule, stretches=tuple(tuple(x) for x in stretches)) if stretches else schedule
    if key == "lr":
        for c in cooldowns:
            s = Cooldown(schedule=s, at=c["at"], decay=c["decay"], form=c["form"], floor=c["floor"])
    return s


def build_plan(schedules: Mapping[str, list[Schedule]], bases: Mapping[str, list[float]], total: int | None,
               conv: Convention, *, lr: list[Schedule] | None = None, cooldowns: Sequence[Mapping] = (),
               stretches: Sequence[tuple] = ()) -> tuple[PlanEntry, ...]:
    """Bind each distinct schedule of each key once (``lr``: the LR schedules with plateau reductions)."""
    plan = []
    for key, scheds in schedules.items():
        if key == "lr" and lr is not None:
            scheds = lr
        fns: list = []
        index: dict[Schedule, int] = {}
        slots = []
        for s in scheds:
            if s not in index:
                index[s] = len(fns)
                fns.append(live(s, key, cooldowns, stretches).bind(total, conv).fn)
            slots.append(index[s])
        field, i = HYPERPARAMS[key]
        plan.append(PlanEntry(key, field, i, fns, slots, bases[key]))
    return tuple(plan)


def values(entry: PlanEntry, t: float) -> list[float]:
    """The multipliers of every group at step ``t``, each distinct schedule evaluated once."""
    fns, slots = entry.fns, entry.slots
    if len(fns) == 1:
        m = float(fns[0](t, SCALAR))
        if not -math.inf < m < math.inf:
            raise FloatingPointError(f"the scheduled {entry.key} multiplier at step {t:g} is not finite ({m})")
        return [m] * len(slots)
    ms = [float(f(t, SCALAR)) for f in fns]
    for m in ms:
        if not -math.inf < m < math.inf:
            raise FloatingPointError(f"the scheduled {entry.key} multiplier at step {t:g} is not finite ({m})")
    return [ms[j] for j in slots]


def cooldown_starts(lr: list[Schedule], cooldowns: Sequence[Mapping], stretches: Sequence[tuple],
                    total: int | None, conv: Convention, last: int) -> list[Any]:
    """The LR multipliers each cooldown starts from (the schedule under the earlier cooldowns at its ``at``),
    per group, for those training has reached (``at <= last``); None for the others."""
    out: list[Any] = []
    for i, c in enumerate(cooldowns):
        if c["at"] > last:
            out.append(None)
            continue
        memo: dict[Schedule, float] = {}
        for s in lr:
            if s not in memo:
                memo[s] = float(live(s, "lr", cooldowns[:i], stretches).bind(total, conv).fn(float(c["at"]), SCALAR))
        out.append([memo[s] for s in lr])
    return out


def highest(bound, total: int) -> tuple[float, int]:
    """The largest multiplier of a bound schedule over steps ``0 .. total`` and a step that has it: every step of
    a run up to ``AHEAD_STEPS`` long, else that many spread evenly over it, in chunks (the cost does not grow
    with the total)."""
    top, at = -math.inf, 0
    n = total + 1
    k = min(n, AHEAD_STEPS)
    for a in range(0, k, AHEAD_CHUNK):
        idx = np.arange(a, min(a + AHEAD_CHUNK, k), dtype=np.int64)
        steps = idx if k == n else np.minimum(np.round(idx * ((n - 1) / (k - 1))), n - 1).astype(np.int64)
        ms = bound(steps)
        j = int(np.argmax(ms))
        if ms[j] > top:
            top, at = float(ms[j]), int(steps[j])
    return top, at
