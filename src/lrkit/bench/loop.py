"""The one training loop of the benchmark: every driver of a trial's LR (a fixed schedule, a plateau, a
refined schedule, hypergradient descent, AutoLRS, a PBT member) trains, logs and is judged here.

Logged at step 0, at every step ``t`` with ``(t + 1) % log_every == 0`` and at the last step: the LR
applied at that step, the mean training loss since the last logged point, the gradient norm (before
clipping), the validation loss after that step's update, and the training time so far (validation is
not timed, as in AlgoPerf).  A step number ``t`` means ``t + 1`` updates applied.

One divergence rule for every driver: a step whose loss or gradient norm is NaN or infinite, or whose
loss exceeds ``DIVERGENCE_FACTOR`` (10) times the validation loss at initialisation, is not applied; the
run stops there and is marked diverged (that step is logged, without a validation loss), as is a run
whose validation loss turns NaN or infinite.  The one exception is an AutoLRS probe step: the probe's
model is thrown away by AutoLRS itself, so a probe at too high an LR is part of its search, not a
divergence of the trial.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from .trial import HISTORY_FIELDS, Trial

#: A training loss above this many times the validation loss at initialisation marks a diverged run.
DIVERGENCE_FACTOR = 10.0


def set_threads(threads: int | None) -> None:
    """Torch threads of this process."""
    if not threads:
        return
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def make_optimizer(name: str, params: Any, lr: float, weight_decay: float, betas: tuple[float, float]):
    """``adamw``, ``sgd`` (momentum 0.9) or ``sfadamw`` (Schedule-Free AdamW, Defazio et al. 2024)."""
    import torch

    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "sfadamw":
        try:
            from schedulefree import AdamWScheduleFree
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ValueError("optimizer 'sfadamw' needs the 'schedulefree' package: pip install schedulefree") from e
        # warmup comes from the lrkit schedule (e.g. constant(warmup=0.05)), not the optimizer
        return AdamWScheduleFree(params, lr=lr, betas=betas, weight_decay=weight_decay, warmup_steps=0)
    raise ValueError(f"unknown optimizer {name!r}")


def trainable(task, workload: str) -> list:
    """The parameters the optimizer updates (refused when there are none)."""
    params = [p for p in task.model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"workload {workload}: the model has no trainable parameters")
    return params


def fresh(workload, trial: Trial):
    """The trial's task built from its seed, and its optimizer at the trial's peak LR."""
    task = workload.task(seed=trial.seed, steps=trial.steps, **trial.options)
    opt = make_optimizer(trial.optimizer, trainable(task, trial.workload), trial.lr, task.weight_decay,
                         tuple(task.betas))
    return task, opt


def evaluate(task, opt, trial: Trial) -> float:
    """The validation loss of the model now (``model.eval()``, no gradients; a schedule-free optimizer
    evaluates at its averaged point), the model left in training mode."""
    import torch

    sf = trial.optimizer == "sfadamw"
    model = task.model
    model.eval()
    if sf:
        opt.eval()
    with torch.no_grad():
        out = task.val_loss(model)
    try:
        v = float(out)
    except (TypeError, ValueError, RuntimeError):  # RuntimeError: a tensor of several elements
        raise ValueError(f"workload {trial.workload}: val_loss(model) returned {_what(out)}; expected a float") from None
    model.train()
    if sf:
        opt.train()
    return v


def _what(x: Any) -> str:
    """How a wrong return value is named in an error: its type, and a tensor's shape."""
    shape = getattr(x, "shape", None)
    if shape is not None and hasattr(x, "requires_grad"):
        return f"a tensor of shape {tuple(shape)}" + ("" if x.requires_grad else " with no gradient")
    return type(x).__name__ + (f" {x!r}" if isinstance(x, (str, int, float)) else "")


class Logger:
    """The harness's logging convention: step 0 (unless ``first=False``), every ``(t+1) % every == 0``,
    the last step; the validation loss is not timed."""

    def __init__(self, steps: int, every: int, evaluate: Callable[[], float], on_log=None, first: bool = True) -> None:
        self.steps, self.every, self.evaluate, self.on_log, self.first = steps, every, evaluate, on_log, first
        self.hist: dict[str, list[float]] = {f: [] for f in HISTORY_FIELDS}
        self.window: list[float] = []
        self.time = 0.0

    def due(self, t: int) -> bool:
        return (t == 0 and self.first) or (t + 1) % self.every == 0 or t == self.steps - 1

    def add(self, t: int, lr: float, loss: float, gn: float, val: float | None = None, force: bool = False
            ) -> float | None:
        """Count a step's loss; on a logged step (or ``force``) log a row and return its validation loss."""
        self.window.append(loss)
        if not (force or self.due(t)):
            return None
        if val is None:
            val = self.evaluate()
        row = {"step": t, "lr": lr, "loss": float(np.mean(self.window)), "val_loss": val, "grad_norm": gn,
               "time": self.time}
        self.window = []
        for f in HISTORY_FIELDS:
            self.hist[f].append(row[f])
        if self.on_log is not None:
            self.on_log(row)
        return val


def _scalar_loss(loss: Any, workload: str) -> None:
    import torch

    if not (isinstance(loss, torch.Tensor) and loss.numel() == 1 and loss.requires_grad):
        raise ValueError(f"workload {workload}: loss(model, batch) returned {_what(loss)}; expected a scalar "
                         "tensor that depends on the model's parameters")


def train(task, opt, trial: Trial, *, scheduler=None, autolrs=None, feed_metrics: bool = False,
          on_log: Callable[[dict], None] | None = None, init_val: float | None = None, start: int = 0,
          stop: int | None = None, logger: Logger | None = None) -> tuple[dict[str, list[float]], bool, float]:
    """Train steps ``start .. stop - 1`` (default: the whole trial); return ``(history, diverged, train_time)``.

    ``scheduler``: an ``lrkit.torch.Scheduler`` stepped after each update (``feed_metrics``: it also gets
    each logged validation loss, for a plateau phase); ``autolrs``: an AutoLRS controller fed each loss;
    neither: the optimizer's hooks drive the LR (hypergradient) or it stays. ``init_val``: the validation
    loss at initialisation (the divergence threshold; evaluated here when not given).
    """
    import torch

    params = trainable(task, trial.workload)
    if init_val is None:
        init_val = evaluate(task, opt, trial)
    blowup = DIVERGENCE_FACTOR * max(init_val, 1e-12) if math.isfinite(init_val) else math.inf
    log = logger or Logger(trial.steps, trial.log_every, lambda: evaluate(task, opt, trial), on_log)
    clip = task.clip if task.clip is not None else math.inf
    diverged = False
    task.model.train()
    if trial.optimizer == "sfadamw":
        opt.train()
    for t in range(start, trial.steps if stop is None else stop):
        t0 = time.perf_counter()
        lr_now = float(opt.param_groups[0]["lr"])
        probing = autolrs is not None and autolrs.phase == "probe"
        loss = task.loss(task.model, task.batch(t))
        _scalar_loss(loss, trial.workload)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = float(torch.nn.utils.clip_grad_norm_(params, clip))
        lv = float(loss.detach())
        if not probing and not (math.isfinite(lv) and math.isfinite(gn) and lv <= blowup):
            diverged = True
        else:
            opt.step()
            if scheduler is not None:
                scheduler.step()
            if autolrs is not None:
                autolrs.step(lv)
        log.time += time.perf_counter() - t0
        kept = None
        if autolrs is not None and (probing or autolrs.phase == "probe") and log.hist["val_loss"]:
            kept = log.hist["val_loss"][-1]  # a probe's model is thrown away: log the kept model's last val
        val = log.add(t, lr_now, lv, gn, val=math.nan if diverged else kept, force=diverged)
        if val is not None:
            if not math.isfinite(val):
                diverged = True
            elif feed_metrics and scheduler is not None:
                scheduler.step(metrics=val)
        if diverged:
            break
    return log.hist, diverged, log.time


def trial_summary(hist: dict, diverged: bool, init_val: float, train_time: float, setup_time: float,
                  t_start: float, info: dict, **extra) -> dict:
    """The summary a trial stores beside its history: final and best validation loss, timings, task info."""
    import torch

    vals = np.array(hist["val_loss"], dtype=float)
    finite = vals[np.isfinite(vals)]
    return {
        "final_val": float(vals[-1]) if vals.size and not diverged else math.nan,
        "best_val": float(finite.min()) if finite.size else math.nan,
        "final_loss": float(hist["loss"][-1]) if hist["loss"] else math.nan,
        "init_val": init_val,
        "diverged": diverged,
        "steps_done": int(hist["step"][-1]) + 1 if hist["step"] else 0,
        **extra,
        "train_time": train_time,
        "setup_time": setup_time,
        "wall_time": time.perf_counter() - t_start,
        "threads": torch.get_num_threads(),
        "info": {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in info.items()},
    }
