"""``lrkit.torch.Scheduler``: drive a PyTorch optimizer with lrkit schedules, and resume exactly.

The LR is never accumulated: at every step it is recomputed in closed form from the step count, the
schedule spec and each group's base value, so a new process that loads the state continues with
bit-identical values. The step counts optimizer steps actually applied (an optimizer
``register_step_post_hook``), so gradient-accumulation micro-steps and steps that AMP's GradScaler skips
do not advance the schedule, and there is no step-order warning to silence.

Everything the LR depends on is data in :meth:`Scheduler.state_dict`: the step, the specs, the base
values, the convention, and the decisions taken during the run (anytime cooldowns, re-planned totals,
plateau reductions), from which the schedule each group follows is rebuilt (:mod:`.plan`).
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from ...errors import SpecError
from ...schedules import Schedule
from ...schedules import validate as v
from ...schedules.conventions import Convention, get_convention
from ...schedules.plateau import PlateauController, has_plateau
from . import groups as G
from .chain import Chain
from .groups import BELOW_ONE
from .plan import build_plan, cooldown_starts, highest, values
from .state import (FORMS, STATE_VERSION, SavedState, StateMismatchError, bad_state, check_controller, check_starts,
                    position, read_state, short)



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
        last_epoch: as torch's: ``-1`` starts a run; ``N >= 0`` resumes the count, so the scheduler starts at
            step ``N + 1``, from each group's ``initial_lr`` (which the optimizer's loaded state holds).
        steps_per_epoch, tokens_per_step, samples_per_step: turn durations given in Composer's epochs, tokens
            and samples (``warmup="2ep"``, ``decay="2e9tok"``) into optimizer steps, as in :func:`lrkit.parse`.
        chainable: ``True`` (default): a change another scheduler (``StepLR`` in a ``ChainedScheduler``, say)
            makes to a group's LR is kept as a factor, as torch's chainable schedulers keep each other's;
            ``False``: every step writes lrkit's LR over it, as ``LambdaLR`` does (:mod:`.chain`).

    Call ``scheduler.step()`` after ``optimizer.step()`` (or ``scaler.step(optimizer)``), as with any
    torch scheduler. With a ``plateau(...)`` phase in the LR schedule (:mod:`lrkit.schedules.plateau`), feed
    the watched metric with ``scheduler.step(metrics=val_loss)``; a call without an optimizer step since the
    last one only feeds the metric. Its decisions are part of :meth:`state_dict`. ``get_last_lr()`` returns
    Python floats: the exact scheduled values (a tensor LR holds them rounded to its dtype). Inside torch's
    ``SequentialLR`` the count restarts at this scheduler's milestone, as torch's own schedulers' does.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule_or_spec: Any, total_steps: int | None = None, *,
                 hyperparams: Mapping[str, Any] | None = None, convention: str | Convention | None = None,
                 count: str = "optimizer", total_change: str = "error", last_epoch: int = -1,
                 chainable: bool = True, steps_per_epoch: float | None = None, tokens_per_step: float | None = None,
                 samples_per_step: float | None = None) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"lrkit.torch.Scheduler: {type(optimizer).__name__} is not a torch.optim.Optimizer")
        groups = optimizer.param_groups
        self._total_steps = None if total_steps is None else v.total_steps(G.plain_int(total_steps), "total_steps")
        self._convention = get_convention(convention)
        self.count = v.choice("Scheduler", "count", count, ("optimizer", "calls"))
        self.total_change = v.choice("Scheduler", "total_change", total_change, ("error", "keep", "stretch"))
        last_epoch = G.resume_from(G.plain_int(last_epoch), groups)
        if not isinstance(chainable, bool):
            raise SpecError(f"Scheduler: chainable={chainable!r} is not True or False")
        self._chain = Chain(len(groups), chainable)
        with v.time_units(steps_per_epoch, tokens_per_step, samples_per_step):
            schedules = {"lr": G.per_group(schedule_or_spec, groups, "schedule")}
            for i, g in enumerate(groups):  # torch's base class reads initial_lr, set from lr where absent
                G.base_value(optimizer, i, "lr", g["initial_lr"] if "initial_lr" in g else g.get("lr"))
            schedules.update(G.hyperparam_schedules(optimizer, hyperparams))
        for scheds in schedules.values():
            for s in scheds:
                if s.needs_total() and self._total_steps is None:
                    raise SpecError(f"{s} decays over the run and needs total_steps= (the number of optimizer steps)")
        self._schedules: dict[str, list[Schedule]] = schedules
        # The reference value of each scheduled hyperparameter, kept in the group like torch's initial_lr
        # (so a scheduler built after optimizer.load_state_dict finds the original values).
        for key in schedules:
            if key != "lr":
                for g in groups:
                    g.setdefault(f"initial_{key}", G.read(g, key))
        self._eval_total = self._total_steps
        #: The controller of metric-driven phases (``plateau``) in the LR schedules, or None.
        self._controller = _controller(schedules["lr"], self._eval_total, self._convention)
        #: The anytime cooldowns, in call order: ``{"at", "decay", "form", "floor"}`` each.
        self.cooldowns: list[dict] = []
        self.stretches: list[tuple[int, int, int]] = []
        #: Every change of total_steps at a load: [step, old total, new total, 'keep' or 'stretch'] (None
        #: after resuming a state saved before they were recorded).
        self.total_changes: list[list] | None = []
        self._optimizer_steps = 0
        self._last_counted = 0
        self._restart = 0  # the optimizer steps applied when a SequentialLR last restarted the count
        self._plan: tuple | None = None
        self._last_lr: list[float] = []
        self._register_hook(optimizer)
        had_step = "step" in optimizer.__dict__
        super().__init__(optimizer, last_epoch=last_epoch)
        # torch's base class wraps optimizer.step to warn about the call order; this scheduler counts
        # applied steps with a hook instead, and the wrapper stops torch.compile from tracing the step.
        wrapped = optimizer.__dict__.get("step")
        if not had_step and getattr(wrapped, "_wrapped_by_lr_sched", False):
            del optimizer.step
        self.base_lrs = [G.to_float(b) for b in self.base_lrs]
        self._bases = {key: (list(self.base_lrs) if key == "lr" else
                             [G.to_float(g[f"initial_{key}"]) for g in groups]) for key in schedules}
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

        self._hook = G.innermost(optimizer).register_step_post_hook(hook)

    # ----- the mathematics -------------------------------------------------------------------------
    def _lr_schedules(self) -> list[Schedule]:
        """The LR schedules with the plateau reductions recorded so far."""
        ctl = getattr(self, "_controller", None)
        return ctl.schedules if ctl is not None else self._schedules["lr"]

    def _build_plan(self) -> None:
        """Bind each distinct schedule, with the run's decisions applied, once (:mod:`.plan`)."""
        self._plan = build_plan(self._schedules, self._bases, self._eval_total, self._convention,
                                lr=self._lr_schedules(), cooldowns=self.cooldowns, stretches=self.stretches)

    def position(self, step: int) -> float:
        """The schedule position of an optimizer step: the step itself, unless the run was stretched."""
        return position(self.stretches, step)

    def multipliers(self, key: str = "lr", step: int | None = None) -> list[float]:
        """Each group's multiplier of ``key`` at optimizer step ``step`` (default: the current step)."""
        if key not in self._schedules:
            raise SpecError(f"multipliers: {key!r} is not scheduled here; scheduled: {', '.join(self._schedules)}")
        step = self.last_epoch if step is None else v.integer("multipliers", "step", step, lo=0)
        if self._plan is None:
            self._build_plan()
        return values(next(e for e in self._plan if e.key == key), float(step))  # type: ignore[union-attr]

    def get_lr(self) -> list[float]:
        """The LR of each group at the current step (what ``step()`` writes, other schedulers' factors included)."""
        return [base * m * f for base, m, f in zip(self.base_lrs, self.multipliers("lr"), self._chain.factors)]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    def step(self, epoch: int | None = None, *, metrics: Any = None) -> None:  # noqa: D102 - see class docstring
        if epoch is not None:
            raise TypeError("lrkit.torch.Scheduler.step() takes no epoch (torch deprecated step(epoch) in 1.4); the "
                            "LR is a function of the step count: build the scheduler with last_epoch=N - 1 to start "
                            "at step N, or restore a saved state with load_state_dict")
        if self._is_initial:
            self.last_epoch += 1  # -1 -> 0, or last_epoch=N -> N + 1, as torch's first step
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
            if not self._is_initial:  # (a SequentialLR's first step writes the closed form, as LambdaLR's)
                self._chain.absorb(self.optimizer.param_groups)
            self._apply()
        if metrics is not None:
            self._observe(metrics)

    def _update_lr(self, epoch: int | None = None) -> None:
        """torch's ``SequentialLR`` restarts the scheduler of a phase at its milestone with ``_update_lr(0)``:
        the count restarts at ``epoch`` and the LR is the closed form there (other schedulers' factors dropped),
        as for torch's own schedulers."""
        if epoch is None:
            return self.step()
        epoch = v.integer("Scheduler", "epoch", G.plain_int(epoch), lo=0)
        late = [what for what, steps in (("cooldowns", [c["at"] for c in self.cooldowns]),
                                         ("stretches", [x[0] for x in self.stretches]),
                                         ("plateau reductions", self._controller.reductions if self._controller
                                          else [])) if any(t > epoch for t in steps)]
        if late:
            raise SpecError(f"Scheduler: cannot restart the count at step {epoch}: {', '.join(late)} are recorded at "
                            f"later steps")
        self.last_epoch, self._last_counted, self._step_count = epoch, self._optimizer_steps, 1
        self._restart = self._optimizer_steps
        self._chain.reset()
        self._apply()

    def _observe(self, metrics: Any) -> None:
        """Feed a metric to the plateau phases: a reduction is recorded at the current step, the LR recomputed."""
        if self._controller is None:
            raise SpecError(f"step(metrics=...): the LR schedule has no plateau(...) phase to feed; it is "
                            f"{_show([str(x) for x in self._schedules['lr']])}")
        if hasattr(metrics, "item"):  # a tensor or numpy value: it must hold one number
            size = metrics.numel() if isinstance(metrics, torch.Tensor) else getattr(metrics, "size", 1)
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
        t = float(step)
        for entry in self._plan:  # type: ignore[union-attr]
            out = [b * m for b, m in zip(entry.bases, values(entry, t))]
            if entry.key in BELOW_ONE:
                self._check_below_one(entry.key, out, step)
            if entry.key == "lr":
                out = [x * f for x, f in zip(out, self._chain.factors)]
            G.write_all(groups, entry.field, entry.index, out)
            if entry.key == "lr":
                self._last_lr = out
                self._chain.mark(groups, out)

    def _check_below_one(self, key: str, values: list[float], step: int) -> None:
        for i, x in enumerate(values):
            if not 0.0 <= x < 1.0:
                raise SpecError(f"hyperparams[{key!r}]: {self._schedules[key][i]} takes {key} of parameter group "
                                f"{G.group_label(self.optimizer.param_groups, i)} to {x:g} at step {step} (base "
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
                top, at = highest(s.bind(self._eval_total, self._convention), self._total_steps)
                if b * top >= 1.0:
                    self._check_below_one(key, [b * top if k == i else 0.0 for k in range(len(self._bases[key]))], at)

    def get_last_lr(self) -> list[float]:
        """The LR of each group written by the last ``step()`` (Python floats)."""
        return list(self._last_lr)

    # ----- anytime cooldown -------------------------------------------------------------------------------
    def cooldown(self, steps: int, form: str = "1-sqrt", floor: float = 0.0, at: int | None = None) -> None:
        """Start a cooldown now (or at a later step ``at``): over ``steps`` optimizer steps each group's
        LR goes from its value at ``at`` down to ``floor`` times its base LR, with the given WSD ``form``
        (``linear``, ``cosine``, ``1-sqrt``, ``square``; Hägele et al. 2024).

        Each group's LR schedule becomes ``cooldown(<schedule>, at=at, decay=steps, form=form, floor=floor)``
        (the ``cooldown`` family), and the decision is recorded in the state, so a checkpoint taken before
        the call can be branched into several cooldowns, and a resumed run continues it exactly. A later
        cooldown wraps the earlier ones, so it replaces them from its own ``at`` on; each starts from the LR
        its step has, plateau reductions and re-plans before it (or at it) included.
        """
        at = self.last_epoch if at is None else v.integer("cooldown", "at", at, lo=max(self.last_epoch, 0))
        steps = v.integer("cooldown", "steps", steps, lo=1)
        if form == "exp":
            raise SpecError("cooldown: form='exp' is not available for an anytime cooldown; expected one of "
                            f"{', '.join(FORMS)}")
        v.choice("cooldown", "form", form, FORMS)
        floor = v.number("cooldown", "floor", floor, lo=0.0, hi=1.0)
        self.cooldowns.append({"at": at, "decay": steps, "form": form, "floor": floor})
        self._build_plan()
        self._apply()

    # ----- state ------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The step, the specs, the bases, the total, the convention and the decisions taken (cooldowns,
        with the multipliers each started from once reached; stretches and total changes; the plateau
        controller): all a resume needs. Plain Python values only (``torch.save`` / ``json`` friendly)."""
        starts = cooldown_starts(self._lr_schedules(), self.cooldowns, self.stretches, self._eval_total,
                                 self._convention, self.last_epoch)
        return {
            "version": STATE_VERSION,
            "last_epoch": self.last_epoch,
            "optimizer_steps": self._optimizer_steps,
            "last_counted": self._last_counted,
            "restart": self._restart,
            "step_count": self._step_count,
            "total_steps": self._total_steps,
            "eval_total": self._eval_total,
            "convention": dataclasses.asdict(self._convention),
            "count": self.count,
            "schedules": {key: [str(s) for s in scheds] for key, scheds in self._schedules.items()},
            "bases": {key: list(b) for key, b in self._bases.items()},
            "base_lrs": list(self.base_lrs),
            "cooldowns": [dict(c, start=start) for c, start in zip(self.cooldowns, starts)],
            "stretches": [list(s) for s in self.stretches],
            "total_changes": None if self.total_changes is None else [list(c) for c in self.total_changes],
            "controller": None if self._controller is None else self._controller.state_dict(),
            "chainable": self._chain.chainable,
            **self._chain.state(self.optimizer.param_groups),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any], *, replan: bool = False,
                        total_change: str | None = None) -> None:
        """Restore a saved state and write the resumed values into the optimizer.

        The state must have been saved by a scheduler with the same schedules, base values, convention
        and number of groups, else :class:`StateMismatchError` (one line naming both). ``replan=True``
        accepts a different schedule or base LR: from the saved step on, this scheduler's are followed
        (with the saved decisions: cooldowns and plateau reductions apply to the new schedule).
        When ``total_steps`` differs from the saved one, ``total_change`` says what to do: ``"keep"``
        the saved plan (the decay ends where it was planned; the LR then holds its end value),
        ``"stretch"`` the rest of the schedule, from the saved step, over the new total (the LR is
        continuous at the resume step), or ``"error"`` (the default). A state that fails a check (see
        :mod:`.state`) changes nothing.
        """
        if not isinstance(replan, bool):
            raise SpecError(f"load_state_dict: replan={replan!r} is not True or False")
        total_change = self.total_change if total_change is None else total_change
        v.choice("load_state_dict", "total_change", total_change, ("error", "keep", "stretch"))
        saved = read_state(state_dict, len(self.base_lrs), self._convention)
        if not replan:
            self._check_same(saved)
        stretches, changes = self._new_totals(saved, total_change)
        eval_total = saved.eval_total if saved.eval_total is not None else self._total_steps
        controller = self._load_controller(saved, eval_total, replan)
        cooldowns = [{k: c[k] for k in ("at", "decay", "form", "floor")} for c in saved.cooldowns]
        if not replan and eval_total == saved.eval_total:
            lr = controller.schedules if controller is not None else self._schedules["lr"]
            check_starts(saved, cooldown_starts(lr, cooldowns, stretches, eval_total, self._convention,
                                                 saved.last_epoch))
        # --- every check passed: restore ---
        self.last_epoch, self._step_count = saved.last_epoch, saved.step_count
        self._optimizer_steps, self._last_counted = saved.optimizer_steps, saved.last_counted
        self._restart = saved.restart
        if not replan:
            self._bases = {key: list(saved.bases.get(key, self._bases[key])) for key in self._bases}
            self.base_lrs = list(self._bases["lr"])
        self.cooldowns, self.stretches, self.total_changes = cooldowns, stretches, changes
        self._eval_total, self._controller = eval_total, controller
        self._chain.factors = list(saved.factors or [1.0] * len(self.base_lrs))
        self._build_plan()
        if self.last_epoch >= 0:  # (-1: undone by a SequentialLR before this scheduler's milestone)
            self._apply()
        groups = self.optimizer.param_groups
        self._chain.put_foreign(saved.foreign, groups, lambda i, x: G.write_all([groups[i]], "lr", None, [x]))

    def _check_same(self, saved: SavedState) -> None:
        """The saved schedules, convention, base values and count are this scheduler's (else one line)."""
        mine = {key: [str(x) for x in scheds] for key, scheds in self._schedules.items()}
        if saved.schedules != mine:
            key = next(k for k in [*mine, *saved.schedules] if saved.schedules.get(k) != mine.get(k))
            raise StateMismatchError(f"the state was saved with {key} schedule {_show(saved.schedules.get(key))} but "
                                     f"this scheduler has {_show(mine.get(key))}; build it with the saved spec, or "
                                     f"pass replan=True to switch schedules from step {saved.last_epoch}")
        conv, mine_conv = saved.convention, self._convention
        if conv != mine_conv:
            if conv.name == mine_conv.name:
                diff = ", ".join(f"{f.name}={getattr(conv, f.name)!r}" for f in dataclasses.fields(conv)
                                 if getattr(conv, f.name) != getattr(mine_conv, f.name))
                raise StateMismatchError(f"the state was saved with convention {conv.name!r} set differently "
                                         f"({diff}); pass replan=True to use this scheduler's")
            raise StateMismatchError(f"the state was saved with convention {conv.name!r}, this scheduler uses "
                                     f"{mine_conv.name!r}; build it with convention={conv.name!r} or pass "
                                     f"replan=True")
        for key, b in saved.bases.items():
            if key in self._bases and b != self._bases[key]:
                raise StateMismatchError(f"the state was saved with base {key} {b} but this optimizer's are "
                                         f"{self._bases[key]}; build the optimizer with the saved values, or pass "
                                         f"replan=True to use the new ones")
        if saved.count != self.count:
            raise StateMismatchError(f"the state was saved with count={saved.count!r}, this scheduler counts "
                                     f"{self.count!r}")
        if saved.chainable is not None and saved.chainable != self._chain.chainable:
            raise StateMismatchError(f"the state was saved with chainable={saved.chainable}, this scheduler has "
                                     f"chainable={self._chain.chainable}; build it with the saved value")

    def _new_totals(self, saved: SavedState, total_change: str) -> tuple[list, list | None]:
        """The stretches and total changes after this load: the saved ones, and this scheduler's total if it
        differs from the saved one (as ``total_change`` says)."""
        stretches = list(saved.stretches)
        changes = None if saved.total_changes is None else [list(c) for c in saved.total_changes]
        new, old, last = self._total_steps, saved.total, saved.last_epoch
        if new == old:
            return stretches, changes
        if total_change == "error":
            raise StateMismatchError(f"the state was saved for total_steps={old}, this scheduler has "
                                     f"total_steps={new}; pass total_change='keep' (decay where it was "
                                     f"planned) or 'stretch' (stretch the remaining schedule over the new total)")
        if total_change == "stretch":
            if old is None or new is None:
                raise StateMismatchError("total_change='stretch' needs total_steps both in the saved state and "
                                         "in this scheduler")
            if new <= last or old <= last:
                raise StateMismatchError(f"cannot stretch the schedule from step {last}: total_steps={new} "
                                         f"(saved {old}) leaves nothing after it")
            stretches.append((last, old, new))
        if changes is not None:
            changes.append([last, old, new, total_change])
        return stretches, changes

    def _load_controller(self, saved: SavedState, eval_total: int | None, replan: bool):
        """The plateau controller of this scheduler's LR schedules with the saved controller state, or None."""
        controller = _controller(self._schedules["lr"], eval_total, self._convention)
        if controller is not None and saved.controller:
            try:
                controller.load_state_dict(saved.controller)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise bad_state(f"controller={short(saved.controller)} is not a plateau controller's state "
                                f"({type(e).__name__}: {e})") from None
            check_controller(controller, saved, replan)
        return controller

    def __getstate__(self):  # the hook handle and compiled closures are rebuilt, not pickled
        state = self.__dict__.copy()
        for key in ("_hook", "_plan"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._register_hook(self.optimizer)
        self._chain.forget()  # (tensor identities do not survive pickling: the next step writes lrkit's LR)
        self._build_plan()


def _controller(schedules: list[Schedule], total: int | None, convention: Convention):
    """The controller of the metric-driven phases in ``schedules`` (``plateau``), or None."""
    return PlateauController(schedules, total, convention) if has_plateau(schedules) else None


def _show(specs: list[str] | None) -> str:
    if specs is None:
        return "(none)"
    if len(set(specs)) == 1:
        return repr(specs[0]) + (f" for all {len(specs)} groups" if len(specs) > 1 else "")
    return "[" + ", ".join(repr(x) for x in specs) + "]"
