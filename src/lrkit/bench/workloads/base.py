"""The workload protocol: what a benchmark workload gives the trial runner.

A workload is a function ``make(seed, steps, **options) -> Task``.  It builds the model and its data
deterministically from ``seed`` (same seed, same model and same batches), never downloads anything,
and returns a :class:`Task` (or a dict with the same keys).  Register it by import path
(``lrkit bench --workload mypkg.workloads:make_task``) or under a name through the ``lrkit.workloads``
entry-point group.  A ``default_lr`` attribute on the function gives the peak LR used when ``--lr``
is not given (otherwise 1e-3).

The runner does the rest: optimizer, schedule (``lrkit.torch.Scheduler``), gradient-norm clipping,
logging of train loss, validation loss, LR and gradient norm every K steps, divergence detection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

#: How long (in steps) the batch of a step depends on: only on (seed, step), so a trial is
#: reproducible without replaying its history.


@dataclass
class Task:
    """One training problem, ready to run.

    Attributes:
        model: a ``torch.nn.Module`` already initialised from the seed.
        batch: ``batch(step) -> batch`` gives the training batch of a step (deterministic for the seed).
        loss: ``loss(model, batch) -> scalar tensor`` (the training objective).
        val_loss: ``val_loss(model) -> float``, the mean loss on the held-out split; called in
            ``model.eval()`` mode under ``torch.no_grad()``.
        weight_decay: decoupled weight decay of the optimizer.
        betas: Adam betas.
        clip: gradient-norm clipping threshold (``None``: no clipping; the norm is logged anyway).
        info: free-form facts about the task shown in reports (sizes, corpus, ...).
    """

    model: Any
    batch: Callable[[int], Any]
    loss: Callable[[Any, Any], Any]
    val_loss: Callable[[Any], float]
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    clip: float | None = 1.0
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def coerce(cls, obj: Any, where: str) -> "Task":
        """A :class:`Task` from a Task or a dict with the same keys; a clear error otherwise."""
        if isinstance(obj, dict):
            missing = [k for k in ("model", "batch", "loss", "val_loss") if k not in obj]
            if missing:
                raise ValueError(f"workload {where} returned a dict without {', '.join(missing)}; "
                                 "a workload returns lrkit.bench.Task(model=, batch=, loss=, val_loss=) or such a dict")
            extra = set(obj) - set(cls.__dataclass_fields__)
            if extra:
                raise ValueError(f"workload {where} returned unknown keys {sorted(extra)}")
            obj = cls(**obj)
        if not isinstance(obj, Task):
            raise ValueError(f"workload {where} returned {type(obj).__name__}; expected lrkit.bench.Task or a dict")
        obj.check(where)
        return obj

    def check(self, where: str) -> None:
        """Refuse a task whose parts are of the wrong kind, naming the part (before any training)."""
        if not callable(getattr(self.model, "parameters", None)):
            raise ValueError(f"workload {where}: model is {type(self.model).__name__}; expected a torch.nn.Module")
        for name in ("batch", "loss", "val_loss"):
            if not callable(getattr(self, name)):
                raise ValueError(f"workload {where}: {name} is {type(getattr(self, name)).__name__}; expected a function")
        try:
            b1, b2 = (float(b) for b in self.betas)
            wd = float(self.weight_decay)
            clip = None if self.clip is None else float(self.clip)
        except (TypeError, ValueError):
            raise ValueError(f"workload {where}: betas must be two numbers, weight_decay and clip numbers "
                             f"(got betas={self.betas!r}, weight_decay={self.weight_decay!r}, clip={self.clip!r})") from None
        if not (0 <= b1 < 1 and 0 <= b2 < 1) or not wd >= 0 or (clip is not None and not clip > 0):
            raise ValueError(f"workload {where}: need 0 <= betas < 1, weight_decay >= 0 and clip > 0 or None "
                             f"(got betas={self.betas!r}, weight_decay={self.weight_decay!r}, clip={self.clip!r})")
        if not isinstance(self.info, dict):
            raise ValueError(f"workload {where}: info is {type(self.info).__name__}; expected a dict")


@dataclass(frozen=True)
class Workload:
    """A named workload: its ``make`` function, a one-line description and a sensible peak LR."""

    name: str
    make: Callable[..., Any]
    description: str = ""
    default_lr: float = 1e-3
    options: tuple[str, ...] = ()

    def task(self, seed: int, steps: int, **options: Any) -> Task:
        return Task.coerce(self.make(seed=seed, steps=steps, **options), self.name)

    def check_options(self, options: dict[str, Any]) -> None:
        """Refuse options that ``make`` does not take (before any trial starts), naming the valid ones."""
        import inspect

        try:
            params = inspect.signature(self.make).parameters
        except (TypeError, ValueError):  # a callable without a signature: let make decide
            return
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return
        valid = [n for n, p in params.items() if n not in ("seed", "steps")
                 and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise ValueError(f"workload {self.name} has no option {', '.join(map(repr, unknown))}; "
                             f"its options: {', '.join(valid) or 'none'}")


def classification_task(model, xtr, ytr, xva, yva, seed: int, batch_size: int) -> Task:
    """A cross-entropy :class:`Task` over tensors already in memory; the batch of step ``t`` is drawn
    from ``(seed, t)`` alone, so a trial is deterministic and any step can be replayed."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    def batch(step: int):
        idx = torch.from_numpy(np.random.default_rng([seed, step]).integers(0, len(ytr), size=batch_size))
        return xtr[idx], ytr[idx]

    def loss(m, b):
        return F.cross_entropy(m(b[0]), b[1])

    def val_loss(m) -> float:
        return float(F.cross_entropy(m(xva), yva))

    return Task(model, batch, loss, val_loss, weight_decay=0.0, clip=None,
                info={"train examples": len(ytr), "validation examples": len(yva), "batch": batch_size,
                      "parameters": sum(p.numel() for p in model.parameters())})
