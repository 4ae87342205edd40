"""Run one trial in this process: pick the driver of its LR, train through the one loop (:mod:`.loop`).

The drivers, by the trial's ``schedule`` (:mod:`.methods` names them):

* a fixed spec: ``lrkit.torch.Scheduler``;
* a spec with a ``plateau(...)`` phase: the same, with each logged validation loss fed to it;
* ``refine(...)``: a pilot under ``pilot`` with a :class:`~lrkit.adaptive.refine.GradNormLogger`, then the
  refined schedule from the same initial model;
* ``hypergradient(...)``: :class:`~lrkit.adaptive.hypergradient.HypergradientLR`'s optimizer hooks;
* ``autolrs(...)``: an :class:`~lrkit.adaptive.autolrs.AutoLRS` controller fed each loss.

The result is ``{"history": {field: list}, "summary": {...}}`` for every driver; an adaptive one adds
``search_steps`` (steps spent searching, outside the trial's own).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from .loop import DIVERGENCE_FACTOR, evaluate, fresh, make_optimizer, set_threads, train, trial_summary
from .methods import is_adaptive, parse_method
from .trial import Trial

__all__ = ["run_trial", "DIVERGENCE_FACTOR", "make_optimizer", "set_threads", "trial_summary"]


def _scheduler(opt, spec: str, trial: Trial):
    from ..integrations.torch import Scheduler

    return Scheduler(opt, spec, total_steps=trial.steps)


def _fixed(trial, workload, task, opt, init_val, on_log, args):
    return *train(task, opt, trial, scheduler=_scheduler(opt, trial.schedule, trial), init_val=init_val,
                  on_log=on_log), {}, 0


def _plateau(trial, workload, task, opt, init_val, on_log, args):
    return *train(task, opt, trial, scheduler=_scheduler(opt, trial.schedule, trial), feed_metrics=True,
                  init_val=init_val, on_log=on_log), {}, 0


def _refine(trial, workload, task, opt, init_val, on_log, args):
    from ..adaptive.refine import GradNormLogger, refine

    logger = GradNormLogger(opt)
    train(task, opt, trial, scheduler=_scheduler(opt, args["pilot"], trial), init_val=init_val)
    logger.remove()
    kind = "l2" if trial.optimizer == "sgd" else "l1"
    refined = refine(logger.norms(kind), trial.steps, "sgd" if kind == "l2" else "adam", width=args["width"],
                     warmup=args["warmup"])
    task, opt = fresh(workload, trial)  # the same initial model, under the refined schedule
    hist, diverged, t_train = train(task, opt, trial, scheduler=_scheduler(opt, refined.spec, trial),
                                    init_val=init_val, on_log=on_log)
    return hist, diverged, t_train, {"refined_spec": refined.spec}, trial.steps


def _hypergradient(trial, workload, task, opt, init_val, on_log, args):
    from ..adaptive.hypergradient import HypergradientLR

    ctl = HypergradientLR(opt, args["beta"] or None, mode=args["mode"], schedule=args["schedule"],
                          total_steps=trial.steps)
    hist, diverged, t_train = train(task, opt, trial, init_val=init_val, on_log=on_log)
    return hist, diverged, t_train, {"final_lr": float(ctl.lrs[0])}, 0


def _autolrs(trial, workload, task, opt, init_val, on_log, args):
    from ..adaptive.autolrs import AutoLRS

    tau = args["tau"] or max(trial.steps // 8, 10)
    ctl = AutoLRS(task.model, opt, min_lr=trial.lr * args["low"], max_lr=trial.lr * args["high"], tau=tau,
                  tau_probe=max(tau // 10, 3), k=args["k"], tau_max=trial.steps,
                  val_fn=lambda: evaluate(task, opt, trial), total_steps=trial.steps, seed=trial.seed)
    hist, diverged, t_train = train(task, opt, trial, autolrs=ctl, init_val=init_val, on_log=on_log)
    info = {"decisions": len(ctl.decisions), "chosen_lrs": ",".join(f"{d['lr']:.3g}" for d in ctl.decisions)}
    return hist, diverged, t_train, info, ctl.step_count - ctl.train_steps


DRIVERS: dict[str, Callable] = {"fixed": _fixed, "plateau": _plateau, "refine": _refine,
                                "hypergradient": _hypergradient, "autolrs": _autolrs}


def run_trial(trial: Trial, threads: int | None = None, on_log: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Train ``trial`` here and return ``{"history": {field: list}, "summary": {...}}``."""
    from .workloads import get_workload

    method = parse_method(trial.schedule)
    adaptive = method is not None or is_adaptive(trial.schedule)
    if adaptive and trial.optimizer == "sfadamw":
        raise ValueError(f"{trial.schedule}: the adaptive methods drive the LR of adamw or sgd, not schedule-free "
                         f"AdamW")
    set_threads(threads)
    t_start = time.perf_counter()
    workload = get_workload(trial.workload)
    task, opt = fresh(workload, trial)
    init_val = evaluate(task, opt, trial)
    setup_time = time.perf_counter() - t_start
    name = method[0] if method is not None else ("plateau" if adaptive else "fixed")
    hist, diverged, t_train, info, search = DRIVERS[name](trial, workload, task, opt, init_val, on_log,
                                                          method[1] if method else {})
    extra = {"search_steps": int(search)} if adaptive else {}
    summary = trial_summary(hist, diverged, init_val, t_train, setup_time, t_start, {**task.info, **info},
                            description=workload.description, **extra)
    return {"history": hist, "summary": summary}
