"""Drive a PyTorch Lightning module with an lrkit schedule, stepped per optimizer step.

::

    from lrkit.integrations.lightning import configure_optimizers

    class Model(L.LightningModule):
        def configure_optimizers(self):
            opt = torch.optim.AdamW(self.parameters(), lr=3e-4)
            return configure_optimizers(self, opt, "cosine(warmup=0.05, floor=0.1)")

The returned dict is Lightning's own ``configure_optimizers`` format, with ``interval="step"`` and
``frequency=1`` (Lightning's default interval is ``"epoch"``, a classic source of schedules that never
move). The total defaults to ``trainer.estimated_stepping_batches``, which already counts optimizer steps
(``max_steps``, or epochs times batches divided by ``accumulate_grad_batches``). The scheduler's state goes
into Lightning's checkpoint under ``lr_schedulers``, so ``trainer.fit(..., ckpt_path=...)`` resumes with
the same LRs. Works with ``lightning`` and ``pytorch_lightning`` alike (nothing of Lightning is imported).

Lightning passes a monitored metric only to its own ``ReduceLROnPlateau``, so ``configure_optimizers``
refuses a spec with a ``plateau(...)`` phase (it would never reduce); use ``scheduler_config`` and feed the
metric yourself: ``self.lr_schedulers().step(metrics=val_loss)`` in ``on_validation_epoch_end``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from ..errors import SpecError
from ..schedules.plateau import has_plateau
from .torch import Scheduler, parse_specs

__all__ = ["configure_optimizers", "scheduler_config", "total_steps_of"]


def total_steps_of(module_or_trainer: Any) -> int:
    """The run's length in optimizer steps, from a LightningModule (attached to a Trainer) or a Trainer."""
    trainer = module_or_trainer
    if not hasattr(trainer, "estimated_stepping_batches"):
        try:
            trainer = module_or_trainer.trainer
        except (AttributeError, RuntimeError):  # a LightningModule not attached to a Trainer raises RuntimeError
            trainer = None
    if trainer is None:
        raise SpecError("lrkit: cannot find the Trainer to read estimated_stepping_batches from; call this inside "
                        "configure_optimizers, or pass total_steps=")
    steps = trainer.estimated_stepping_batches
    if steps is None or (isinstance(steps, float) and not math.isfinite(steps)):
        raise SpecError("lrkit: the Trainer runs with no end (max_steps=-1 and max_epochs=-1), so a schedule that "
                        "decays over the run has no total; set max_steps, or pass total_steps=")
    if steps < 1:
        raise SpecError(f"lrkit: the Trainer's estimated_stepping_batches is {steps}: it will take no optimizer "
                        f"step (an empty training dataloader, or limit_train_batches=0?); pass total_steps=")
    return int(steps)


def scheduler_config(optimizer: torch.optim.Optimizer, schedule: Any, total_steps: int | None, *,
                     name: str | None = "lr", hyperparams: Mapping[str, Any] | None = None,
                     convention: str | None = None) -> dict[str, Any]:
    """Lightning's ``lr_scheduler`` config for an :class:`lrkit.torch.Scheduler`, stepped every optimizer step.

    ``name`` is what ``LearningRateMonitor`` logs under (``lr``, or ``lr/pg1``, ``lr/<group name>`` ... when
    the optimizer has several parameter groups).
    """
    scheduler = Scheduler(optimizer, schedule, total_steps, hyperparams=hyperparams, convention=convention)
    config: dict[str, Any] = {"scheduler": scheduler, "interval": "step", "frequency": 1}
    if name is not None:
        config["name"] = name
    return config


def configure_optimizers(module: Any, optimizer: torch.optim.Optimizer, schedule: Any,
                         total_steps: int | None = None, *, name: str | None = "lr",
                         hyperparams: Mapping[str, Any] | None = None,
                         convention: str | None = None) -> dict[str, Any]:
    """What a LightningModule's ``configure_optimizers`` returns: the optimizer and an lrkit scheduler.

    Args:
        module: the LightningModule (``self``), or the Trainer; used only to read
            ``estimated_stepping_batches`` when ``total_steps`` is not given.
        optimizer: the torch optimizer; each parameter group's own LR is its base.
        schedule: a spec string, a :class:`~lrkit.Schedule`, a dict form, or one per parameter group
            (a list, or a dict by group index or ``name``).
        total_steps: the run's length in optimizer steps; default from the Trainer. A schedule that does
            not need one (``constant()``, ``inverse_sqrt()``, ``infinite()`` without a cooldown) runs
            with no total when the Trainer has no end.
        name: the ``LearningRateMonitor`` key.
        hyperparams, convention: as for :class:`lrkit.torch.Scheduler`.
    """
    if has_plateau(parse_specs(schedule)):
        raise SpecError(f"configure_optimizers: {schedule} has a plateau(...) phase, and Lightning passes a metric "
                        f"only to its own ReduceLROnPlateau, so it would never reduce; use scheduler_config() and "
                        f"call self.lr_schedulers().step(metrics=val_loss) in on_validation_epoch_end")
    no_end = None
    if total_steps is None:
        try:
            total_steps = total_steps_of(module)
        except SpecError as e:
            no_end = e
    try:
        config = scheduler_config(optimizer, schedule, total_steps, name=name, hyperparams=hyperparams,
                                  convention=convention)
    except SpecError as e:
        if no_end is not None and "needs total_steps" in str(e):
            raise no_end from None
        raise
    return {"optimizer": optimizer, "lr_scheduler": config}
