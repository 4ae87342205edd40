"""The adaptive methods as schedule sources of the benchmark harness.

A trial's ``schedule`` may name an adaptive method instead of a fixed spec:

* ``refine(pilot="linear()", warmup=0.0)``: a pilot run under ``pilot`` logs the gradient norms, the refined schedule
  (Defazio et al. 2023) is computed from them, and the trial trains under it. The pilot's steps are spent
  too (``summary["search_steps"]``). ``warmup`` puts a linear warmup in front and leaves the pilot's
  norms of that stretch out (see :func:`lrkit.adaptive.refine.refine`).
* ``autolrs(low=0.03, high=3.0, tau=0, k=10)``: AutoLRS searching ``[low·lr, high·lr]`` (``tau=0``: the
  first stage is an eighth of the run, probes a tenth of a stage, as the reference's ratios). Probe steps
  are training steps of the trial; the history logs the validation loss of the model being kept.
* ``hypergradient(beta=0, mode="additive", schedule="constant()")``: hypergradient descent on the LR,
  starting at the trial's LR, optionally under a schedule (``beta=0``: the reference's default for the
  optimizer).
* any spec with a ``plateau(...)`` phase: trained like a fixed schedule, with the validation loss fed to
  the scheduler at every logged point (``patience`` counts logged points).

The harness calls :func:`is_adaptive` and :func:`canonical` on the spec and :func:`run_adaptive_trial` to
train; the result has the same form as ``lrkit.bench.train.run_trial``'s.
"""

from __future__ import annotations

import ast
import math
import time
from typing import Any, Callable

import numpy as np

from ..errors import SpecError

METHODS: dict[str, dict[str, Any]] = {
    "refine": {"pilot": "linear()", "width": 0.1, "warmup": 0.0},
    "autolrs": {"low": 0.03, "high": 3.0, "tau": 0, "k": 10},
    "hypergradient": {"beta": 0.0, "mode": "additive", "schedule": "constant()"},
}
FIELDS = ("step", "lr", "loss", "val_loss", "grad_norm", "time")


def parse_method(text: str) -> tuple[str, dict[str, Any]] | None:
    """``(name, arguments with defaults)`` when ``text`` names an adaptive method, else None."""
    if not isinstance(text, str):
        return None
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.Name) and node.id in METHODS:
        return node.id, dict(METHODS[node.id])
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in METHODS):
        return None
    name = node.func.id
    if node.args:
        raise SpecError(f"{name}: give arguments as name=value")
    args = dict(METHODS[name])
    for kw in node.keywords:
        if kw.arg not in args:
            raise SpecError(f"{name}: unknown argument {kw.arg!r} (valid: {', '.join(args)})")
        try:
            value = ast.literal_eval(kw.value)
        except ValueError:
            raise SpecError(f"{name}: {kw.arg}={ast.unparse(kw.value)} is not a literal value") from None
        if isinstance(args[kw.arg], (int, float)) and not isinstance(value, (int, float)) or \
                isinstance(args[kw.arg], str) and not isinstance(value, str):
            raise SpecError(f"{name}: {kw.arg}={value!r} should be "
                            f"{'a string' if isinstance(args[kw.arg], str) else 'a number'}")
        args[kw.arg] = value
    _check(name, args)
    return name, args


def _check(name: str, args: dict[str, Any]) -> None:
    from ..spec import parse

    if name == "refine":
        parse(args["pilot"])
    elif name == "autolrs":
        if not 0 < args["low"] < args["high"]:
            raise SpecError(f"autolrs: need 0 < low < high; got low={args['low']}, high={args['high']}")
        if args["tau"] < 0 or args["k"] < 1:
            raise SpecError("autolrs: tau must be >= 0 and k >= 1")
    elif name == "hypergradient":
        parse(args["schedule"])
        if args["mode"] not in ("additive", "multiplicative") or args["beta"] < 0:
            raise SpecError("hypergradient: mode is 'additive' or 'multiplicative', beta >= 0")


def is_adaptive(spec: str) -> bool:
    """Whether the harness must train ``spec`` here (an adaptive method, or a schedule with a plateau)."""
    if parse_method(spec) is not None:
        return True
    from ..spec import parse
    from ..schedules.plateau import has_plateau

    try:
        return has_plateau(parse(spec))
    except SpecError:
        return False


def canonical(spec: str) -> str:
    """The spec as printed everywhere: a method with all its arguments, or a schedule's canonical spec."""
    m = parse_method(spec)
    if m is None:
        from ..spec import parse

        return str(parse(spec))
    name, args = m
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"


# ----------------------------------------------------------------------------------------------------------------
class _Logger:
    """The harness's logging convention: step 0, every ``(t+1) % K == 0``, the last step; val not timed."""

    def __init__(self, steps: int, every: int, evaluate: Callable[[], float], on_log=None) -> None:
        self.steps, self.every, self.evaluate, self.on_log = steps, every, evaluate, on_log
        self.hist: dict[str, list[float]] = {f: [] for f in FIELDS}
        self.window: list[float] = []
        self.time = 0.0

    def due(self, t: int) -> bool:
        return t == 0 or (t + 1) % self.every == 0 or t == self.steps - 1

    def add(self, t: int, lr: float, loss: float, gn: float, val: float | None = None) -> float | None:
        self.window.append(loss)
        if not self.due(t):
            return None
        if val is None:
            val = self.evaluate()
        row = {"step": t, "lr": lr, "loss": float(np.mean(self.window)), "val_loss": val, "grad_norm": gn,
               "time": self.time}
        self.window = []
        for f in FIELDS:
            self.hist[f].append(row[f])
        if self.on_log is not None:
            self.on_log(row)
        return val


def run_adaptive_trial(trial, threads: int | None = None, on_log: Callable[[dict], None] | None = None
                       ) -> dict[str, Any]:
    """Train a harness trial whose schedule is an adaptive method (see the module docstring)."""
    from .train import make_optimizer, set_threads, trial_summary
    from .workloads import get_workload

    if trial.optimizer == "sfadamw":
        raise ValueError(f"{trial.schedule}: the adaptive methods drive the LR of adamw or sgd, not schedule-free "
                         f"AdamW")
    set_threads(threads)
    t_start = time.perf_counter()
    method = parse_method(trial.schedule)
    workload = get_workload(trial.workload)

    def fresh():
        task = workload.task(seed=trial.seed, steps=trial.steps, **trial.options)
        params = [p for p in task.model.parameters() if p.requires_grad]
        opt = make_optimizer(trial.optimizer, params, trial.lr, task.weight_decay, tuple(task.betas))
        return task, params, opt

    info: dict[str, Any] = {}
    search_steps = 0
    init_val = _val(fresh()[0])  # the workload's initial model, as the harness logs it
    if method is None:  # a schedule with a plateau phase
        task, params, opt = fresh()
        hist, diverged, t_train = _train_schedule(task, params, opt, trial, trial.schedule, on_log, feed_metrics=True)
    elif method[0] == "refine":
        from ..adaptive.refine import GradNormLogger, refine

        args = method[1]
        task, params, opt = fresh()
        logger = GradNormLogger(opt)
        _, diverged, _ = _train_schedule(task, params, opt, trial, args["pilot"], None)
        logger.remove()
        kind = "l2" if trial.optimizer == "sgd" else "l1"
        norms = logger.norms(kind)
        refined = refine(norms, trial.steps, "sgd" if kind == "l2" else "adam", width=args["width"],
                         warmup=args["warmup"])
        info["refined_spec"] = refined.spec
        search_steps = trial.steps
        task, params, opt = fresh()
        hist, diverged, t_train = _train_schedule(task, params, opt, trial, refined.spec, on_log)
    elif method[0] == "hypergradient":
        from ..adaptive.hypergradient import HypergradientLR

        args = method[1]
        task, params, opt = fresh()
        ctl = HypergradientLR(opt, args["beta"] or None, mode=args["mode"], schedule=args["schedule"],
                              total_steps=trial.steps)
        hist, diverged, t_train = _train_loop(task, params, opt, trial, on_log)
        info["final_lr"] = float(ctl.lrs[0])
    else:  # autolrs
        from ..adaptive.autolrs import AutoLRS

        args = method[1]
        task, params, opt = fresh()
        tau = args["tau"] or max(trial.steps // 8, 10)
        ctl = AutoLRS(task.model, opt, min_lr=trial.lr * args["low"], max_lr=trial.lr * args["high"], tau=tau,
                      tau_probe=max(tau // 10, 3), k=args["k"], tau_max=trial.steps,
                      val_fn=lambda: _val(task), total_steps=trial.steps, seed=trial.seed)
        hist, diverged, t_train = _train_loop(task, params, opt, trial, on_log, autolrs=ctl)
        info["decisions"] = len(ctl.decisions)
        info["chosen_lrs"] = ",".join(f"{d['lr']:.3g}" for d in ctl.decisions)
        search_steps = ctl.step_count - ctl.train_steps
    summary = trial_summary(hist, diverged, init_val, t_train, 0.0, t_start, {**task.info, **info},
                            search_steps=int(search_steps), description=workload.description)
    return {"history": hist, "summary": summary}


def _val(task) -> float:
    import torch

    model = task.model
    model.eval()
    with torch.no_grad():
        v = float(task.val_loss(model))
    model.train()
    return v


def _train_schedule(task, params, opt, trial, spec, on_log, feed_metrics: bool = False):
    from ..integrations.torch import Scheduler

    sched = Scheduler(opt, spec, total_steps=trial.steps)
    return _train_loop(task, params, opt, trial, on_log, sched=sched, feed_metrics=feed_metrics)


def _train_loop(task, params, opt, trial, on_log, sched=None, feed_metrics=False, autolrs=None):
    import torch

    log = _Logger(trial.steps, trial.log_every, lambda: _val(task), on_log)
    clip = task.clip if task.clip is not None else math.inf
    diverged = False
    task.model.train()
    for t in range(trial.steps):
        t0 = time.perf_counter()
        lr_now = float(opt.param_groups[0]["lr"])
        probing = autolrs is not None and autolrs.phase == "probe"
        loss = task.loss(task.model, task.batch(t))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = float(torch.nn.utils.clip_grad_norm_(params, clip))
        lv = float(loss.detach())
        if not (math.isfinite(lv) and math.isfinite(gn)) and not probing:
            diverged = True
        else:
            opt.step()
            if sched is not None:
                sched.step()
            if autolrs is not None:
                autolrs.step(lv)
        log.time += time.perf_counter() - t0
        if autolrs is not None and (probing or autolrs.phase == "probe") and log.due(t) and log.hist["val_loss"]:
            # a probe's model is thrown away: log the kept model's last validation loss
            val = log.add(t, lr_now, lv, gn, val=log.hist["val_loss"][-1])
        else:
            val = log.add(t, lr_now, lv, gn)
        if val is not None:
            if not math.isfinite(val):
                diverged = True
            elif feed_metrics and sched is not None:
                sched.step(metrics=val)
        if diverged:
            break
    return log.hist, diverged, log.time
