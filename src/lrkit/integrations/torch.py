"""``lrkit.torch.Scheduler``: drive a PyTorch optimizer with lrkit schedules, and resume exactly.

The LR is never accumulated: at every step it is recomputed in closed form from the step count, the
schedule spec and each group's base value, so a new process that loads the state continues with
bit-identical values. The step counts optimizer steps actually applied, so gradient-accumulation
micro-steps and steps that AMP's GradScaler skips do not advance the schedule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from ..errors import SpecError
from ..schedules import Schedule
from ..schedules import validate as v
from .._math import SCALAR
from ..schedules.budget import DECAY_FORMS, cooldown_shape
from ..schedules.conventions import Convention, get_convention
from ..spec import parse

#: Hyperparameters other than the LR that can be scheduled, and where they live in a param group.
HYPERPARAMS = {"lr": ("lr", None), "weight_decay": ("weight_decay", None), "momentum": ("momentum", None),
               "beta1": ("betas", 0), "beta2": ("betas", 1)}
STATE_VERSION = 1


class StateMismatchError(SpecError):
    """The state being loaded was saved under a different schedule or total number of steps."""


def _per_group(value: Any, groups: list[dict], what: str) -> list[Schedule]:
    """One schedule per param group from a spec, a list (by index) or a dict (by index or group ``name``)."""
    n = len(groups)
    if isinstance(value, (str, Schedule)) or (isinstance(value, Mapping) and "family" in value):
        s = parse(value)
        return [s] * n
    if isinstance(value, Sequence):
        if len(value) != n:
            raise SpecError(f"{what}: got {len(value)} schedules for {n} parameter groups; give one per group, "
                            f"one for all, or a dict by group name or index")
        return [parse(x) for x in value]
    if isinstance(value, Mapping):
        names = {g.get("name"): i for i, g in enumerate(groups) if g.get("name") is not None}
        out: list[Schedule | None] = [None] * n
        for key, spec in value.items():
            if isinstance(key, int) and 0 <= key < n:
                i = key
            elif key in names:
                i = names[key]
            else:
                valid = [*range(n), *names]
                raise SpecError(f"{what}: no parameter group {key!r}; groups are {valid} (indices, or the 'name' "
                                f"key of a group)")
            out[i] = parse(spec)
        missing = [g.get("name", i) for i, (g, s) in enumerate(zip(groups, out)) if s is None]
        if missing:
            raise SpecError(f"{what}: no schedule for parameter groups {missing}; give one for every group")
        return out  # type: ignore[return-value]
    raise SpecError(f"{what}={value!r} is not a schedule spec, a list or a dict of them")


class Scheduler(LRScheduler):
    """A ``torch.optim.lr_scheduler.LRScheduler`` driven by lrkit schedules.

    Args:
        optimizer: any torch optimizer.
        schedule: a spec string, a :class:`~lrkit.Schedule`, a dict form, or one per group (a list by
            index, or a dict by index or by the group's ``name`` key). Each group's own base LR is the
            reference of its multiplier, so floors stay right per group.
        total_steps: the run's length in optimizer steps (needed by schedules that decay over the run).
        hyperparams: other hyperparameters to schedule the same way, e.g.
            ``{"weight_decay": "cosine(floor=0.1)", "beta2": "constant()"}`` (keys: weight_decay,
            momentum, beta1, beta2), as multipliers of each group's initial value.
        convention: lrkit's default or a library preset (``torch``, ``hf``, ``timm``, ``optax``).
        count: ``"optimizer"`` (default): the step is the number of optimizer steps actually applied,
            so extra ``step()`` calls without an optimizer step (gradient accumulation, AMP-skipped
            steps) change nothing. ``"calls"``: every ``step()`` call advances, as in torch.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: Any, total_steps: int | None = None, *,
                 hyperparams: Mapping[str, Any] | None = None, convention: str | Convention | None = None,
                 count: str = "optimizer") -> None:
        groups = optimizer.param_groups
        self.total_steps = None if total_steps is None else v.total_steps(total_steps, "total_steps")
        self._convention = get_convention(convention)
        self.count = v.choice("Scheduler", "count", count, ("optimizer", "calls"))
        specs = {"lr": _per_group(schedule, groups, "schedule")}
        for key, value in (hyperparams or {}).items():
            if key not in HYPERPARAMS or key == "lr":
                raise SpecError(f"hyperparams: {key!r} cannot be scheduled; expected one of "
                                f"{', '.join(k for k in HYPERPARAMS if k != 'lr')}{v.did_you_mean(key, HYPERPARAMS)}")
            field, _ = HYPERPARAMS[key]
            for i, g in enumerate(groups):
                if field not in g:
                    raise SpecError(f"hyperparams: {key!r} is scheduled but parameter group {i} of "
                                    f"{type(optimizer).__name__} has no {field!r}")
            specs[key] = _per_group(value, groups, f"hyperparams[{key!r}]")
        self._schedules: dict[str, list[Schedule]] = specs
        for key in specs:
            if key == "lr":
                continue
            for g in groups:
                g.setdefault(f"initial_{key}", _read(g, key))
        for key, scheds in specs.items():
            for s in scheds:
                if s.needs_total() and self.total_steps is None:
                    raise SpecError(f"{s} decays over the run and needs total_steps=")
        self._eval_total = self.total_steps
        self.cooldowns: list[dict] = []
        self.stretches: list[tuple[int, int, int]] = []
        self._optimizer_steps = 0
        self._last_counted = 0
        self._hook = optimizer.register_step_post_hook(self._on_optimizer_step)
        self._bound: dict | None = None
        super().__init__(optimizer, last_epoch=-1)

    # ----- the mathematics -------------------------------------------------------------------------
    def _on_optimizer_step(self, optimizer, args, kwargs) -> None:
        self._optimizer_steps += 1

    def _bindings(self) -> dict:
        if self._bound is None:
            self._bound = {key: [s.bind(self._eval_total, self._convention) for s in scheds]
                           for key, scheds in self._schedules.items()}
            self._shapes = [cooldown_shape(c["form"], 0.0) for c in self.cooldowns]
        return self._bound

    def position(self, step: int) -> float:
        """The schedule position of an optimizer step: the step itself, unless the run was stretched."""
        t = float(step)
        for at, old, new in reversed(self.stretches):
            if t > at:
                t = at + (t - at) * (old - at) / (new - at)
        return t

    def multipliers(self, key: str = "lr", step: int | None = None) -> list[float]:
        """Each group's multiplier of ``key`` at optimizer step ``step`` (default: the current step)."""
        step = self.last_epoch if step is None else step
        bound = self._bindings()[key]
        t = self.position(step)
        if key == "lr":
            for c, shape in zip(reversed(self.cooldowns), reversed(self._shapes)):
                if step >= c["at"]:
                    x = min((step - c["at"]) / c["decay"], 1.0)
                    return [c["floor"] + (start - c["floor"]) * shape(x, SCALAR) if start > c["floor"] else start
                            for start in c["start"]]
        return [b(t) for b in bound]

    def get_lr(self) -> list[float]:
        return [float(base) * m for base, m in zip(self.base_lrs, self.multipliers("lr"))]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def step(self, epoch: int | None = None) -> None:  # noqa: D102 - see class docstring
        if epoch is not None:
            raise TypeError("lrkit.torch.Scheduler.step() takes no epoch; the LR is a function of the step count, "
                            "set it with load_state_dict or by stepping")
        if self._is_initial:
            self.last_epoch = 0
        elif self.count == "calls":
            self.last_epoch += 1
        elif self._optimizer_steps > self._last_counted:
            self.last_epoch += self._optimizer_steps - self._last_counted
        else:
            return  # no optimizer step since the last call: accumulation or an AMP-skipped step
        self._last_counted = self._optimizer_steps
        self._step_count = getattr(self, "_step_count", 0) + 1
        self._apply()

    def _apply(self) -> None:
        groups = self.optimizer.param_groups
        for key in self._schedules:
            bases = self.base_lrs if key == "lr" else [g[f"initial_{key}"] for g in groups]
            for group, base, m in zip(groups, bases, self.multipliers(key)):
                _write(group, key, float(base) * m)
        self._last_lr = [_read(g, "lr") for g in groups]

    # ----- anytime cooldown and re-planning ------------------------------------------------------------
    def cooldown(self, steps: int, form: str = "1-sqrt", floor: float = 0.0, at: int | None = None) -> None:
        """Start a cooldown now (or at step ``at``): over ``steps`` optimizer steps the LR goes from its
        current value down to ``floor`` (a multiplier of the base LR) with the given WSD ``form``.

        It is recorded in the state, so a checkpoint taken before the call can be branched into
        several cooldowns (Hägele et al. 2024), and a resumed run continues it exactly.
        """
        at = self.last_epoch if at is None else v.integer("cooldown", "at", at, lo=self.last_epoch)
        steps = v.integer("cooldown", "steps", steps, lo=1)
        v.choice("cooldown", "form", form, DECAY_FORMS)
        if form == "exp":
            raise SpecError("cooldown: form='exp' is not available for an anytime cooldown; use linear, cosine, "
                            "1-sqrt or square")
        floor = v.number("cooldown", "floor", floor, lo=0.0)
        start = self.multipliers("lr", at)
        self.cooldowns.append({"at": at, "decay": steps, "form": form, "floor": floor, "start": start})
        self._bound = None
        self._apply()

    def _stretch(self, old: int | None, new: int | None) -> None:
        """Map the rest of the schedule, planned to end at ``old``, onto a run that ends at ``new``."""
        at = self.last_epoch
        if old is None or new is None:
            raise StateMismatchError("total_change='stretch' needs a total_steps both in the saved state and in "
                                     "this scheduler")
        if new <= at or old <= at:
            raise StateMismatchError(f"cannot stretch the schedule from step {at}: total_steps={new} (saved "
                                     f"{old}) leaves nothing after it")
        self.stretches.append((at, old, new))

    # ----- state ------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The step, the specs, the total, the convention, cooldowns and stretches: all a resume needs."""
        return {
            "version": STATE_VERSION,
            "last_epoch": self.last_epoch,
            "optimizer_steps": self._optimizer_steps,
            "last_counted": self._last_counted,
            "step_count": getattr(self, "_step_count", 0),
            "total_steps": self.total_steps,
            "eval_total": self._eval_total,
            "convention": self._convention.name,
            "count": self.count,
            "schedules": {key: [str(s) for s in scheds] for key, scheds in self._schedules.items()},
            "base_lrs": [float(b) for b in self.base_lrs],
            "cooldowns": [dict(c) for c in self.cooldowns],
            "stretches": [list(s) for s in self.stretches],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any], *, replan: bool = False,
                        total_change: str = "error") -> None:
        """Restore a saved state and write the resumed values into the optimizer.

        ``replan=True`` accepts a state saved under a different schedule (from the saved step on, this
        scheduler's schedule is followed). When ``total_steps`` differs from the saved one,
        ``total_change`` says what to do: ``"keep"`` the saved total (the decay ends where it was
        planned), ``"stretch"`` the remaining schedule over the new total (the LR stays continuous),
        or ``"error"`` (default).
        """
        s = dict(state_dict)
        if s.get("version") != STATE_VERSION:
            raise StateMismatchError(f"this state (version {s.get('version')!r}) was not saved by "
                                     f"lrkit.torch.Scheduler version {STATE_VERSION}")
        v.choice("load_state_dict", "total_change", total_change, ("error", "keep", "stretch"))
        saved = s["schedules"]
        mine = {key: [str(x) for x in scheds] for key, scheds in self._schedules.items()}
        if saved != mine and not replan:
            key = next((k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k)), "lr")
            raise StateMismatchError(f"the state was saved for {key} schedules {saved.get(key)} but this scheduler "
                                     f"has {mine.get(key)}; build it with the saved spec, or pass replan=True to "
                                     f"switch schedules from step {s['last_epoch']}")
        if s["convention"] != self._convention.name and not replan:
            raise StateMismatchError(f"the state was saved with convention {s['convention']!r}, this scheduler uses "
                                     f"{self._convention.name!r}")
        new_total = self.total_steps
        self.last_epoch = int(s["last_epoch"])
        self._optimizer_steps = int(s["optimizer_steps"])
        self._last_counted = int(s["last_counted"])
        self._step_count = int(s["step_count"])
        self.count = s["count"]
        self.base_lrs = list(s["base_lrs"])
        self.cooldowns = [dict(c) for c in s["cooldowns"]]
        self.stretches = [tuple(x) for x in s["stretches"]]
        self._eval_total = s["eval_total"]
        saved_total = s["total_steps"]
        if new_total != saved_total:
            if total_change == "error":
                raise StateMismatchError(f"the state was saved for total_steps={saved_total}, this scheduler has "
                                         f"total_steps={new_total}; pass total_change='keep' (decay where it was "
                                         f"planned) or 'stretch' (stretch the remaining schedule)")
            if total_change == "stretch":
                self._stretch(saved_total, new_total)
        self._bound = None
        self._apply()

    def __getstate__(self):  # the hook handle and compiled closures are rebuilt, not pickled
        state = self.__dict__.copy()
        state.pop("_hook", None)
        state["_bound"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._hook = self.optimizer.register_step_post_hook(self._on_optimizer_step)


def _read(group: dict, key: str) -> float:
    field, index = HYPERPARAMS[key]
    value = group[field] if index is None else group[field][index]
    return value.item() if isinstance(value, torch.Tensor) else float(value)


def _write(group: dict, key: str, value: float) -> None:
    field, index = HYPERPARAMS[key]
    if not math.isfinite(value):
        raise FloatingPointError(f"the scheduled {key} is not finite ({value})")
    if index is None:
        if isinstance(group[field], torch.Tensor):
            group[field].fill_(value)
        else:
            group[field] = value
        return
    current = group[field]
    if isinstance(current, torch.Tensor) or isinstance(current[index], torch.Tensor):
        current[index].fill_(value) if isinstance(current[index], torch.Tensor) else None
        return
    items = list(current)
    items[index] = value
    group[field] = type(current)(items)

