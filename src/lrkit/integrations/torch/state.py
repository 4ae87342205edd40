"""A saved :class:`~lrkit.integrations.torch.Scheduler` state, read and checked: :func:`read_state` turns the
dict of ``Scheduler.state_dict()`` into a :class:`SavedState` or raises :class:`StateMismatchError` with one
line naming the entry, the value and what was expected. It checks types and also the state's invariants (a
state from a file someone sent is data to check, not to trust): counters consistent with the step, cooldowns
with a floor in [0, 1] and a start recorded exactly when reached, stretches and plateau reductions at or before
the saved step, base values in range, and totals that the recorded total changes explain."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import SpecError
from ...schedules import validate as v
from ...schedules.budget import DECAY_FORMS
from ...schedules.conventions import PRESETS, Convention
from .groups import BELOW_ONE, HYPERPARAMS

STATE_VERSION = 2
#: What every saved state holds (versions 1 and 2).
STATE_KEYS = ("last_epoch", "optimizer_steps", "last_counted", "step_count", "total_steps", "eval_total",
              "convention", "count", "schedules", "base_lrs", "cooldowns", "stretches")
#: The forms of an anytime cooldown: the WSD forms that end at the floor (``exp`` needs a floor > 0).
FORMS = tuple(f for f in DECAY_FORMS if f != "exp")


class StateMismatchError(SpecError):
    """The state being loaded was saved under a different schedule, base LR or total number of steps."""


StateMismatchError.__module__ = "lrkit.integrations.torch"  # its public home (tracebacks name it so)


@dataclasses.dataclass(frozen=True)
class SavedState:
    """A checked saved state: every entry a resume needs, as plain values."""

    version: int
    last_epoch: int
    optimizer_steps: int
    last_counted: int
    step_count: int
    total: int | None
    eval_total: int | None
    convention: Convention
    count: str
    schedules: dict[str, list[str]]
    bases: dict[str, list[float]]
    cooldowns: list[dict]
    stretches: list[tuple[int, int, int]]
    #: ``[step, old total, new total, "keep" | "stretch"]`` per change, or None when not recorded.
    total_changes: list[list] | None
    controller: Mapping | None
    #: Other schedulers' factor of each group's LR, the LR another one left in a group (or None), and whether
    #: the scheduler chains (None: a state saved before these were recorded).
    #: The optimizer steps applied when a SequentialLR last restarted the count (0: never).
    restart: int = 0
    factors: list[float] | None = None
    foreign: list[float | None] | None = None
    chainable: bool | None = None

    @property
    def n_groups(self) -> int:
        return len(self.bases["lr"])


def read_state(state_dict: Any, n_groups: int, convention: Convention | None = None) -> SavedState:
    """``state_dict`` checked for a scheduler of ``n_groups`` parameter groups (``convention``: this
    scheduler's, for a version-1 state that saved only a custom convention's name)."""
    if not isinstance(state_dict, Mapping):
        raise StateMismatchError(f"load_state_dict: got {type(state_dict).__name__} {short(state_dict)}; "
                                 f"expected the dict saved by lrkit.torch.Scheduler.state_dict()")
    s = dict(state_dict)
    version = s.get("version")
    if type(version) is not int or version not in (1, STATE_VERSION):
        raise StateMismatchError(f"this state (version {version!r}) was not saved by lrkit.torch.Scheduler "
                                 f"(state version {STATE_VERSION})")
    missing = [k for k in STATE_KEYS if k not in s]
    if missing:
        raise StateMismatchError(f"this state lacks {', '.join(map(repr, missing))}; it is not a complete "
                                 f"lrkit.torch.Scheduler state")
    # -1: a scheduler that torch's SequentialLR set back before its milestone (it has not started yet)
    last = -1 if type(s["last_epoch"]) is int and s["last_epoch"] == -1 else _int(s, "last_epoch")
    *counters, restart = _counters(s, last)
    total, eval_total = _total(s, "total_steps"), _total(s, "eval_total")
    base_lrs = _numbers(s["base_lrs"], "base_lrs", None)
    if len(base_lrs) != n_groups:
        raise StateMismatchError(f"the state was saved for {len(base_lrs)} parameter groups, this optimizer has "
                                 f"{n_groups}")
    schedules = _schedules(s["schedules"], n_groups)
    conv = _convention(s["convention"], convention)
    bases = _bases(s.get("bases") or {"lr": base_lrs}, base_lrs, n_groups)
    if s["count"] not in ("optimizer", "calls"):
        raise bad_state(f"count={short(s['count'])}; expected 'optimizer' or 'calls'")
    cooldowns = _cooldowns(s["cooldowns"], n_groups, last)
    stretches = _stretches(s["stretches"], last)
    changes = _total_changes(s.get("total_changes"), total, eval_total, stretches, last)
    controller = s.get("controller") or None
    if controller is not None and not isinstance(controller, Mapping):
        raise bad_state(f"controller={short(controller)} is not a plateau controller's state")
    factors, foreign, chainable = _chain(s, n_groups)
    return SavedState(version, last, *counters, total, eval_total, conv, s["count"], schedules,
                      {"lr": base_lrs, **bases}, cooldowns, stretches, changes, controller, restart, factors, foreign,
                      chainable)


def _chain(s: Mapping, n: int) -> tuple[list[float] | None, list[float | None] | None, bool | None]:
    """The chaining entries (absent from states saved before them): factors and foreign LRs >= 0, one per group."""
    factors, foreign, chainable = s.get("factors"), s.get("foreign"), s.get("chainable")
    if factors is not None:
        factors = _numbers(factors, "factors", n)
        if any(f < 0 for f in factors):
            raise bad_state(f"factors={short(factors)}; expected factors >= 0")
    if foreign is not None:
        if not isinstance(foreign, (list, tuple)) or len(foreign) != n or not all(
                x is None or (v.is_real(x) and 0 <= x < math.inf) for x in foreign):
            raise bad_state(f"foreign={short(foreign)}; expected a list of {n} LRs >= 0 or None")
        foreign = [None if x is None else float(x) for x in foreign]
    if chainable is not None and not isinstance(chainable, bool):
        raise bad_state(f"chainable={short(chainable)}; expected True or False")
    return factors, foreign, chainable


def check_starts(saved: SavedState, starts: list) -> None:
    """Each reached cooldown's recorded start is the LR its step has under the saved decisions."""
    for i, (c, want) in enumerate(zip(saved.cooldowns, starts)):
        got = c["start"]
        if got is not None and not all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(got, want)):
            raise bad_state(f"cooldown {i} at step {c['at']} records the start {short(got)}, but the schedule's LR "
                            f"multipliers at that step are {short(want)} (an edited state, or one saved by an older "
                            f"lrkit that left out a plateau reduction made at that step: replan=True continues from "
                            f"the latter)")


def position(stretches: Sequence[tuple[int, int, int]], step: int) -> float:
    """The schedule position of optimizer step ``step`` after the ``(step, old total, new total)`` stretches."""
    t = float(step)
    for at, old, new in reversed(stretches):
        if t > at:
            t = at + (t - at) * (old - at) / (new - at)
    return t


def check_controller(controller, saved: SavedState, replan: bool) -> None:
    """A plateau controller loaded from ``saved.controller`` (which its own checks let through), against the
    rules it runs by: no reduction after the saved step, a reduction per observation at most, and (unless
    re-planned to other rules) counters within patience and cooldown."""
    now = position(saved.stretches, saved.last_epoch)
    late = [r for r in controller.reductions if r > now]
    if late:
        raise bad_state(f"controller reductions {short(late)} lie after the saved step's position {now:g}")
    if not replan and (controller.num_bad > controller.patience or controller.cooldown_left > controller.cooldown):
        raise bad_state(f"controller num_bad={controller.num_bad}, cooldown_left={controller.cooldown_left} "
                        f"exceed the plateau's patience={controller.patience}, cooldown={controller.cooldown}")
    if "observations" in saved.controller and len(controller.reductions) > controller.observations:
        raise bad_state(f"controller has {len(controller.reductions)} reductions from {controller.observations} "
                        f"observations")


# ----- each check names the entry, the value and what was expected ---------------------------------------------
def short(value: Any) -> str:
    return v.clip(repr(value), 80)


def bad_state(what: str) -> StateMismatchError:
    return StateMismatchError(f"this is not a valid lrkit.torch.Scheduler state: {what}")


def _int(s: Mapping, key: str, lo: int = 0) -> int:
    x = s[key]
    if not isinstance(x, numbers.Integral) or isinstance(x, bool) or x < lo:
        raise bad_state(f"{key}={short(x)}; expected an integer >= {lo}")
    return int(x)


def _total(s: Mapping, key: str) -> int | None:
    x = s[key]
    if x is None:
        return None
    if not isinstance(x, numbers.Integral) or isinstance(x, bool) or x < 1:
        raise bad_state(f"{key}={short(x)}; expected None or a positive integer")
    return int(x)


def _numbers(x: Any, what: str, n: int | None) -> list[float]:
    if not isinstance(x, (list, tuple)) or not all(v.is_real(b) and math.isfinite(b) for b in x):
        raise bad_state(f"{what}={short(x)}; expected a list of finite numbers")
    if n is not None and len(x) != n:
        raise bad_state(f"{what} has {len(x)} values for {n} parameter groups")
    return [float(b) for b in x]


def _counters(s: Mapping, last: int) -> tuple[int, int, int, int]:
    """The step counters, consistent with each other: the steps counted cannot exceed the optimizer steps
    applied nor (since the count last restarted) the schedule's step, and each counted ``step()`` call advanced
    the step by at least one."""
    applied, counted, calls = (_int(s, k) for k in ("optimizer_steps", "last_counted", "step_count"))
    restart = _int(s, "restart") if "restart" in s else 0  # (the optimizer steps when a SequentialLR restarted it)
    last = max(last, 0)  # (-1: set back by a SequentialLR, counted as its first step)
    if counted > applied:
        raise bad_state(f"last_counted={counted} is above optimizer_steps={applied}; the optimizer steps counted "
                        f"cannot exceed those applied")
    if restart > counted:
        raise bad_state(f"restart={restart} is above last_counted={counted}; the count restarts at a step counted")
    if counted - restart > last:
        raise bad_state(f"last_counted={counted} is above last_epoch={last}; each optimizer step counted advances "
                        f"the schedule")
    if not 1 <= calls <= last + 1:
        raise bad_state(f"step_count={calls} with last_epoch={last}; expected 1 to {last + 1} (one for the first "
                        f"step, one per step() call that advanced)")
    return applied, counted, calls, restart


def _schedules(x: Any, n: int) -> dict[str, list[str]]:
    if not isinstance(x, Mapping) or "lr" not in x:
        raise bad_state(f"schedules={short(x)}; expected a dict with an 'lr' list of spec strings")
    out = {}
    for key, specs in x.items():
        if key not in HYPERPARAMS or not isinstance(specs, (list, tuple)) or len(specs) != n \
                or not all(isinstance(t, str) for t in specs):
            raise bad_state(f"schedules[{key!r}]={short(specs)}; expected a list of {n} spec strings for one of "
                            f"{', '.join(HYPERPARAMS)}")
        out[key] = list(specs)
    return out


def _convention(x: Any, mine: Convention | None) -> Convention:
    try:
        if isinstance(x, str):  # version 1 saved the name only
            return PRESETS.get(x) or (mine if mine is not None and x == mine.name else Convention(x))
        if isinstance(x, Mapping):  # a field added since (quirks) takes its preset's value, else its default
            preset = PRESETS.get(x.get("name")) if isinstance(x.get("name"), str) else None
            return Convention(**{**(dataclasses.asdict(preset) if preset else {}), **x})
    except (TypeError, SpecError):
        pass
    raise bad_state(f"convention={short(x)}; expected a preset name or the saved convention's fields")


def _bases(raw: Any, base_lrs: list[float], n: int) -> dict[str, list[float]]:
    """Each scheduled hyperparameter's base values: finite, >= 0, below 1 for betas and momentum, and the LR's
    equal to ``base_lrs``."""
    if not isinstance(raw, Mapping):
        raise bad_state(f"bases={short(raw)}; expected a dict of lists of numbers")
    out = {}
    for key, b in raw.items():
        if key not in HYPERPARAMS:
            raise bad_state(f"bases has {short(key)}; expected keys among {', '.join(HYPERPARAMS)}")
        values = _numbers(b, f"bases[{key!r}]", n)
        below = key in BELOW_ONE
        if not all(0.0 <= x < (1.0 if below else math.inf) for x in values):
            raise bad_state(f"bases[{key!r}]={short(values)}; expected values >= 0{' and below 1' if below else ''}")
        out[key] = values
    if any(x < 0.0 for x in base_lrs):
        raise bad_state(f"base_lrs={short(base_lrs)}; expected values >= 0")
    if "lr" in out and out["lr"] != base_lrs:
        raise bad_state(f"bases['lr']={short(out['lr'])} differ from base_lrs={short(base_lrs)}")
    return out


def _cooldowns(x: Any, n: int, last: int) -> list[dict]:
    """Each cooldown: at, decay >= 1, a form, a floor in [0, 1] (what ``cooldown()`` accepts), and a start that
    is recorded exactly when training has reached ``at``."""
    if not isinstance(x, (list, tuple)):
        raise bad_state(f"cooldowns={short(x)}; expected a list")
    out = []
    for c in x:
        ok = (isinstance(c, Mapping) and {"at", "decay", "form", "floor", "start"} <= set(c)
              and isinstance(c["at"], int) and not isinstance(c["at"], bool) and c["at"] >= 0
              and isinstance(c["decay"], int) and not isinstance(c["decay"], bool) and c["decay"] >= 1
              and c["form"] in FORMS and v.is_real(c["floor"]) and 0.0 <= c["floor"] <= 1.0)
        if not ok:
            raise bad_state(f"cooldown {short(c)}; expected at (step), decay (steps >= 1), form (one of "
                            f"{', '.join(FORMS)}), floor (in [0, 1]) and start")
        if (c["start"] is None) != (c["at"] > last):
            raise bad_state(f"cooldown {short(c)} at step {c['at']} with last_epoch={last}; a cooldown records its "
                            f"start exactly when training reaches its step")
        start = None if c["start"] is None else _numbers(c["start"], "cooldown start", n)
        out.append({"at": c["at"], "decay": c["decay"], "form": c["form"], "floor": float(c["floor"]),
                    "start": start})
    return out


def _stretches(x: Any, last: int) -> list[tuple[int, int, int]]:
    if not isinstance(x, (list, tuple)):
        raise bad_state(f"stretches={short(x)}; expected a list")
    out: list[tuple[int, int, int]] = []
    for st in x:
        if not (isinstance(st, (list, tuple)) and len(st) == 3 and all(
                isinstance(i, int) and not isinstance(i, bool) for i in st) and 0 <= st[0] < min(st[1], st[2])):
            raise bad_state(f"stretch {short(st)}; expected (step, old total, new total) with both totals after "
                            f"the step")
        if st[0] > last or (out and st[0] < out[-1][0]):
            raise bad_state(f"stretch {short(st)} after {[list(o) for o in out]} with last_epoch={last}; stretches "
                            f"are made at loads, in step order, at or before the saved step")
        out.append((st[0], st[1], st[2]))
    return out


def _total_changes(x: Any, total: int | None, eval_total: int | None,
                   stretches: list[tuple[int, int, int]], last: int) -> list[list] | None:
    """The changes of total_steps at loads, checked against the totals and stretches they explain: the schedule
    is evaluated over the first total the run had (``eval_total``), and each change starts from the last."""
    if eval_total is None and total is not None:
        raise bad_state(f"eval_total=None with total_steps={total}; a scheduler with a total evaluates over one")
    if x is None:  # saved before lrkit recorded them (or a run resumed from such a state): nothing to check
        return None
    if not isinstance(x, (list, tuple)):
        raise bad_state(f"total_changes={short(x)}; expected a list")
    out: list[list] = []
    for c in x:
        ok = (isinstance(c, (list, tuple)) and len(c) == 4 and isinstance(c[0], int) and not isinstance(c[0], bool)
              and 0 <= c[0] <= last and (not out or c[0] >= out[-1][0]) and c[3] in ("keep", "stretch")
              and all(t is None or (isinstance(t, int) and not isinstance(t, bool) and t >= 1) for t in c[1:3])
              and c[1] != c[2])
        if not ok:
            raise bad_state(f"total change {short(c)}; expected [step (in order, <= last_epoch={last}), old total, "
                            f"new total, 'keep' or 'stretch']")
        out.append(list(c))
    chain = [out[0][1]] + [c[2] for c in out] if out else [total]
    if any(a[2] != b[1] for a, b in zip(out, out[1:])) or chain[-1] != total:
        raise bad_state(f"total_changes={short(out)} do not lead to total_steps={total}")
    first = next((t for t in chain if t is not None), None)
    if eval_total != first:
        raise bad_state(f"eval_total={eval_total} with total_steps={total}; expected {first}, the run's first "
                        f"total, over which the schedule is evaluated" + (f" (total changes {short(out)})" if out else ""))
    if [tuple(c[:3]) for c in out if c[3] == "stretch"] != list(stretches):
        raise bad_state(f"stretches={short([list(t) for t in stretches])} are not the stretches among "
                        f"total_changes={short(out)}")
    return out
