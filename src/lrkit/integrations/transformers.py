"""Drive a Hugging Face ``Trainer`` with an lrkit schedule.

Three ways in, from the most to the least automatic::

    from lrkit.integrations.transformers import LrkitTrainer
    trainer = LrkitTrainer(model=model, args=args, train_dataset=ds, lr_schedule="cosine(warmup=0.05, floor=0.1)")

    # your own Trainer subclass (or trl's SFTTrainer ...): mix the scheduler in front of it
    class MyTrainer(LrkitSchedulerMixin, SFTTrainer): ...

    # full control: build the scheduler yourself in create_scheduler
    self.lr_scheduler = make_scheduler(optimizer, spec, self.args, num_training_steps)

The total is the Trainer's own ``num_training_steps`` (``max_steps``, or epochs times optimizer steps per
epoch), in optimizer steps: gradient-accumulation micro-batches do not count. Each parameter group's LR is
its own base LR times the schedule's multiplier, so floors stay right when groups have different LRs.

**Warmup from ``TrainingArguments``.** The spec wins. ``args.warmup_steps`` (steps, or a ratio below 1 as in
transformers) is applied only when the spec's family takes ``warmup=`` and leaves it at 0
(``args_warmup="fill"``, the default); it is then written into the spec, e.g. ``cosine()`` with
``warmup_steps=100`` runs as ``cosine(warmup=100)``. A spec with its own warmup, or a composite spec
(``sequence``, ``product``, ``onecycle`` ...) that has no single warmup to fill, keeps its own values and a
warning says that ``args.warmup_steps`` was not used. ``args_warmup="ignore"`` never uses it.
``args.lr_scheduler_type`` and ``args.lr_scheduler_kwargs`` are not used (a warning says so when they are
set), except that ``lr_scheduler_kwargs={"lrkit": SPEC}`` gives the spec from the command line.

**Plateau phases.** A spec with a ``plateau(...)`` phase is fed the evaluation metric after every evaluation,
as the Trainer feeds its own ``ReduceLROnPlateau``: ``args.metric_for_best_model`` (default ``eval_loss``).
It needs evaluations during training (``eval_strategy`` other than ``"no"``).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from typing import Any

import torch

from ..errors import SpecError
from ..schedules import Schedule
from ..schedules.conventions import get_convention
from ..schedules.decaying import Decaying
from ..schedules.plateau import has_plateau
from ..spec import parse
from .torch import Scheduler, check_hyperparams, parse_specs
from .torch.groups import innermost

try:
    from transformers import Trainer, TrainerCallback
except ImportError as e:  # pragma: no cover - exercised only without transformers
    raise ImportError("lrkit.integrations.transformers needs transformers: pip install transformers") from e

__all__ = ["LrkitTrainer", "LrkitSchedulerMixin", "make_scheduler", "resolve_schedule"]

#: The key of ``TrainingArguments.lr_scheduler_kwargs`` that carries an lrkit spec (CLI route).
KWARGS_KEY = "lrkit"
ARGS_WARMUP = ("fill", "ignore")


def _args_warmup_steps(args: Any, num_training_steps: int) -> int:
    get = getattr(args, "get_warmup_steps", None)
    if get is not None:
        return int(get(num_training_steps))
    w = getattr(args, "warmup_steps", 0) or 0
    return int(w) if w >= 1 else math.ceil(num_training_steps * w)


def resolve_schedule(spec: str | Mapping | Schedule, args: Any = None, num_training_steps: int | None = None, *,
                     args_warmup: str = "fill") -> Schedule:
    """The schedule that will run: ``spec`` parsed, with ``args.warmup_steps`` filled in where it applies.

    See the module docstring for the rule. ``args`` may be ``None`` (the spec is used as it is).
    """
    if args_warmup not in ARGS_WARMUP:
        raise SpecError(f"args_warmup={args_warmup!r} is not valid; expected one of {', '.join(ARGS_WARMUP)}")
    schedule = parse(spec)
    if args is None or args_warmup == "ignore":
        return schedule
    if num_training_steps is None:
        raise SpecError("resolve_schedule: num_training_steps is needed to resolve args.warmup_steps")
    W = _args_warmup_steps(args, num_training_steps)
    if W <= 0:
        return schedule
    if isinstance(schedule, Decaying) and schedule.warmup == 0:
        return dataclasses.replace(schedule, warmup=W)
    why = (f"{schedule} has its own warmup" if isinstance(schedule, Decaying)
           else f"{schedule} is a composite schedule with no single warmup= to fill; put the warmup in the spec")
    warnings.warn(f"lrkit: TrainingArguments.warmup_steps={args.warmup_steps} is not used: {why} "
                  f"(pass args_warmup='ignore' to silence this)", UserWarning, stacklevel=3)
    return schedule


def make_scheduler(optimizer: torch.optim.Optimizer, spec: Any, args: Any, num_training_steps: int, *,
                   hyperparams: Mapping[str, Any] | None = None, convention: str | None = None,
                   args_warmup: str = "fill") -> Scheduler:
    """An :class:`lrkit.torch.Scheduler` for a Trainer: ``spec`` over ``num_training_steps`` optimizer steps.

    ``spec`` is a spec string, a :class:`~lrkit.Schedule`, a dict, or one per parameter group (a list, or a
    dict by group index or ``name``); ``args`` is the ``TrainingArguments`` (for warmup, see the module
    docstring; may be ``None``). ``optimizer`` may be the Trainer's accelerate-wrapped optimizer.
    """
    if isinstance(spec, (str, Schedule)) or (isinstance(spec, Mapping) and "family" in spec):
        spec = resolve_schedule(spec, args, num_training_steps, args_warmup=args_warmup)
    elif isinstance(spec, Mapping):
        spec = {k: resolve_schedule(s, args, num_training_steps, args_warmup=args_warmup) for k, s in spec.items()}
    elif isinstance(spec, (list, tuple)):
        spec = [resolve_schedule(s, args, num_training_steps, args_warmup=args_warmup) for s in spec]
    return Scheduler(innermost(optimizer), spec, num_training_steps, hyperparams=hyperparams, convention=convention)


def _metric_key(args: Any) -> str:
    """The evaluation metric a plateau phase watches, named as the Trainer names it for ReduceLROnPlateau."""
    key = getattr(args, "metric_for_best_model", None) or "loss"
    return key if key.startswith("eval_") else f"eval_{key}"


class _FeedPlateau(TrainerCallback):
    """After each evaluation, feed the watched metric to the plateau phases of the lrkit schedule."""

    def on_evaluate(self, args, state, control, metrics=None, lr_scheduler=None, **kw):
        if not isinstance(lr_scheduler, Scheduler) or lr_scheduler._controller is None or metrics is None:
            return
        key = _metric_key(args)
        if key not in metrics:
            raise SpecError(f"lrkit: the plateau(...) phase watches {key!r} (metric_for_best_model), but the "
                            f"evaluation reported only {', '.join(map(repr, metrics))}")
        lr_scheduler.step(metrics=metrics[key])


class LrkitSchedulerMixin:
    """Put in front of any ``transformers.Trainer`` subclass to drive it with an lrkit schedule.

    Extra constructor arguments (all keyword-only): ``lr_schedule`` (the spec; if omitted,
    ``args.lr_scheduler_kwargs["lrkit"]``), ``lr_schedule_hyperparams`` (e.g. ``{"weight_decay": "cosine()"}``),
    ``lr_schedule_convention`` (``None`` for lrkit's, or ``"hf"`` to reproduce transformers' values) and
    ``args_warmup`` (``"fill"`` or ``"ignore"``). Checkpoints save and restore the schedule with the
    Trainer's own ``scheduler.pt``, so ``resume_from_checkpoint`` continues with the same LRs.
    """

    def __init__(self, *a, lr_schedule: Any = None, lr_schedule_hyperparams: Mapping[str, Any] | None = None,
                 lr_schedule_convention: str | None = None, args_warmup: str = "fill", **kw) -> None:
        if args_warmup not in ARGS_WARMUP:
            raise SpecError(f"args_warmup={args_warmup!r} is not valid; expected one of {', '.join(ARGS_WARMUP)}")
        # bad arguments fail here, before the model is wrapped and the data prepared
        if lr_schedule is not None:
            parse_specs(lr_schedule, "lr_schedule")
        check_hyperparams(lr_schedule_hyperparams)
        get_convention(lr_schedule_convention)
        super().__init__(*a, **kw)
        sk = dict(getattr(self.args, "lr_scheduler_kwargs", None) or {})
        from_args = sk.pop(KWARGS_KEY, None)
        given = f"TrainingArguments.lr_scheduler_kwargs['{KWARGS_KEY}']"
        if from_args is not None and parse_specs(from_args, given) != parse_specs(lr_schedule or from_args):
            raise SpecError(f"{type(self).__name__}: lr_schedule={lr_schedule!r} and {given}={from_args!r} are two "
                            f"different schedules; give one")
        if lr_schedule is None:
            lr_schedule = from_args
        if lr_schedule is None:
            raise SpecError(f"{type(self).__name__}: no schedule; pass lr_schedule='cosine(warmup=0.05)' (or any "
                            f"lrkit spec), or lr_scheduler_kwargs={{'{KWARGS_KEY}': SPEC}} in TrainingArguments")
        if has_plateau(parse_specs(lr_schedule)):
            strategy = getattr(self.args, "eval_strategy", "no")
            if str(getattr(strategy, "value", strategy)) == "no":
                raise SpecError(f"{type(self).__name__}: {lr_schedule} has a plateau(...) phase, which is fed the "
                                f"evaluation metric {_metric_key(self.args)!r}, but eval_strategy='no'; set "
                                f"eval_strategy='steps' (with eval_steps=) or 'epoch'")
            self.add_callback(_FeedPlateau)
        unused = []
        kind = getattr(self.args, "lr_scheduler_type", "linear")
        kind = str(getattr(kind, "value", kind))  # a SchedulerType enum or a string
        if kind != "linear":
            unused.append(f"lr_scheduler_type={kind!r}")
        if sk:
            unused.append(f"lr_scheduler_kwargs={sk!r}")
        if unused:
            warnings.warn(f"lrkit: TrainingArguments {' and '.join(unused)} not used; the lrkit schedule "
                          f"{lr_schedule} drives the LR", UserWarning, stacklevel=2)
        self.lr_schedule = lr_schedule
        self.lr_schedule_hyperparams = lr_schedule_hyperparams
        self.lr_schedule_convention = lr_schedule_convention
        self.args_warmup = args_warmup

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is None:
            self.lr_scheduler = make_scheduler(
                optimizer if optimizer is not None else self.optimizer, self.lr_schedule, self.args,
                num_training_steps, hyperparams=self.lr_schedule_hyperparams,
                convention=self.lr_schedule_convention, args_warmup=self.args_warmup)
            self._created_lr_scheduler = True  # a second train() call builds it again for its own total
        return self.lr_scheduler


class LrkitTrainer(LrkitSchedulerMixin, Trainer):
    """``transformers.Trainer`` driven by an lrkit schedule: ``LrkitTrainer(..., lr_schedule=SPEC)``.

    See :class:`LrkitSchedulerMixin` for the extra arguments and the module docstring for warmup.
    """
