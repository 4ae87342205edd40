"""Per-step cost of ``lrkit.torch.Scheduler.step()`` against torch's own schedulers, in the same process.

Four parameter groups; the same cosine decay everywhere: lrkit ``cosine()``, torch ``LambdaLR`` with the
closed-form cosine lambda, and torch ``CosineAnnealingLR`` (its recursive form). Two measurements:

* scheduler alone: lrkit's counting hook (what ``optimizer.step()`` triggers) plus ``Scheduler.step()``,
  against ``LambdaLR.step()`` / ``CosineAnnealingLR.step()``; no optimizer step is timed;
* with a trivial optimizer step: ``optimizer.step()`` (SGD on parameters without gradients, so the update
  itself is a no-op) followed by the scheduler's ``step()``.

Prints microseconds per step (the median of several repeats) and the ratios ours / LambdaLR and
ours / CosineAnnealingLR; a ratio <= 1.0 means lrkit's scheduler is no slower.

usage: python benchmarks/bench_torch_scheduler.py [--quick] [--groups 4]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from lrkit.torch import Scheduler


def make_optimizer(groups: int) -> torch.optim.Optimizer:
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(4))], "lr": 10.0 ** -(i + 1)}
                            for i in range(groups)], lr=0.1)


def build(name: str, groups: int, total: int):
    opt = make_optimizer(groups)
    if name == "lrkit":
        sched = Scheduler(opt, "cosine()", total)
        hook = opt._optimizer_step_post_hooks[sched._hook.id]  # what optimizer.step() calls after the update
        return opt, sched, lambda: (hook(opt, (), {}), sched.step())
    if name == "LambdaLR":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1.0 + math.cos(math.pi * min(t, total) / total)))
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    opt.step()  # torch warns when its scheduler steps before the optimizer has ever stepped
    return opt, sched, sched.step


def time_per_step(name: str, groups: int, n: int, repeats: int, with_optimizer: bool) -> float:
    """Median over ``repeats`` fresh schedulers of the mean cost of one step, in microseconds."""
    samples = []
    for _ in range(repeats):
        opt, sched, scheduler_only = build(name, groups, n)
        if with_optimizer:
            opt_step, sched_step = opt.step, sched.step

            def one():
                opt_step()
                sched_step()
        else:
            one = scheduler_only
        for _ in range(min(n // 10, 1000)):  # warm up
            one()
        start = time.perf_counter_ns()
        for _ in range(n):
            one()
        samples.append((time.perf_counter_ns() - start) / n / 1e3)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a few thousand steps, for a smoke test")
    p.add_argument("--groups", type=int, default=4)
    args = p.parse_args(argv)
    n, repeats = (2_000, 2) if args.quick else (30_000, 5)
    torch.set_num_threads(1)
    results = {}
    print(f"lrkit.torch.Scheduler.step() vs torch schedulers: {args.groups} param groups, {n} steps x {repeats} "
          f"repeats (median), torch {torch.__version__}")
    for label, with_opt in (("scheduler alone", False), ("optimizer.step() + scheduler.step()", True)):
        t = {name: time_per_step(name, args.groups, n, repeats, with_opt)
             for name in ("lrkit", "LambdaLR", "CosineAnnealingLR")}
        results[label] = t
        print(f"\n{label}:")
        for name, us in t.items():
            print(f"  {name:<18} {us:8.2f} us/step")
        print(f"  ratio ours / LambdaLR          {t['lrkit'] / t['LambdaLR']:.2f}")
        print(f"  ratio ours / CosineAnnealingLR {t['lrkit'] / t['CosineAnnealingLR']:.2f}")
    return results


if __name__ == "__main__":
    main()
