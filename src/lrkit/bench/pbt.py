"""Population Based Training (Jaderberg et al. 2017) on Ray Tune, with lrkit schedule parameters explored.

Each member of the population trains a bench workload under ``lr × schedule(t)``, where the schedule is a
spec template such as ``"wsd(warmup=0.05, decay={decay})"``: the peak LR and the template's parameters
(here the decay fraction, i.e. where the decay starts) are the hyperparameters PBT exploits and explores.
Ray Tune's ``PopulationBasedTraining`` does the rest: every ``interval`` iterations the bottom quantile
copies the weights and hyperparameters of the top quantile and perturbs them (×0.8 / ×1.2, or resamples).
Because an lrkit schedule is a pure function of the step, a member whose parameters change mid-run simply
continues on the new schedule from the step it has reached (``Scheduler.load_state_dict(..., replan=True)``).

Needs ``ray[tune]`` (and torch for the workloads). :func:`pbt_search` starts a local Ray if none runs.
"""

from __future__ import annotations

import json
import math
import os
import string
import tempfile
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError

DEFAULT_TEMPLATE = "wsd(warmup=0.05, decay={decay})"
DEFAULT_SPACE = {"lr": (1e-4, 3e-2, "log"), "decay": (0.05, 0.6, "linear")}


@dataclass
class PBTResult:
    """The outcome: the best member's final hyperparameters and spec, and every member's history."""

    best_config: dict[str, float]
    best_spec: str
    best_val: float
    #: Per member, each reported iteration: step, val_loss, loss, spec, the hyperparameters, and
    #: ``restored_at`` (the step of the checkpoint it was restarted from after an exploit, else None).
    histories: list[list[dict[str, Any]]] = field(default_factory=list)
    steps_per_member: int = 0
    population: int = 0
    path: str = ""

    @property
    def total_steps(self) -> int:
        """Training steps spent by the whole population (the compute PBT costs)."""
        return self.steps_per_member * self.population

    def best_history(self) -> list[dict[str, float]]:
        """The history of the member that ended best (its reported iterations, in order)."""
        finals = [h[-1]["val_loss"] if h else math.inf for h in self.histories]
        return self.histories[min(range(len(finals)), key=finals.__getitem__)] if finals else []


def _fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def _check_space(template: str, space: dict[str, tuple]) -> dict[str, tuple]:
    out = {}
    for name, spec in space.items():
        if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
            raise SpecError(f"pbt: space[{name!r}]={spec!r}; expected (low, high) or (low, high, 'log'|'linear')")
        lo, hi = float(spec[0]), float(spec[1])
        scale = spec[2] if len(spec) == 3 else "linear"
        if not lo < hi or scale not in ("log", "linear") or (scale == "log" and lo <= 0):
            raise SpecError(f"pbt: space[{name!r}]={spec!r} is not a valid range (low < high; 'log' needs low > 0)")
        out[name] = (lo, hi, scale)
    missing = [f for f in _fields(template) if f not in out]
    if missing:
        raise SpecError(f"pbt: the template {template!r} needs {', '.join(missing)} in the search space")
    if "lr" not in out:
        raise SpecError("pbt: the search space needs 'lr' (the peak LR)")
    return out


def spec_for(template: str, config: dict[str, Any], space: dict[str, tuple]) -> str:
    """The spec of a member: the template filled with its (clipped) hyperparameters."""
    values = {k: min(max(float(config[k]), space[k][0]), space[k][1]) for k in space}
    return template.format(**{k: repr(round(values[k], 6)) for k in _fields(template)})


def _load_checkpoint(tune) -> dict[str, Any] | None:
    """The state this member restarts from (its own, or the one PBT copied to it), or None."""
    import torch

    ckpt = tune.get_checkpoint()
    if ckpt is None:
        return None
    with ckpt.as_directory() as d:  # plain data and tensors only: no code is unpickled
        return torch.load(os.path.join(d, "member.pt"), weights_only=True)


def _save_checkpoint(tune, metrics: dict[str, Any], state: dict[str, Any]) -> None:
    import torch

    with tempfile.TemporaryDirectory() as d:
        torch.save(state, os.path.join(d, "member.pt"))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))


def _member(config: dict[str, Any]) -> None:
    """One PBT member (a Ray Tune function trainable).

    It trains through the benchmark's one loop (:func:`lrkit.bench.loop.train`, its divergence rule
    included: a diverged member stops training and reports a validation loss of 1e9 until PBT replaces
    it), its LR driven by ``lrkit.torch.Scheduler``. After an exploit the copied scheduler state is
    loaded with ``replan=True``: this member's spec and peak LR from the step the copy had reached.
    """
    from ray import tune

    from ..integrations.torch import Scheduler
    from .loop import Logger, evaluate, fresh, set_threads, train
    from .trial import Trial
    from .workloads import get_workload

    set_threads(1)
    fixed = config["_fixed"]
    space = fixed["space"]
    steps, every = fixed["steps"], fixed["every"]
    lr = min(max(float(config["lr"]), space["lr"][0]), space["lr"][1])
    spec = spec_for(fixed["template"], config, space)
    trial = Trial(fixed["workload"], spec, lr, fixed["optimizer"], fixed["seed"], steps, every, fixed["options"])
    task, opt = fresh(get_workload(trial.workload), trial)
    state = _load_checkpoint(tune)
    if state is not None:
        task.model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        for g in opt.param_groups:  # this member's peak LR, not the copied member's
            g["lr"] = lr
            g.pop("initial_lr", None)
    sched = Scheduler(opt, spec, total_steps=steps)
    if state is not None:
        sched.load_state_dict(state["scheduler"], replan=True)
        step = restored = int(state["step"])
        diverged, init_val = bool(state["diverged"]), float(state["init_val"])
    else:
        step, restored, diverged, init_val = 0, None, False, evaluate(task, opt, trial)
    log = Logger(steps, every, lambda: evaluate(task, opt, trial), first=False)
    while step < steps:
        end = min(step + every, steps)
        val, loss = 1e9, math.nan
        if not diverged:
            n = len(log.hist["step"])
            _, diverged, _ = train(task, opt, trial, scheduler=sched, init_val=init_val, start=step, stop=end,
                                   logger=log)
            if len(log.hist["step"]) > n:
                loss = log.hist["loss"][-1]
                val = log.hist["val_loss"][-1] if not diverged else 1e9
        step = end
        metrics = {"val_loss": val, "loss": loss, "step": step, "spec": spec, **{k: float(config[k]) for k in space}}
        record = {"member": tune.get_context().get_trial_id(), "restored_at": restored, **metrics}
        with open(fixed["log"], "a") as fh:  # one short line per append: whole lines even with several writers
            fh.write(json.dumps(record) + "\n")
        restored = None
        _save_checkpoint(tune, metrics, {"model": task.model.state_dict(), "optimizer": opt.state_dict(),
                                         "scheduler": sched.state_dict(), "step": step, "init_val": init_val,
                                         "diverged": diverged})


def _read_members(log: str) -> list[list[dict[str, Any]]]:
    """Each member's reported iterations, from the members' log (one JSON line per iteration)."""
    members: dict[str, list[dict[str, Any]]] = {}
    if os.path.exists(log):
        with open(log) as fh:
            for line in fh:
                rec = json.loads(line)
                members.setdefault(rec.pop("member"), []).append(rec)
    return [members[k] for k in sorted(members)]


def pbt_search(workload: str, steps: int, *, template: str = DEFAULT_TEMPLATE,
               space: dict[str, tuple] | None = None, population: int = 4, interval: int | None = None,
               perturbation_interval: int = 2, quantile_fraction: float = 0.25, resample_probability: float = 0.25,
               optimizer: str = "adamw", seed: int = 0, options: dict[str, Any] | None = None,
               synch: bool = False, storage_path: str | None = None, num_cpus: int | None = None) -> PBTResult:
    """Run PBT with a population of ``population`` members on a bench workload, each ``steps`` steps long.

    Args:
        workload: a bench workload name (``digits-mlp``, ``mnist1d``, ``charlm`` or ``module:function``).
        steps: each member's run length.
        template: the schedule, with ``{name}`` placeholders for explored parameters.
        space: ``{name: (low, high[, 'log'|'linear'])}`` for ``lr`` and each placeholder; perturbed values
            are clipped to these ranges.
        interval: steps per reported iteration (default ``steps // 10``); members report the validation loss
            and checkpoint after each.
        perturbation_interval: iterations between exploit/explore decisions.
        quantile_fraction, resample_probability: Ray Tune's PBT settings (its defaults 0.25, 0.25).
        synch: synchronous PBT (every member waits at each perturbation point), Ray Tune's ``synch``.
        seed: the workload seed of every member (same data order and initialisation; only the
            hyperparameters differ) and of the initial hyperparameter draws.
        storage_path: where Ray Tune writes its results (default: a temporary directory).
        num_cpus: CPUs for a local Ray started here (default: all).
    """
    import ray
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    from ..schedules import validate as v
    from ..spec import parse

    space = _check_space(template, dict(space or DEFAULT_SPACE))
    steps = v.integer("pbt", "steps", steps, lo=1)
    population = v.integer("pbt", "population", population, lo=2)
    every = v.integer("pbt", "interval", interval if interval is not None else max(steps // 10, 1), lo=1)
    probe = {k: (lo + hi) / 2 for k, (lo, hi, _) in space.items()}
    parse(spec_for(template, probe, space))  # a template that does not make a valid spec fails here, once

    def domain(lo, hi, scale):
        return tune.loguniform(lo, hi) if scale == "log" else tune.uniform(lo, hi)

    mutations = {k: domain(*r) for k, r in space.items()}
    if storage_path is None:
        storage_path = tempfile.mkdtemp(prefix="lrkit-pbt-")
    os.makedirs(storage_path, exist_ok=True)
    log = os.path.join(os.path.abspath(storage_path), "pbt-members.jsonl")
    fixed = {"log": log, "workload": workload, "steps": steps, "every": every, "template": template, "space": space,
             "optimizer": optimizer, "seed": seed, "options": dict(options or {})}
    scheduler = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=perturbation_interval,
                                        hyperparam_mutations=mutations, quantile_fraction=quantile_fraction,
                                        resample_probability=resample_probability, synch=synch)
    if not ray.is_initialized():
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    import random

    import numpy as np

    random.seed(seed)  # Ray Tune's PBT draws its perturbations from Python's random module
    np.random.seed(seed)
    tuner = tune.Tuner(
        _member,
        param_space={**mutations, "_fixed": fixed},
        tune_config=tune.TuneConfig(num_samples=population, scheduler=scheduler, metric="val_loss", mode="min",
                                    reuse_actors=True),
        run_config=tune.RunConfig(storage_path=os.path.abspath(storage_path), name="lrkit-pbt", verbose=0,
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=None)),  # PBT copies old ones
    )
    grid = tuner.fit()
    histories = _read_members(log)
    errors = [str(r.error) for r in grid if r.error is not None]
    finished = [h for h in histories if h and h[-1]["step"] >= steps]
    if not finished:
        raise RuntimeError(f"pbt: no member finished{': ' + errors[0] if errors else ''}")
    best = min(finished, key=lambda h: h[-1]["val_loss"])[-1]
    cfg = {k: float(best[k]) for k in space}
    return PBTResult(best_config=cfg, best_spec=best["spec"], best_val=float(best["val_loss"]), histories=histories,
                     steps_per_member=steps, population=population, path=os.path.join(storage_path, "lrkit-pbt"))
