"""``lrkit.torch.Scheduler``: drive a PyTorch optimizer with lrkit schedules, and resume exactly.

The LR is never accumulated: at every step it is recomputed in closed form from the step count, the
schedule spec and each group's base value, so a new process that loads the state continues with
bit-identical values. The step counts optimizer steps actually applied (an optimizer
``register_step_post_hook``), so gradient-accumulation micro-steps and steps that AMP's GradScaler skips
do not advance the schedule, and there is no step-order warning to silence.

Everything the LR depends on is data in :meth:`Scheduler.state_dict`: the step, the specs, the base
values, the convention, and the decisions taken during the run (anytime cooldowns, re-planned totals).
A decision driven by a metric (a plateau phase) fits the same mould: record the step and the decision,
recompute the LR from them.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

from .._math import SCALAR
from ..errors import SpecError
from ..schedules import Schedule
from ..schedules import validate as v
from ..schedules.budget import DECAY_FORMS, cooldown_shape
from ..schedules.conventions import PRESETS, Convention, get_convention
from ..spec import parse

#: Hyperparameters that can be scheduled, and where they live in a param group (field, index in a tuple).
HYPERPARAMS = {"lr": ("lr", None), "weight_decay": ("weight_decay", None), "momentum": ("momentum", None),
               "beta1": ("betas", 0), "beta2": ("betas", 1)}
STATE_VERSION = 2
COOLDOWN_FORMS = tuple(f for f in DECAY_FORMS if f != "exp")
#: Hyperparameters that must stay in [0, 1) (torch's own rule for Adam's betas; momentum >= 1 diverges).
BELOW_ONE = ("beta1", "beta2", "momentum")
#: What every saved state holds (versions 1 and 2).
STATE_KEYS = ("last_epoch", "optimizer_steps", "last_counted", "step_count", "total_steps", "eval_total",
              "convention", "count", "schedules", "base_lrs", "cooldowns", "stretches")
_Tensor = torch.Tensor


class StateMismatchError(SpecError):
    """The state being loaded was saved under a different schedule, base LR or total number of steps."""


def _group_label(groups: list[dict], i: int) -> str:
    name = groups[i].get("name")
    return f"{i} ({name!r})" if name is not None else str(i)


def _per_group(value: Any, groups: list[dict], what: str) -> list[Schedule]:
    """One schedule per param group from a spec, a list (by index) or a dict (by index or group ``name``)."""
    n = len(groups)
    if isinstance(value, (str, Schedule)) or (isinstance(value, Mapping) and "family" in value):
        s = parse(value)
        return [s] * n
    if isinstance(value, Mapping):
        names: dict[Any, int] = {}
        for i, g in enumerate(groups):
            name = g.get("name")
            if name is not None:
                if name in names:
                    raise SpecError(f"{what}: parameter groups {names[name]} and {i} are both named {name!r}; "
                                    f"group names must be unique to select schedules by name")
                names[name] = i
        out: list[Schedule | None] = [None] * n
        given: dict[int, Any] = {}
        for key, spec in value.items():
            if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < n:
                i = key
            elif key in names:
                i = names[key]
            elif isinstance(key, str) and key.isdigit() and int(key) < n:  # JSON keys are strings
                i = int(key)
            else:
                valid = ", ".join([*map(str, range(n)), *map(repr, names)])
                raise SpecError(f"{what}: no parameter group {key!r}; groups are {valid} (an index, or the 'name' "
                                f"key of a group){v.did_you_mean(str(key), [str(k) for k in names])}")
            if i in given:
                raise SpecError(f"{what}: parameter group {_group_label(groups, i)} is given twice ({given[i]!r} and "
                                f"{key!r})")
            given[i] = key
            out[i] = parse(spec)
        missing = [_group_label(groups, i) for i, s in enumerate(out) if s is None]
        if missing:
            raise SpecError(f"{what}: no schedule for parameter group(s) {', '.join(missing)}; give one for every "
                            f"group")
        return out  # type: ignore[return-value]
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        if len(value) != n:
            raise SpecError(f"{what}: got {len(value)} schedules for {n} parameter groups; give one per group, "
                            f"one for all, or a dict by group name or index")
        return [parse(x) for x in value]
    raise SpecError(f"{what}={value!r} is not a schedule spec, a list or a dict of them")


def _to_float(value: Any) -> float:
    return float(value.item()) if isinstance(value, _Tensor) else float(value)


def _base_value(optimizer, i: int, key: str, value: Any) -> float:
    """Group ``i``'s base ``key`` as a float: a finite number >= 0 (a Python number or a one-element tensor)."""
    x = value.item() if isinstance(value, _Tensor) and value.numel() == 1 else value
    if not v.is_real(x) or not 0.0 <= float(x) < math.inf:  # type: ignore[arg-type]
        hint = (" (an optimizer that sets its own LR, such as transformers' Adafactor with relative_step=True, "
                "cannot be scheduled; give it lr= and relative_step=False)" if key == "lr" and value is None else "")
        raise SpecError(f"parameter group {_group_label(optimizer.param_groups, i)} of {type(optimizer).__name__} "
                        f"has {key}={value!r}; lrkit schedules multiply each group's base {key}, which must be a "
                        f"finite number >= 0{hint}")
    return float(x)  # type: ignore[arg-type]


def _plain_int(value: Any) -> Any:
    """A one-element integer tensor or array as a Python int (other values unchanged, for the checks)."""
    if hasattr(value, "item") and getattr(value, "shape", None) in ((), (1,)) and not isinstance(value, bool):
        x = value.item()
        return x if isinstance(x, int) else value
    return value


def check_hyperparams(hyperparams: Any) -> None:
    """Check a ``hyperparams=`` argument without an optimizer: a dict of schedulable keys and valid specs."""
    if hyperparams is None:
        return
    if not isinstance(hyperparams, Mapping):
        raise SpecError(f"hyperparams={hyperparams!r} is not a dict; expected e.g. "
                        f"{{'weight_decay': 'cosine(floor=0.1)'}}")
    for key, value in hyperparams.items():
        if key not in HYPERPARAMS or key == "lr":
            others = [k for k in HYPERPARAMS if k != "lr"]
            hint = "; Adam's betas are 'beta1' and 'beta2'" if key == "betas" else v.did_you_mean(str(key), others)
            raise SpecError(f"hyperparams: {key!r} cannot be scheduled; expected one of {', '.join(others)}{hint}")
        parse_specs(value, f"hyperparams[{key!r}]")


def parse_specs(value: Any, what: str = "schedule") -> list[Schedule]:
    """Every schedule in a spec, or in a per-group list or dict of them, parsed (no optimizer needed)."""
    if isinstance(value, (str, Schedule)) or (isinstance(value, Mapping) and "family" in value):
        return [parse(value)]
    if isinstance(value, Mapping):
        return [parse(x) for x in value.values()]
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return [parse(x) for x in value]
    raise SpecError(f"{what}={value!r} is not a schedule spec, a list or a dict of them")


class Scheduler(LRScheduler):
    """A ``torch.optim.lr_scheduler.LRScheduler`` driven by lrkit schedules.

    Args:
        optimizer: any torch optimizer (SGD, AdamW, Adafactor ...). Its groups may hold a tensor LR
            (``lr=torch.tensor(1e-3)``, for ``torch.compile``): it is updated in place with ``fill_``.
        schedule_or_spec: a spec string, a :class:`~lrkit.Schedule`, a dict form, or one per group (a
            list by index, or a dict by index or by the group's ``name`` key). A schedule gives
            multipliers; each group's own base LR is their reference, so floors stay right per group.
        total_steps: the run's length in optimizer steps (needed by schedules that decay over the run).
        hyperparams: other hyperparameters to schedule the same way, e.g.
            ``{"weight_decay": "cosine(floor=0.1)", "beta2": "constant()"}`` (keys: weight_decay,
            momentum, beta1, beta2), as multipliers of each group's initial value; one spec for all
            groups or one per group, as for the LR.
        convention: lrkit's default or a library preset (``torch``, ``hf``, ``timm``, ``optax``).
        count: ``"optimizer"`` (default): the step is the number of optimizer steps actually applied,
            so ``step()`` calls without an optimizer step in between (gradient accumulation,
            AMP-skipped steps) change nothing. ``"calls"``: every ``step()`` call advances, as in torch
            (use it to step once per epoch).
        total_change: what ``load_state_dict`` does when ``total_steps`` differs from the saved state's
            (``"error"``, ``"keep"``, ``"stretch"``); frameworks that call ``load_state_dict(state)``
            themselves (the HF Trainer, Lightning) resume a longer or shorter run this way.

    Call ``scheduler.step()`` after ``optimizer.step()`` (or ``scaler.step(optimizer)``), as with any
    torch scheduler. With a ``plateau(...)`` phase in the LR schedule (:mod:`lrkit.schedules.plateau`), feed
    the watched metric with ``scheduler.step(metrics=val_loss)``; a call without an optimizer step since the
    last one only feeds the metric. Its decisions are part of :meth:`state_dict`. ``get_last_lr()`` returns Python floats: the exact scheduled values (a tensor LR
    holds them rounded to its dtype).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule_or_spec: Any, total_steps: int | None = None, *,
                 hyperparams: Mapping[str, Any] | None = None, convention: str | Convention | None = None,
                 count: str = "optimizer", total_change: str = "error") -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"lrkit.torch.Scheduler: {type(optimizer).__name__} is not a torch.optim.Optimizer")
        groups = optimizer.param_groups
        self._total_steps = None if total_steps is None else v.total_steps(_plain_int(total_steps), "total_steps")
        self._convention = get_convention(convention)
        self.count = v.choice("Scheduler", "count", count, ("optimizer", "calls"))
        self.total_change = v.choice("Scheduler", "total_change", total_change, ("error", "keep", "stretch"))
        schedules = {"lr": _per_group(schedule_or_spec, groups, "schedule")}
        for i, g in enumerate(groups):  # torch's base class reads initial_lr, set from lr where absent
            _base_value(optimizer, i, "lr", g["initial_lr"] if "initial_lr" in g else g.get("lr"))
        check_hyperparams(hyperparams)
        for key, value in (hyperparams or {}).items():
            field, index = HYPERPARAMS[key]
            for i, g in enumerate(groups):
                if field not in g or (index is not None and not isinstance(g[field], (tuple, list, _Tensor))):
                    adam = key == "momentum" and "betas" in g
                    hint = "; Adam-style optimizers keep momentum in beta1" if adam else ""
                    raise SpecError(f"hyperparams: {key!r} is scheduled but parameter group {_group_label(groups, i)} "
                                    f"of {type(optimizer).__name__} has no {field!r}"
                                    f"{'' if index is None else ' tuple'}{hint}")
                _base_value(optimizer, i, key, g.get(f"initial_{key}", _raw(g, key)))
            if all(_to_float(g.get(f"initial_{key}", _raw(g, key))) == 0.0 for g in groups):
                raise SpecError(f"hyperparams: {key!r} is scheduled, but it is 0 in every parameter group of "
                                f"{type(optimizer).__name__}, and a schedule multiplies it, so it would stay 0; set "
                                f"{HYPERPARAMS[key][0]}= on the optimizer")
            schedules[key] = _per_group(value, groups, f"hyperparams[{key!r}]")
        for key, scheds in schedules.items():
            for i, s in enumerate(scheds):
                if s.needs_total() and self._total_steps is None:
                    raise SpecError(f"{s} decays over the run and needs total_steps= (the number of optimizer steps)")
        self._schedules: dict[str, list[Schedule]] = schedules
        # The reference value of each scheduled hyperparameter, kept in the group like torch's initial_lr
        # (so a scheduler built after optimizer.load_state_dict finds the original values).
        for key in schedules:
            if key != "lr":
                for g in groups:
                    g.setdefault(f"initial_{key}", _read(g, key))
        self._eval_total = self._total_steps
        #: The controller of metric-driven phases (``plateau``) in the LR schedules, or None.
        self._controller = _controller(schedules["lr"], self._eval_total, self._convention)
        self.cooldowns: list[dict] = []
        self.stretches: list[tuple[int, int, int]] = []
        #: Every change of total_steps at a load: [step, old total, new total, 'keep' or 'stretch'].
        self.total_changes: list[list] | None = []
        self._optimizer_steps = 0
        self._last_counted = 0
        self._plan: tuple | None = None
        self._last_lr: list[float] = []
        self._register_hook(optimizer)
        had_step = "step" in optimizer.__dict__
        super().__init__(optimizer, last_epoch=-1)
        # torch's base class wraps optimizer.step to warn about the call order; this scheduler counts
        # applied steps with a hook instead, and the wrapper stops torch.compile from tracing the step.
        wrapped = optimizer.__dict__.get("step")
        if not had_step and getattr(wrapped, "_wrapped_by_lr_sched", False):
            del optimizer.step
        self.base_lrs = [_to_float(b) for b in self.base_lrs]
        self._bases = {key: (list(self.base_lrs) if key == "lr" else
                             [_to_float(g[f"initial_{key}"]) for g in groups]) for key in schedules}
        self._build_plan()
        self._check_below_one_ahead()
        self._apply()

    @property
    def total_steps(self) -> int:
        """The run's length in optimizer steps; absent (``AttributeError``) for a schedule without an end,
        so that code probing ``hasattr(scheduler, "total_steps")`` (accelerate does) skips it."""
        if self._total_steps is None:
            raise AttributeError("this scheduler was built without total_steps")
        return self._total_steps

    # ----- counting applied optimizer steps ------------------------------------------------------
    def _register_hook(self, optimizer) -> None:
        ref = weakref.ref(self)

        def hook(opt, args, kwargs, ref=ref):  # a weak reference: a discarded scheduler stops counting
            me = ref()
            if me is not None:
                me._optimizer_steps += 1

        self._hook = _innermost(optimizer).register_step_post_hook(hook)

    # ----- the mathematics -------------------------------------------------------------------------
    def _build_plan(self) -> None:
        """Bind each distinct schedule once; a step then evaluates each distinct schedule once."""
        plan = []
        for key, scheds in self._schedules.items():
            if key == "lr" and getattr(self, "_controller", None) is not None:
                scheds = self._controller.schedules  # with the reductions recorded so far
            fns: list = []
            index: dict[Schedule, int] = {}
            slots = []
            for s in scheds:
                if s not in index:
                    index[s] = len(fns)
                    fns.append(s.bind(self._eval_total, self._convention).fn)
                slots.append(index[s])
            plan.append((key, HYPERPARAMS[key], fns, slots, self._bases[key]))
        self._plan = tuple(plan)
        self._shapes = [cooldown_shape(c["form"], 0.0) for c in self.cooldowns]
        self._simple = not self.cooldowns and not self.stretches

    def position(self, step: int) -> float:
        """The schedule position of an optimizer step: the step itself, unless the run was stretched."""
        return _position(self.stretches, step)

    @staticmethod
    def _values(key: str, fns, slots, t: float) -> list[float]:
        """The multipliers of every group at position ``t``, each distinct schedule evaluated once."""
        if len(fns) == 1:
            m = float(fns[0](t, SCALAR))
            if not -math.inf < m < math.inf:
                raise FloatingPointError(f"the scheduled {key} multiplier at position {t} is not finite ({m})")
            return [m] * len(slots)
        ms = [float(f(t, SCALAR)) for f in fns]
        for m in ms:
            if not -math.inf < m < math.inf:
                raise FloatingPointError(f"the scheduled {key} multiplier at position {t} is not finite ({m})")
        return [ms[j] for j in slots]

    def multipliers(self, key: str = "lr", step: int | None = None) -> list[float]:
        """Each group's multiplier of ``key`` at optimizer step ``step`` (default: the current step)."""
        if key not in self._schedules:
            raise SpecError(f"multipliers: {key!r} is not scheduled here; scheduled: {', '.join(self._schedules)}")
        step = self.last_epoch if step is None else v.integer("multipliers", "step", step, lo=0)
        if self._plan is None:
            self._build_plan()
        if key == "lr":
            return self._lr_multipliers(step, len(self.cooldowns))
        for k, _, fns, slots, _ in self._plan:  # type: ignore[union-attr]
            if k == key:
                return self._values(key, fns, slots, self.position(step))
        raise AssertionError(key)  # pragma: no cover

    def _lr_multipliers(self, step: int, n_cooldowns: int) -> list[float]:
        """LR multipliers at ``step`` under the schedule and the first ``n_cooldowns`` cooldowns."""
        for i in range(n_cooldowns - 1, -1, -1):
            c = self.cooldowns[i]
            if step >= c["at"]:
                # a cooldown set for a later step starts from the LR of that step, plateau reductions and
                # re-plans before it included: its start is fixed only once training reaches it
                starts = c["start"] if c["start"] is not None else self._lr_multipliers(c["at"], i)
                x = min((step - c["at"]) / c["decay"], 1.0)
                lo = c["floor"]
                shape = self._shapes[i]
                return [lo + (start - lo) * shape(x, SCALAR) if start > lo else start for start in starts]
        for k, _, fns, slots, _ in self._plan:  # type: ignore[union-attr]
            if k == "lr":
                return self._values("lr", fns, slots, self.position(step))
        raise AssertionError("lr")  # pragma: no cover

    def _fix_cooldown_starts(self) -> None:
        """Record the start of every cooldown that training has reached (kept in the state from then on)."""
        for i, c in enumerate(self.cooldowns):
            if c["start"] is None and self.last_epoch >= c["at"]:
                c["start"] = self._lr_multipliers(c["at"], i)

    def get_lr(self) -> list[float]:
        """The LR of each group at the current step (what ``step()`` writes)."""
        return [base * m for base, m in zip(self.base_lrs, self.multipliers("lr"))]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def step(self, epoch: int | None = None, *, metrics: Any = None) -> None:  # noqa: D102 - see class docstring
        if epoch is not None:
            raise TypeError("lrkit.torch.Scheduler.step() takes no epoch; the LR is a function of the step count "
                            "(restore a step with load_state_dict)")
        if self._is_initial:
            self.last_epoch = 0
        elif self.count == "calls":
            self.last_epoch += 1
        else:
            n = self._optimizer_steps
            if n == self._last_counted:
                if metrics is not None:
                    self._observe(metrics)
                return  # no optimizer step since the last call: accumulation or an AMP-skipped step
            self.last_epoch += n - self._last_counted
            self._last_counted = n
        self._step_count += 1
        if self._plan is not None:
            self._apply()
        if metrics is not None:
            self._observe(metrics)

    def _observe(self, metrics: Any) -> None:
        """Feed a metric to the plateau phases: a reduction is recorded at the current step, the LR recomputed."""
        if self._controller is None:
            raise SpecError(f"step(metrics=...): the LR schedule has no plateau(...) phase to feed; it is "
                            f"{_show([str(x) for x in self._schedules['lr']])}")
        if hasattr(metrics, "item"):  # a tensor or numpy value: it must hold one number
            size = metrics.numel() if isinstance(metrics, _Tensor) else getattr(metrics, "size", 1)
            if size != 1:
                raise SpecError(f"step(metrics=...): got {size} values ({type(metrics).__name__} of shape "
                                f"{tuple(metrics.shape)}); expected one number, such as the mean validation loss")
            metrics = metrics.item()
        if self._controller.observe(metrics, self.position(self.last_epoch)):
            self._build_plan()
            self._apply()

    def _apply(self) -> None:
        """Write every scheduled value of the current step into the optimizer's groups."""
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise RuntimeError(f"lrkit.torch.Scheduler: the optimizer has {len(groups)} parameter groups, the "
                               f"scheduler was built for {len(self.base_lrs)}; build a new scheduler after "
                               f"add_param_group")
        step = self.last_epoch
        if self.cooldowns:
            self._fix_cooldown_starts()
        if self._simple:
            t = float(step)
            for key, (field, index), fns, slots, bases in self._plan:  # type: ignore[union-attr]
                values = [b * m for b, m in zip(bases, self._values(key, fns, slots, t))]
                if key in BELOW_ONE:
                    self._check_below_one(key, values, step)
                _write_all(groups, field, index, values)
                if key == "lr":
                    self._last_lr = values
            return
        for key, (field, index), _, _, bases in self._plan:  # type: ignore[union-attr]
            values = [b * m for b, m in zip(bases, self.multipliers(key, step))]
            if key in BELOW_ONE:
                self._check_below_one(key, values, step)
            _write_all(groups, field, index, values)
            if key == "lr":
                self._last_lr = values

    def _check_below_one(self, key: str, values: list[float], step: int) -> None:
        for i, x in enumerate(values):
            if not 0.0 <= x < 1.0:
                raise SpecError(f"hyperparams[{key!r}]: {self._schedules[key][i]} takes {key} of parameter group "
                                f"{_group_label(self.optimizer.param_groups, i)} to {x:g} at step {step} (base "
                                f"{self._bases[key][i]:g}); {key} must stay in [0, 1), so its multiplier must stay "
                                f"below {1.0 / self._bases[key][i]:g}")

    def _check_below_one_ahead(self) -> None:
        """With a total, check the run of each [0, 1) hyperparameter now, not at the step that breaks it: every
        step of a run up to ``AHEAD_STEPS`` long, else that many steps spread evenly over it, in chunks (the cost
        does not grow with the total; a value between the steps checked is still caught at its step)."""
        if self._total_steps is None:
            return
        for key in BELOW_ONE:
            for i, (s, b) in enumerate(zip(self._schedules.get(key, ()), self._bases.get(key, ()))):
                bound = s.bind(self._eval_total, self._convention)
                top, at = -math.inf, 0
                for steps in _ahead_steps(self._total_steps):
                    ms = bound(steps)
                    j = int(np.argmax(ms))
                    if ms[j] > top:
                        top, at = float(ms[j]), int(steps[j])
                if b * top >= 1.0:
                    self._check_below_one(key, [b * top if k == i else 0.0 for k in range(len(self._bases[key]))], at)

    def get_last_lr(self) -> list[float]:
        """The LR of each group written by the last ``step()`` (Python floats)."""
        return list(self._last_lr)

    # ----- anytime cooldown and re-planning ------------------------------------------------------------
    def cooldown(self, steps: int, form: str = "1-sqrt", floor: float = 0.0, at: int | None = None) -> None:
        """Start a cooldown now (or at a later step ``at``): over ``steps`` optimizer steps each group's
        LR goes from its value at ``at`` down to ``floor`` times its base LR, with the given WSD ``form``
        (``linear``, ``cosine``, ``1-sqrt``, ``square``; Hägele et al. 2024).

        It is recorded in the state, so a checkpoint taken before the call can be branched into several
        cooldowns, and a resumed run continues it exactly. A later cooldown replaces an earlier one from
        its own ``at`` on.
        """
        at = self.last_epoch if at is None else v.integer("cooldown", "at", at, lo=max(self.last_epoch, 0))
        steps = v.integer("cooldown", "steps", steps, lo=1)
        if form == "exp":
            raise SpecError("cooldown: form='exp' is not available for an anytime cooldown; expected one of "
                            f"{', '.join(COOLDOWN_FORMS)}")
        v.choice("cooldown", "form", form, COOLDOWN_FORMS)
        floor = v.number("cooldown", "floor", floor, lo=0.0, hi=1.0)
        start = self.multipliers("lr", at) if at <= self.last_epoch else None  # a later start: fixed on arrival
        self.cooldowns.append({"at": at, "decay": steps, "form": form, "floor": floor, "start": start})
        self._build_plan()
        self._apply()

    # ----- state ------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The step, the specs, the bases, the total, the convention, cooldowns and stretches: all a resume
        needs. Plain Python values only (``torch.save`` / ``json`` friendly)."""
        return {
            "version": STATE_VERSION,
            "last_epoch": self.last_epoch,
            "optimizer_steps": self._optimizer_steps,
            "last_counted": self._last_counted,
            "step_count": self._step_count,
            "total_steps": self._total_steps,
            "eval_total": self._eval_total,
            "convention": dataclasses.asdict(self._convention),
            "count": self.count,
            "schedules": {key: [str(s) for s in scheds] for key, scheds in self._schedules.items()},
            "bases": {key: list(b) for key, b in self._bases.items()},
            "base_lrs": list(self.base_lrs),
            "cooldowns": [dict(c, start=None if c["start"] is None else list(c["start"])) for c in self.cooldowns],
            "stretches": [list(s) for s in self.stretches],
            "total_changes": None if self.total_changes is None else [list(c) for c in self.total_changes],
            "controller": None if self._controller is None else self._controller.state_dict(),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any], *, replan: bool = False,
                        total_change: str | None = None) -> None:
        """Restore a saved state and write the resumed values into the optimizer.

        The state must have been saved by a scheduler with the same schedules, base values, convention
        and number of groups, else :class:`StateMismatchError` (one line naming both). ``replan=True``
        accepts a different schedule or base LR: from the saved step on, this scheduler's are followed.
        When ``total_steps`` differs from the saved one, ``total_change`` says what to do: ``"keep"``
        the saved plan (the decay ends where it was planned; the LR then holds its end value),
        ``"stretch"`` the rest of the schedule, from the saved step, over the new total (the LR is
        continuous at the resume step), or ``"error"`` (the default). A state that fails a check changes
        nothing.
        """
        if not isinstance(state_dict, Mapping):
            raise StateMismatchError(f"load_state_dict: got {type(state_dict).__name__} {_short(state_dict)}; "
                                     f"expected the dict saved by lrkit.torch.Scheduler.state_dict()")
        s = dict(state_dict)
        version = s.get("version")
        if type(version) is not int or version not in (1, STATE_VERSION):
            raise StateMismatchError(f"this state (version {version!r}) was not saved by lrkit.torch.Scheduler "
                                     f"(state version {STATE_VERSION})")
        if not isinstance(replan, bool):
            raise SpecError(f"load_state_dict: replan={replan!r} is not True or False")
        total_change = self.total_change if total_change is None else total_change
        v.choice("load_state_dict", "total_change", total_change, ("error", "keep", "stretch"))
        # --- validate everything first: a failed load leaves the scheduler untouched ---
        missing = [k for k in STATE_KEYS if k not in s]
        if missing:
            raise StateMismatchError(f"this state lacks {', '.join(map(repr, missing))}; it is not a complete "
                                     f"lrkit.torch.Scheduler state")
        last = _state_int(s, "last_epoch")
        counters = _state_counters(s, last)
        saved_total, saved_eval = _state_total(s, "total_steps"), _state_total(s, "eval_total")
        n_mine = len(self.base_lrs)
        base_lrs = _state_numbers(s["base_lrs"], "base_lrs", None)
        n_saved = len(base_lrs)
        if n_saved != n_mine:
            raise StateMismatchError(f"the state was saved for {n_saved} parameter groups, this optimizer has "
                                     f"{n_mine}")
        saved = _state_schedules(s["schedules"], n_saved)
        mine = {key: [str(x) for x in scheds] for key, scheds in self._schedules.items()}
        if saved != mine and not replan:
            key = next(k for k in [*mine, *saved] if saved.get(k) != mine.get(k))
            raise StateMismatchError(f"the state was saved with {key} schedule {_show(saved.get(key))} but this "
                                     f"scheduler has {_show(mine.get(key))}; build it with the saved spec, or pass "
                                     f"replan=True to switch schedules from step {last}")
        saved_conv = _state_convention(s["convention"], self._convention)
        if saved_conv != self._convention and not replan:
            if saved_conv.name == self._convention.name:
                diff = ", ".join(f"{f.name}={getattr(saved_conv, f.name)!r}" for f in dataclasses.fields(saved_conv)
                                 if getattr(saved_conv, f.name) != getattr(self._convention, f.name))
                raise StateMismatchError(f"the state was saved with convention {saved_conv.name!r} set differently "
                                         f"({diff}); pass replan=True to use this scheduler's")
            raise StateMismatchError(f"the state was saved with convention {saved_conv.name!r}, this scheduler uses "
                                     f"{self._convention.name!r}; build it with convention={saved_conv.name!r} or "
                                     f"pass replan=True")
        raw_bases = s.get("bases") or {"lr": base_lrs}
        if not isinstance(raw_bases, Mapping):
            raise _bad_state(f"bases={_short(raw_bases)}; expected a dict of lists of numbers")
        saved_bases = _state_bases(raw_bases, base_lrs, n_saved)
        if not replan:
            for key, b in saved_bases.items():
                if key in self._bases and b != self._bases[key]:
                    raise StateMismatchError(f"the state was saved with base {key} {b} but this "
                                             f"optimizer's are {self._bases[key]}; build the optimizer with the saved "
                                             f"values, or pass replan=True to use the new ones")
        if s["count"] not in ("optimizer", "calls"):
            raise _bad_state(f"count={_short(s['count'])}; expected 'optimizer' or 'calls'")
        if s["count"] != self.count and not replan:
            raise StateMismatchError(f"the state was saved with count={s['count']!r}, this scheduler counts "
                                     f"{self.count!r}")
        cooldowns = _state_cooldowns(s["cooldowns"], n_saved, last)
        stretches = _state_stretches(s["stretches"], last)
        changes = _state_total_changes(s.get("total_changes"), saved_total, saved_eval, stretches, last)
        new_total = self._total_steps
        if new_total != saved_total:
            if total_change == "error":
                raise StateMismatchError(f"the state was saved for total_steps={saved_total}, this scheduler has "
                                         f"total_steps={new_total}; pass total_change='keep' (decay where it was "
                                         f"planned) or 'stretch' (stretch the remaining schedule over the new total)")
            if total_change == "stretch":
                if saved_total is None or new_total is None:
                    raise StateMismatchError("total_change='stretch' needs total_steps both in the saved state and "
                                             "in this scheduler")
                if new_total <= last or saved_total <= last:
                    raise StateMismatchError(f"cannot stretch the schedule from step {last}: total_steps={new_total} "
                                             f"(saved {saved_total}) leaves nothing after it")
                stretches.append((last, saved_total, new_total))
            if changes is not None:
                changes.append([last, saved_total, new_total, total_change])
        if replan:
            for key, scheds in self._schedules.items():
                for sch in scheds:
                    if sch.needs_total() and saved_eval is None and self._total_steps is None:
                        raise StateMismatchError(f"{sch} needs a total number of steps, and neither the state nor "
                                                 f"this scheduler has one")
        eval_total = saved_eval if saved_eval is not None else self._total_steps
        controller = _controller(self._schedules["lr"], eval_total, self._convention)
        if controller is not None and s.get("controller"):
            try:
                controller.load_state_dict(s["controller"])
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise _bad_state(f"controller={_short(s['controller'])} is not a plateau controller's state "
                                 f"({type(e).__name__}: {e})") from None
            _check_controller(controller, s["controller"], _position(stretches, last), replan)
        # --- then restore ---
        self.last_epoch = last
        self._optimizer_steps = counters["optimizer_steps"]
        self._last_counted = counters["last_counted"]
        self._step_count = counters["step_count"]
        if not replan:
            self._bases = {key: list(saved_bases.get(key, self._bases[key])) for key in self._bases}
            self.base_lrs = list(self._bases["lr"])
        self.cooldowns = cooldowns
        self.stretches = stretches
        self.total_changes = changes
        self._eval_total = eval_total
        self._controller = controller
        self._build_plan()
        self._apply()

    def __getstate__(self):  # the hook handle and compiled closures are rebuilt, not pickled
        state = self.__dict__.copy()
        for key in ("_hook", "_plan", "_shapes"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._register_hook(self.optimizer)
        self._build_plan()


def _controller(schedules: list[Schedule], total: int | None, convention: Convention):
    """The controller of the metric-driven phases in ``schedules`` (a node whose class has
    ``make_controller``, such as ``plateau`` of :mod:`lrkit.schedules.plateau`), or None."""
    def walk(x: Schedule):
        yield x
        for c in x.children():
            yield from walk(c)

    for sch in schedules:
        for node in walk(sch):
            make = getattr(type(node), "make_controller", None)
            if make is not None:
                return make(schedules, total, convention)
    return None


#: The ahead check of a [0, 1) hyperparameter evaluates at most this many steps, ``AHEAD_CHUNK`` at a time.
AHEAD_STEPS = 2**20
AHEAD_CHUNK = 2**16


def _ahead_steps(total: int):
    """Steps ``0 .. total`` in chunks: all of them, or ``AHEAD_STEPS`` spread evenly (both ends included)."""
    n = total + 1
    k = min(n, AHEAD_STEPS)
    for a in range(0, k, AHEAD_CHUNK):
        idx = np.arange(a, min(a + AHEAD_CHUNK, k), dtype=np.int64)
        yield idx if k == n else np.minimum(np.round(idx * ((n - 1) / (k - 1))), n - 1).astype(np.int64)


def _position(stretches: Sequence[tuple[int, int, int]], step: int) -> float:
    """The schedule position of optimizer step ``step`` after the ``(step, old total, new total)`` stretches."""
    t = float(step)
    for at, old, new in reversed(stretches):
        if t > at:
            t = at + (t - at) * (old - at) / (new - at)
    return t


def _show(specs: list[str] | None) -> str:
    if specs is None:
        return "(none)"
    if len(set(specs)) == 1:
        return repr(specs[0]) + (f" for all {len(specs)} groups" if len(specs) > 1 else "")
    return "[" + ", ".join(repr(x) for x in specs) + "]"


def _innermost(optimizer):
    """The optimizer that really steps: wrappers such as accelerate's ``AcceleratedOptimizer`` hold it in
    ``.optimizer`` and call its ``step`` only for steps actually applied (not accumulation micro-steps)."""
    while not hasattr(optimizer, "_optimizer_step_post_hooks") and isinstance(
            getattr(optimizer, "optimizer", None), torch.optim.Optimizer):
        optimizer = optimizer.optimizer
    return optimizer


def _raw(group: dict, key: str) -> Any:
    field, index = HYPERPARAMS[key]
    return group[field] if index is None else group[field][index]


def _read(group: dict, key: str) -> float:
    return _to_float(_raw(group, key))


def _write_all(groups: list[dict], field: str, index: int | None, values: list[float]) -> None:
    if index is None:
        for g, x in zip(groups, values):
            current = g[field]
            if current.__class__ is float:
                g[field] = x
            elif isinstance(current, _Tensor):
                _fill(current, x)
            else:
                g[field] = x
        return
    for g, x in zip(groups, values):
        current = g[field]
        if isinstance(current, _Tensor):
            _fill(current[index], x)
            continue
        item = current[index]
        if isinstance(item, _Tensor):
            _fill(item, x)
            continue
        items = list(current)
        items[index] = x
        g[field] = type(current)(items)


def _fill(tensor: _Tensor, x: float) -> None:
    """Write ``x`` into a tensor hyperparameter in place (also one that requires grad, as a learned LR does)."""
    if tensor.requires_grad:
        with torch.no_grad():
            tensor.fill_(x)
    else:
        tensor.fill_(x)


# ----- checks of a saved state: each names the entry, the value and what was expected -------------------------
def _short(value: Any) -> str:
    return v.clip(repr(value), 80)


def _bad_state(what: str) -> StateMismatchError:
    return StateMismatchError(f"this is not a valid lrkit.torch.Scheduler state: {what}")


def _state_int(s: Mapping, key: str, lo: int = 0) -> int:
    x = s[key]
    if not isinstance(x, numbers.Integral) or isinstance(x, bool) or x < lo:
        raise _bad_state(f"{key}={_short(x)}; expected an integer >= {lo}")
    return int(x)


def _state_total(s: Mapping, key: str) -> int | None:
    x = s[key]
    if x is None:
        return None
    if not isinstance(x, numbers.Integral) or isinstance(x, bool) or x < 1:
        raise _bad_state(f"{key}={_short(x)}; expected None or a positive integer")
    return int(x)


def _state_numbers(x: Any, what: str, n: int | None) -> list[float]:
    if not isinstance(x, (list, tuple)) or not all(v.is_real(b) and math.isfinite(b) for b in x):
        raise _bad_state(f"{what}={_short(x)}; expected a list of finite numbers")
    if n is not None and len(x) != n:
        raise _bad_state(f"{what} has {len(x)} values for {n} parameter groups")
    return [float(b) for b in x]


def _state_schedules(x: Any, n: int) -> dict[str, list[str]]:
    if not isinstance(x, Mapping) or "lr" not in x:
        raise _bad_state(f"schedules={_short(x)}; expected a dict with an 'lr' list of spec strings")
    out = {}
    for key, specs in x.items():
        if key not in HYPERPARAMS or not isinstance(specs, (list, tuple)) or len(specs) != n \
                or not all(isinstance(t, str) for t in specs):
            raise _bad_state(f"schedules[{key!r}]={_short(specs)}; expected a list of {n} spec strings for one of "
                             f"{', '.join(HYPERPARAMS)}")
        out[key] = list(specs)
    return out


def _state_convention(x: Any, mine: Convention) -> Convention:
    try:
        if isinstance(x, str):  # version 1 saved the name only
            return PRESETS.get(x) or (mine if x == mine.name else Convention(x))
        if isinstance(x, Mapping):
            return Convention(**x)
    except (TypeError, SpecError):
        pass
    raise _bad_state(f"convention={_short(x)}; expected a preset name or the saved convention's fields")


def _state_counters(s: Mapping, last: int) -> dict[str, int]:
    """The step counters, consistent with each other: the steps counted cannot exceed the optimizer steps
    applied nor the schedule's step, and each counted ``step()`` call advanced the step by at least one."""
    c = {k: _state_int(s, k) for k in ("optimizer_steps", "last_counted", "step_count")}
    if c["last_counted"] > c["optimizer_steps"]:
        raise _bad_state(f"last_counted={c['last_counted']} is above optimizer_steps={c['optimizer_steps']}; the "
                         f"optimizer steps counted cannot exceed those applied")
    if c["last_counted"] > last:
        raise _bad_state(f"last_counted={c['last_counted']} is above last_epoch={last}; each optimizer step counted "
                         f"advances the schedule")
    if not 1 <= c["step_count"] <= last + 1:
        raise _bad_state(f"step_count={c['step_count']} with last_epoch={last}; expected 1 to {last + 1} (one for "
                         f"the first step, one per step() call that advanced)")
    return c


def _state_bases(raw: Any, base_lrs: list[float], n: int) -> dict[str, list[float]]:
    """Each scheduled hyperparameter's base values: finite, >= 0, below 1 for betas and momentum, and the LR's
    equal to ``base_lrs``."""
    if not isinstance(raw, Mapping):
        raise _bad_state(f"bases={_short(raw)}; expected a dict of lists of numbers")
    out = {}
    for key, b in raw.items():
        if key not in HYPERPARAMS:
            raise _bad_state(f"bases has {_short(key)}; expected keys among {', '.join(HYPERPARAMS)}")
        values = _state_numbers(b, f"bases[{key!r}]", n)
        hi = 1.0 if key in BELOW_ONE else math.inf
        if not all(0.0 <= x < hi for x in values):
            raise _bad_state(f"bases[{key!r}]={_short(values)}; expected values >= 0{' and below 1' if key in BELOW_ONE else ''}")
        out[key] = values
    if any(x < 0.0 for x in base_lrs):
        raise _bad_state(f"base_lrs={_short(base_lrs)}; expected values >= 0")
    if "lr" in out and out["lr"] != base_lrs:
        raise _bad_state(f"bases['lr']={_short(out['lr'])} differ from base_lrs={_short(base_lrs)}")
    return out


def _state_cooldowns(x: Any, n: int, last: int) -> list[dict]:
    """Each cooldown: at, decay >= 1, a form, a floor in [0, 1] (what ``cooldown()`` accepts), and a start that
    is recorded exactly when training has reached ``at``."""
    if not isinstance(x, (list, tuple)):
        raise _bad_state(f"cooldowns={_short(x)}; expected a list")
    out = []
    for c in x:
        ok = (isinstance(c, Mapping) and {"at", "decay", "form", "floor", "start"} <= set(c)
              and isinstance(c["at"], int) and not isinstance(c["at"], bool) and c["at"] >= 0
              and isinstance(c["decay"], int) and not isinstance(c["decay"], bool) and c["decay"] >= 1
              and c["form"] in COOLDOWN_FORMS and v.is_real(c["floor"]) and 0.0 <= c["floor"] <= 1.0)
        if not ok:
            raise _bad_state(f"cooldown {_short(c)}; expected at (step), decay (steps >= 1), form (one of "
                             f"{', '.join(COOLDOWN_FORMS)}), floor (in [0, 1]) and start")
        if (c["start"] is None) != (c["at"] > last):
            raise _bad_state(f"cooldown {_short(c)} at step {c['at']} with last_epoch={last}; a cooldown records its "
                             f"start exactly when training reaches its step")
        start = None if c["start"] is None else _state_numbers(c["start"], "cooldown start", n)
        out.append(dict(c, floor=float(c["floor"]), start=start))
    return out


def _state_stretches(x: Any, last: int) -> list[tuple[int, int, int]]:
    if not isinstance(x, (list, tuple)):
        raise _bad_state(f"stretches={_short(x)}; expected a list")
    out = []
    for st in x:
        if not (isinstance(st, (list, tuple)) and len(st) == 3 and all(
                isinstance(i, int) and not isinstance(i, bool) for i in st) and 0 <= st[0] < min(st[1], st[2])):
            raise _bad_state(f"stretch {_short(st)}; expected (step, old total, new total) with both totals after "
                             f"the step")
        if st[0] > last or (out and st[0] < out[-1][0]):
            raise _bad_state(f"stretch {_short(st)} after {[list(o) for o in out]} with last_epoch={last}; stretches "
                             f"are made at loads, in step order, at or before the saved step")
        out.append(tuple(st))
    return out


def _state_total_changes(x: Any, total: int | None, eval_total: int | None,
                         stretches: list[tuple[int, int, int]], last: int) -> list[list] | None:
    """The changes of total_steps at loads, checked against the totals and stretches they explain: the schedule
    is evaluated over the first total the run had (``eval_total``), and each change starts from the last."""
    if eval_total is None and total is not None:
        raise _bad_state(f"eval_total=None with total_steps={total}; a scheduler with a total evaluates over one")
    if x is None:  # saved before lrkit recorded them (or a run resumed from such a state): nothing to check
        return None
    if not isinstance(x, (list, tuple)):
        raise _bad_state(f"total_changes={_short(x)}; expected a list")
    out: list[list] = []
    for c in x:
        ok = (isinstance(c, (list, tuple)) and len(c) == 4 and isinstance(c[0], int) and not isinstance(c[0], bool)
              and 0 <= c[0] <= last and (not out or c[0] >= out[-1][0]) and c[3] in ("keep", "stretch")
              and all(t is None or (isinstance(t, int) and not isinstance(t, bool) and t >= 1) for t in c[1:3])
              and c[1] != c[2])
        if not ok:
            raise _bad_state(f"total change {_short(c)}; expected [step (in order, <= last_epoch={last}), old total, "
                             f"new total, 'keep' or 'stretch']")
        out.append(list(c))
    chain = [out[0][1]] + [c[2] for c in out] if out else [total]
    if any(a[2] != b[1] for a, b in zip(out, out[1:])) or chain[-1] != total:
        raise _bad_state(f"total_changes={_short(out)} do not lead to total_steps={total}")
    first = next((t for t in chain if t is not None), None)
    if eval_total != first:
        raise _bad_state(f"eval_total={eval_total} with total_steps={total}; expected {first}, the run's first "
                         f"total, over which the schedule is evaluated" + (f" (total changes {_short(out)})" if out else ""))
    if [tuple(c[:3]) for c in out if c[3] == "stretch"] != list(stretches):
        raise _bad_state(f"stretches={_short([list(t) for t in stretches])} are not the stretches among "
                         f"total_changes={_short(out)}")
    return out


def _check_controller(controller, saved: Mapping, now: float, replan: bool) -> None:
    """A plateau controller's state that its own checks let through, against the rules it runs by: no
    reduction after the saved step, a reduction per observation at most, and (unless re-planned to other
    rules) counters within patience and cooldown."""
    late = [r for r in controller.reductions if r > now]
    if late:
        raise _bad_state(f"controller reductions {_short(late)} lie after the saved step's position {now:g}")
    if not replan and (controller.num_bad > controller.patience or controller.cooldown_left > controller.cooldown):
        raise _bad_state(f"controller num_bad={controller.num_bad}, cooldown_left={controller.cooldown_left} "
                         f"exceed the plateau's patience={controller.patience}, cooldown={controller.cooldown}")
    if "observations" in saved and len(controller.reductions) > controller.observations:
        raise _bad_state(f"controller has {len(controller.reductions)} reductions from {controller.observations} "
                         f"observations")
