"""Run one trial in this process: build the task, drive the optimizer with the schedule, log the history.

Logged at step 0, at every step ``t`` with ``(t + 1) % log_every == 0`` and at the last step: the LR
applied at that step, the mean training loss since the last logged point, the gradient norm (before
clipping), the validation loss after that step's update, and the training time so far (validation is
not timed, as in AlgoPerf).  A step number ``t`` means ``t + 1`` updates applied.  A run whose loss
turns NaN or infinite, or exceeds ``DIVERGENCE_FACTOR`` (10) times the validation loss at
initialisation, stops there and is marked diverged (its last point has no validation loss).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from .trial import Trial

FIELDS = ("step", "lr", "loss", "val_loss", "grad_norm", "time")

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


def run_trial(trial: Trial, threads: int | None = None, on_log: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Train ``trial`` here and return ``{"history": {field: list}, "summary": {...}}``."""
    from .adaptive import is_adaptive

    if is_adaptive(trial.schedule):  # AutoLRS, refinement, hypergradient, plateau phases: lrkit.bench.adaptive
        from .adaptive import run_adaptive_trial

        return run_adaptive_trial(trial, threads=threads, on_log=on_log)
    import torch

    from ..integrations.torch import Scheduler
    from .workloads import get_workload

    set_threads(threads)
    t_start = time.perf_counter()
    workload = get_workload(trial.workload)
    task = workload.task(seed=trial.seed, steps=trial.steps, **trial.options)
    model = task.model
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"workload {trial.workload}: the model has no trainable parameters")
    opt = make_optimizer(trial.optimizer, params, trial.lr, task.weight_decay, tuple(task.betas))
    sched = Scheduler(opt, trial.schedule, total_steps=trial.steps)
    sf = trial.optimizer == "sfadamw"

    def evaluate() -> float:
        model.eval()
        if sf:
            opt.eval()  # schedule-free: evaluate at the averaged point x
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

    init_val = evaluate()
    blowup = DIVERGENCE_FACTOR * max(init_val, 1e-12) if math.isfinite(init_val) else math.inf
    hist: dict[str, list[float]] = {f: [] for f in FIELDS}
    train_time = 0.0
    window: list[float] = []
    diverged = False
    clip = task.clip if task.clip is not None else math.inf
    K = trial.log_every
    model.train()
    if sf:
        opt.train()
    setup_time = time.perf_counter() - t_start
    for t in range(trial.steps):
        t0 = time.perf_counter()
        lr_now = float(opt.param_groups[0]["lr"])
        batch = task.batch(t)
        loss = task.loss(model, batch)
        if not (isinstance(loss, torch.Tensor) and loss.numel() == 1 and loss.requires_grad):
            raise ValueError(f"workload {trial.workload}: loss(model, batch) returned {_what(loss)}; expected a scalar "
                             "tensor that depends on the model's parameters")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = float(torch.nn.utils.clip_grad_norm_(params, clip))
        lv = float(loss.detach())
        if not (math.isfinite(lv) and math.isfinite(gn)) or lv > blowup:
            diverged = True
        else:
            opt.step()
            sched.step()
        train_time += time.perf_counter() - t0
        window.append(lv)
        if diverged or t == 0 or (t + 1) % K == 0 or t == trial.steps - 1:
            val = evaluate() if not diverged else math.nan
            if not math.isfinite(val):
                diverged = True
            row = {"step": t, "lr": lr_now, "loss": float(np.mean(window)), "val_loss": val, "grad_norm": gn,
                   "time": train_time}
            window = []
            for f in FIELDS:
                hist[f].append(row[f])
            if on_log is not None:
                on_log(row)
        if diverged:
            break
    return {"history": hist, "summary": trial_summary(hist, diverged, init_val, train_time, setup_time, t_start,
                                                      task.info, description=workload.description)}


def _what(x: Any) -> str:
    """How a wrong return value is named in an error: its type, and a tensor's shape."""
    shape = getattr(x, "shape", None)
    if shape is not None and hasattr(x, "requires_grad"):
        return f"a tensor of shape {tuple(shape)}" + ("" if x.requires_grad else " with no gradient")
    return type(x).__name__ + (f" {x!r}" if isinstance(x, (str, int, float)) else "")


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
