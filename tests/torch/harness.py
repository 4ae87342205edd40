"""Shared by the PyTorch tests and the worker scripts they launch in fresh processes: the specs of every
family, and one way to build an optimizer and scheduler from a plain-data case description."""

from __future__ import annotations

import torch

from lrkit.torch import Scheduler

#: Representative specs of every family and combinator (fractions, so any total from 20 steps works).
SPECS = [
    "constant()",
    "constant(warmup=0.1)",
    "linear(end=0.1)",
    "cosine()",
    "cosine(warmup=0.1, floor=0.1)",
    "cosine(warmup=5, warmup_form='exponential', warmup_init=0.01)",
    "polynomial(power=2.0, floor=0.05)",
    "exponential(gamma=0.97)",
    "step(every=7, gamma=0.5)",
    "multistep(milestones=[0.3, 0.6, 0.9], gamma=0.3)",
    "inverse_sqrt(warmup=4)",
    "rex(floor=0.05)",
    "uba(phi=0.5, floor=0.1)",
    "wsd(warmup=0.05, decay=0.2)",
    "wsd(decay=0.3, form='cosine', floor=0.1)",
    "wsd(decay=0.25, form='exp', floor=0.01)",
    "power(warmup=3, decay=0.2, form='linear')",
    "infinite(warmup=0.05, cooldown=0.2, constant_lr=0.3, anneal=0.2)",
    "onecycle()",
    "cyclic(base=0.1, max=1.0, up=5, down=7, mode='triangular2')",
    "sgdr(period=9, mult=2, floor=0.05)",
    "piecewise(points=[(0, 0.2), (0.3, 1.0), (1.0, 0.05)])",
    "sequence(linear(end=0.5), cosine(floor=0.1), boundaries=[0.4])",
    "sequence(constant(warmup=3), wsd(decay=0.5), exponential(gamma=0.9), boundaries=[0.3, 0.7])",
    "product(warmup(period=6), cosine(floor=0.2))",
    "clamp(exponential(gamma=0.9), floor=0.05, ceiling=0.8)",
    "repeat(cosine(floor=0.1), every=0.25, times=3)",
    "rewarm(from_lr=0.1, warmup=4, then=cosine(floor=0.1))",
    "cooldown(constant(), at=12, decay=10, form='linear', floor=0.05)",
]

#: Base LRs and names of the param groups of a case (AdamW: betas and weight decay can be scheduled).
GROUPS = [{"lr": 1e-3, "name": "backbone"}, {"lr": 3e-2, "name": "head"}, {"lr": 0.5}]


def build(case: dict, *, tensor_lr: bool = False, optimizer_state: dict | None = None):
    """An AdamW over ``case['groups']`` param groups and a Scheduler as the case describes.

    With ``optimizer_state``, the optimizer's checkpoint is loaded before the scheduler is built when
    ``case['order'] == 'optimizer-first'``, else after (both orders are common in training scripts)."""
    torch.manual_seed(0)
    groups = []
    for i, g in enumerate(GROUPS[: case["groups"]]):
        p = torch.nn.Parameter(torch.zeros(2))
        lr = torch.tensor(g["lr"]) if tensor_lr else g["lr"]
        groups.append({**g, "lr": lr, "params": [p], "weight_decay": 0.01 * (i + 1)})
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.95), foreach=False)
    first = optimizer_state is not None and case.get("order") == "optimizer-first"
    if first:
        opt.load_state_dict(optimizer_state)
    schedule = case["spec"]
    if case.get("per_group"):
        schedule = {g.get("name", i): (case["spec"] if i % 2 == 0 else case["other"])
                    for i, g in enumerate(GROUPS[: case["groups"]])}
    hyper = {"weight_decay": case["wd"], "beta2": "linear(end=0.99)"} if case.get("wd") else None
    sched = Scheduler(opt, schedule, case["total"], hyperparams=hyper, convention=case.get("convention"))
    if optimizer_state is not None and not first:
        opt.load_state_dict(optimizer_state)
    return opt, sched


def record(opt, sched) -> tuple:
    """The values every group trains with at the current step: lr, weight decay, beta2."""
    out = [float(x) for x in sched.get_last_lr()]
    for g in opt.param_groups:
        out += [float(g["weight_decay"]), float(g["betas"][1])]
    return tuple(out)


def advance(opt, sched, case: dict, step: int) -> None:
    """One training step of the case (an optimizer step with no gradients still runs its hooks)."""
    if step in case.get("cooldowns", {}):
        steps, form, floor = case["cooldowns"][step]
        sched.cooldown(steps, form, floor)
    opt.step()
    sched.step()
