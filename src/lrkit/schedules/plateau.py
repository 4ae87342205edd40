"""Plateau phases: a metric-driven decay that composes with warmup and with any sequence.

``plateau(factor=0.1, patience=10, ...)`` is a schedule family like any other: its value is a pure
function of the step *given the steps at which it was reduced*, ``reductions=[...]``:
``max(factor ** (number of reductions at or before u), min)`` with ``u`` the steps since the phase
began. A :class:`PlateauController` watches a metric (as torch's ``ReduceLROnPlateau`` does, with the
same ``patience``, ``threshold``, ``threshold_mode``, ``cooldown`` and ``mode`` rules) and, when it
stops improving, records a reduction at the current step: the result is a new, immutable schedule. So
the whole state is the spec with its reductions plus the controller's counters, a resumed run recomputes
the same LRs, and a plateau phase can sit anywhere a schedule can::

    sequence(linear(), plateau(patience=3), cosine(), boundaries=[500, 8000])   # warmup, plateau, cooldown
    product(plateau(patience=3), wsd(warmup=500, decay=0.2))    # the cooldown starts from the reduced LR
    plateau(warmup=500, factor=0.5)

With :class:`lrkit.torch.Scheduler`, ``scheduler.step(metrics=val_loss)`` feeds the controller and its
state is part of ``scheduler.state_dict()``. Metrics that arrive while no plateau phase is running (during
warmup or a later phase) are ignored.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .._math import SCALAR
from ..errors import SpecError
from . import validate as v
from .base import Finding, Fn, Schedule, family
from .conventions import Convention, get_convention
from .decaying import Decaying
from .spec import parse

MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")
#: The controller's rules: these must agree between all plateau phases one controller drives.
POLICY = ("patience", "threshold", "threshold_mode", "mode", "cooldown")


@family("plateau")
class Plateau(Decaying):
    """A metric-driven decay: ``max(factor ** k, min)`` after ``k`` recorded reductions (torch's
    ``ReduceLROnPlateau`` as a schedule phase).

    Args:
        factor: the multiplier of each reduction, in (0, 1).
        patience: observations without improvement before a reduction (torch's ``patience``).
        threshold, threshold_mode: what counts as an improvement: ``rel`` a change of at least
            ``threshold`` times the best value, ``abs`` of at least ``threshold``.
        mode: ``min`` (a loss) or ``max`` (an accuracy).
        cooldown: observations to wait after a reduction before counting again.
        min: the floor of the multiplier (torch's ``min_lr`` divided by the base LR).
        eps: a reduction that would lower the multiplier by ``eps`` or less is skipped, as torch skips one
            that lowers the LR by its ``eps`` or less (torch's ``eps``, 1e-8 by default, divided by the base
            LR); so the multiplier stops where a reduction would change it that little. 0 (the default)
            skips only reductions that change nothing (at ``min``).
        reductions: the steps (counted from the start of this phase, after its warmup) at which the
            multiplier was reduced; the controller appends to it, users rarely write it.
    """

    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    mode: str = "min"
    cooldown: int = 0
    min: float = 0.0
    eps: float = 0.0
    reductions: tuple = ()

    decays_over_total = False

    def _check(self) -> None:
        self._set("factor", v.number("plateau", "factor", self.factor, lo=0.0, hi=1.0, lo_open=True, hi_open=True))
        self._set("patience", v.integer("plateau", "patience", self.patience, lo=0))
        self._set("threshold", v.number("plateau", "threshold", self.threshold, lo=0.0))
        v.choice("plateau", "threshold_mode", self.threshold_mode, THRESHOLD_MODES)
        v.choice("plateau", "mode", self.mode, MODES)
        self._set("cooldown", v.integer("plateau", "cooldown", self.cooldown, lo=0))
        self._set("min", v.number("plateau", "min", self.min, lo=0.0, hi=1.0))
        self._set("eps", v.number("plateau", "eps", self.eps, lo=0.0))
        rs = self.reductions
        if not isinstance(rs, (list, tuple)):
            raise SpecError(f"plateau: reductions={v.shown(rs)} is not a list of steps")
        clean = []
        for i, r in enumerate(rs):
            x = v.number("plateau", f"reductions[{i}]", r, lo=0.0)
            if clean and x < clean[-1]:
                raise SpecError(f"plateau: reductions={list(rs)!r} are not in non-decreasing order")
            clean.append(int(x) if float(x).is_integer() else x)
        self._set("reductions", tuple(clean))

    def _awaits_metrics(self) -> bool:
        return not self.reductions

    def multiplier(self, k: int) -> float:
        """The multiplier after ``k`` reductions: ``max(factor ** k, min)``, held where a reduction would
        lower it by ``eps`` or less (torch's ``old_lr - new_lr > eps`` rule)."""
        if self.eps == 0.0:
            return max(self.factor ** k, self.min)
        value = 1.0
        for j in range(1, k + 1):
            lower = max(self.factor ** j, self.min)
            if value - lower <= self.eps:
                break
            value = lower
        return value

    def _core(self, D, W, total, conv) -> Fn:
        rs = [float(r) for r in self.reductions]
        table = [self.multiplier(k) for k in range(len(rs) + 1)]
        if not rs:
            return lambda u, m: 1.0 + 0.0 * u
        ra, ta = np.asarray(rs), np.asarray(table)

        def fn(u, m):
            if m.scalar:
                return table[bisect.bisect_right(rs, u)]
            return m.asarray(ta)[m.searchsorted(ra, u)]

        return fn

    def _lint(self, total: int, conv: Convention) -> list[Finding]:
        out = super()._lint(total, conv)
        if self.min > 0 and self.reductions and self.multiplier(len(self.reductions) - 1) <= self.min:
            out.append(Finding("plateau-at-floor", f"plateau: the last reduction changes nothing; the multiplier "
                                                   f"was already at min={self.min}"))
        return out


# ------------------------------------------------------------------------------------------------------------
# Finding and rewriting the plateau phases inside any schedule
def has_plateau(schedules: Schedule | Iterable[Schedule]) -> bool:
    """Whether any of the schedules contains a ``plateau`` phase."""
    if isinstance(schedules, Schedule):
        schedules = [schedules]
    return any(isinstance(n, Plateau) for s in schedules for n in s.nodes())


def _rewrite(s: Schedule, fn, counter: list[int]) -> Schedule:
    """``s`` with each plateau node ``p`` (numbered in depth-first order) replaced by ``fn(index, p)``."""
    if isinstance(s, Plateau):
        i = counter[0]
        counter[0] += 1
        return fn(i, s)
    changes: dict[str, Any] = {}
    for name in s.schedule_fields:
        value = getattr(s, name)
        if isinstance(value, tuple):
            new = tuple(_rewrite(c, fn, counter) for c in value)
            if any(a is not b for a, b in zip(new, value)):
                changes[name] = new
        elif isinstance(value, Schedule):
            new = _rewrite(value, fn, counter)
            if new is not value:
                changes[name] = new
    return dataclasses.replace(s, **changes) if changes else s


def rewrite_plateaus(s: Schedule, fn) -> Schedule:
    return _rewrite(s, fn, [0])


def strip_reductions(s: Schedule) -> Schedule:
    """The schedule with every plateau phase's reductions removed (the spec as the user wrote it)."""
    return rewrite_plateaus(s, lambda i, p: dataclasses.replace(p, reductions=()) if p.reductions else p)


_RECORD: list[tuple[int, float]] = []


class _Probe(Plateau):
    """A plateau node that records the step of its own clock each time it is evaluated (never registered)."""

    def _core(self, D, W, total, conv) -> Fn:
        index = self._probe_index

        def fn(u, m):
            _RECORD.append((index, u))
            return 1.0

        return fn


def _probe(i: int, p: Plateau) -> Plateau:
    fields = {f.name: getattr(p, f.name) for f in dataclasses.fields(p)}
    probe = _Probe(**fields)
    object.__setattr__(probe, "_probe_index", i)
    return probe


# ------------------------------------------------------------------------------------------------------------
class PlateauController:
    """Watch a metric and record reductions into the plateau phases of one or more schedules.

    Args:
        schedules: the schedules (one per parameter group, repeats allowed) as written, possibly with
            reductions already recorded; each may hold plateau phases anywhere.
        total: the run's total steps (for schedules that need one).
        convention: the convention the schedules are evaluated under.

    :meth:`observe` takes a metric at a step (the step whose LR comes next: ``scheduler.last_epoch``);
    when the metric has not improved for more than ``patience`` observations, every plateau phase running
    at that step is reduced from that step on. :attr:`schedules` are the current schedules;
    :meth:`state_dict` / :meth:`load_state_dict` hold everything needed to resume.
    """

    def __init__(self, schedules: Sequence[Schedule | str] | Schedule | str, total: int | None = None,
                 convention: str | Convention | None = None) -> None:
        if isinstance(schedules, (Schedule, str)):
            schedules = [schedules]
        if not isinstance(schedules, Sequence):
            raise SpecError(f"plateau controller: schedules={v.shown(schedules)} is not a schedule, a spec or a list "
                            f"of them")
        given = [parse(s) for s in schedules]
        if not given:
            raise SpecError("plateau controller: no schedules given; expected at least one with a plateau(...) phase")
        if not has_plateau(given):
            raise SpecError("plateau controller: no plateau(...) phase in the schedule(s) "
                            f"{', '.join(sorted({str(s) for s in given}))}")
        self.total = None if total is None else v.total_steps(total, "plateau controller: total")
        self.convention = get_convention(convention)
        #: The schedules as given (reductions already in them are kept; the controller's come after).
        self.base = given
        nodes = [n for s in given for n in s.nodes() if isinstance(n, Plateau)]
        policy = {k: getattr(nodes[0], k) for k in POLICY}
        for n in nodes[1:]:
            other = {k: getattr(n, k) for k in POLICY}
            if other != policy:
                diff = next(k for k in POLICY if other[k] != policy[k])
                raise SpecError(f"plateau: all plateau phases watched by one metric need the same {diff}; got "
                                f"{policy[diff]!r} and {other[diff]!r}")
        self.patience = policy["patience"]
        self.threshold = policy["threshold"]
        self.threshold_mode = policy["threshold_mode"]
        self.mode = policy["mode"]
        self.cooldown = policy["cooldown"]
        if self.threshold_mode == "rel" and self.mode == "min" and self.threshold >= 1:
            raise SpecError(f"plateau: threshold={self.threshold:g} with threshold_mode='rel' and mode='min' means "
                            f"no positive metric can improve (it must fall below best·(1 - {self.threshold:g})); "
                            f"expected threshold < 1")
        # One probe per distinct schedule: which plateau phases run at a step, and at which step of their clock.
        self._distinct = list(dict.fromkeys(given))
        self._slot = [self._distinct.index(s) for s in given]
        self._probes = [rewrite_plateaus(s, _probe)._compile(total, self.convention) for s in self._distinct]
        self.reductions: list[int | float] = []
        self.best: float | None = None
        self.num_bad = 0
        self.cooldown_left = 0
        self.observations = 0
        self._rebuild()

    # ----- where the plateau phases are ----------------------------------------------------------------
    def clocks(self, position: float) -> list[dict[int, float]]:
        """For each distinct schedule, ``{plateau index: step on its clock}`` of the phases running at
        ``position`` (a step of the run)."""
        out = []
        for fn in self._probes:
            _RECORD.clear()
            fn(float(position), SCALAR)
            out.append(dict(_RECORD))
            _RECORD.clear()
        return out

    def active(self, position: float) -> bool:
        """Whether a plateau phase is running at ``position``."""
        return any(self.clocks(position))

    def _rebuild(self) -> None:
        local: list[dict[int, list[float]]] = [dict() for _ in self._distinct]
        for r in self.reductions:
            for j, clocks in enumerate(self.clocks(r)):
                for i, u in clocks.items():
                    local[j].setdefault(i, []).append(u)

        def with_reductions(j):
            def fn(i, p):
                extra = tuple(_as_step(u) for u in local[j].get(i, ()))
                return dataclasses.replace(p, reductions=p.reductions + extra) if extra else p
            return fn

        self._live = [rewrite_plateaus(s, with_reductions(j)) for j, s in enumerate(self._distinct)]
        #: The current schedules, one per given schedule.
        self.schedules: list[Schedule] = [self._live[j] for j in self._slot]

    def current(self, position: float) -> list[float]:
        """For each given schedule, the multiplier of its running plateau phase(s) at ``position`` (1.0 if none)."""
        per = []
        for live, clocks in zip(self._live, self.clocks(position)):
            nodes = [n for n in live.nodes() if isinstance(n, Plateau)]
            ms = [nodes[i].multiplier(bisect.bisect_right([float(r) for r in nodes[i].reductions], u))
                  for i, u in clocks.items()]
            per.append(min(ms) if ms else 1.0)
        return [per[j] for j in self._slot]

    # ----- the rule ----------------------------------------------------------------------------------------
    def _better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (1.0 + self.threshold) if self.threshold_mode == "rel" else a > best + self.threshold

    def observe(self, metric: float, position: float) -> bool:
        """Take one observation of the metric at ``position``; return True when it reduced the LR.

        A reduction at ``position`` lowers the multiplier from that step on (``position`` is the step whose
        LR comes next). Observations while no plateau phase runs are ignored.
        """
        if hasattr(metric, "item"):
            if getattr(metric, "size", 1) != 1 or (callable(getattr(metric, "numel", None)) and metric.numel() != 1):
                raise SpecError(f"plateau: metrics has shape {tuple(metric.shape)}; expected one number, such as the "
                                f"mean validation loss")
            metric = metric.item()
        if not v.is_real(metric):
            raise SpecError(f"plateau: metrics={v.shown(metric)} is not a number")
        metric = float(metric)
        if not math.isfinite(metric):  # a diverged run: torch would count it as a bad epoch and cut the LR
            raise SpecError(f"plateau: metrics={metric!r} is not finite (did the run diverge?); the controller's "
                            f"state is unchanged")
        position = v.number("plateau", "step", position, lo=0.0)
        if self.reductions and position < self.reductions[-1]:
            raise SpecError(f"plateau: an observation at step {position:g} comes before the last reduction at "
                            f"step {self.reductions[-1]:g}")
        if not self.active(position):
            return False
        self.observations += 1
        if self.best is None or (metric == metric and self._better(metric, self.best)):
            if metric == metric:  # NaN never becomes the best (torch: a NaN is not an improvement)
                self.best = metric
                self.num_bad = 0
            else:
                self.num_bad += 1
        else:
            self.num_bad += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.num_bad = 0
        if self.num_bad > self.patience:
            self.num_bad = 0
            self.cooldown_left = self.cooldown
            before = self.current(position)
            self.reductions.append(_as_step(position))
            self._rebuild()
            if self.current(position) == before:  # every running phase is at its floor: record nothing
                self.reductions.pop()
                self._rebuild()
                return False
            return True
        return False

    # ----- state ------------------------------------------------------------------------------------------------
    def __getstate__(self):  # the compiled probes are closures: rebuilt, not pickled
        state = self.__dict__.copy()
        state.pop("_probes", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._probes = [rewrite_plateaus(s, _probe)._compile(self.total, self.convention) for s in self._distinct]

    def state_dict(self) -> dict[str, Any]:
        """Plain Python values: the reductions (run steps) and the counters."""
        return {"reductions": list(self.reductions), "best": self.best, "num_bad": self.num_bad,
                "cooldown_left": self.cooldown_left, "observations": self.observations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = [k for k in ("reductions", "best", "num_bad", "cooldown_left") if k not in state]
        if missing:
            raise SpecError(f"plateau controller: the state has no {', '.join(map(repr, missing))}; expected a dict "
                            f"from PlateauController.state_dict()")
        reductions = [_as_step(v.number("plateau controller", f"state reductions[{i}]", x, lo=0.0))
                      for i, x in enumerate(state["reductions"])]
        if any(b < a for a, b in zip(reductions, reductions[1:])):
            raise SpecError(f"plateau controller: the state's reductions={reductions!r} are not in non-decreasing "
                            f"order")
        best = state["best"]
        best = None if best is None else v.number("plateau controller", "state best", best)
        num_bad = v.integer("plateau controller", "state num_bad", state["num_bad"], lo=0)
        cooldown_left = v.integer("plateau controller", "state cooldown_left", state["cooldown_left"], lo=0)
        observations = v.integer("plateau controller", "state observations", state.get("observations", 0), lo=0)
        self.reductions, self.best, self.num_bad = reductions, best, num_bad
        self.cooldown_left, self.observations = cooldown_left, observations
        self._rebuild()


def _as_step(x: float) -> int | float:
    x = float(x)
    return int(x) if x.is_integer() else x

