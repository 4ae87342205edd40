"""How fast lrkit's schedules evaluate, as ratios against the loop users write today.

The anchor is a plain Python loop calling the lambda of a ``torch.optim.lr_scheduler.LambdaLR``
(a cosine written with ``math.cos``, the kind found in most training scripts), one call per step.
For every family (a representative spec each, plus composites) the script prints:

* ``bound``: one call of a bound schedule, ``b = s.bind(N); b(t)`` (what a training loop does);
* ``unbound``: one call of ``s(t, N)`` (binds on each call; the bound schedule is cached);
* ``vector``: the cost per step of ``s(np.arange(10_000_000), N)``, and that call's total time.

Each figure is the best of several ``timeit`` repeats; ratios are the anchor's time divided by
lrkit's (above 1: lrkit is faster). Targets: a vectorised 10M-step call under 1 s, a scalar call
under 2 µs.

    python benchmarks/bench_schedules.py            # the full run (about a minute)
    python benchmarks/bench_schedules.py --quick    # a smoke run, seconds
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import timeit

import numpy as np

import lrkit
import lrkit.adaptive  # noqa: F401 - registers the plateau family

#: (label, spec) for every family in the registry, then composites.
SPECS: list[tuple[str, str]] = [
    ("constant", "constant(warmup=0.01)"),
    ("linear", "linear(warmup=0.01)"),
    ("cosine", "cosine(warmup=0.01, floor=0.1)"),
    ("polynomial", "polynomial(warmup=0.01, power=2.0)"),
    ("exponential", "exponential(warmup=0.01, gamma=0.999)"),
    ("step", "step(every=0.1, gamma=0.5)"),
    ("multistep", "multistep(milestones=[0.3, 0.6, 0.9])"),
    ("inverse_sqrt", "inverse_sqrt(warmup=0.01)"),
    ("rex", "rex(warmup=0.01)"),
    ("uba", "uba(warmup=0.01, phi=0.5)"),
    ("wsd", "wsd(warmup=0.01, decay=0.2, form=\"1-sqrt\")"),
    ("power", "power(warmup=0.01, decay=0.1, form=\"linear\")"),
    ("infinite", "infinite(warmup=0.01, cooldown=0.1, anneal=0.1)"),
    ("onecycle", "onecycle()"),
    ("cyclic", "cyclic(up=0.05, mode=\"triangular2\")"),
    ("sgdr", "sgdr(period=0.05, mult=2, floor=0.01)"),
    ("piecewise", "piecewise(points=[(0, 1.0), (0.5, 0.8), (0.9, 0.1), (1.0, 0.0)])"),
    ("warmup", "warmup(form=\"radam\")"),
    ("rewarm", "rewarm(from_lr=0.1, warmup=0.01, then=cosine(floor=0.1))"),
    ("sequence", "sequence(linear(warmup=0.1), cosine(floor=0.1), boundaries=[0.5])"),
    ("product", "product(warmup(period=1000), cosine())"),
    ("clamp", "clamp(exponential(gamma=0.9999), floor=0.05)"),
    ("repeat", "repeat(cosine(), every=0.25, times=3)"),
    ("cooldown", "cooldown(constant(warmup=0.01), at=8000, decay=2000)"),
    ("plateau", "plateau(warmup=0.01, factor=0.5, reductions=[3000, 6000])"),
    ("tanh", "tanh(warmup=0.01, floor=0.01, cycle_limit=2, cycle_mul=2.0, cycle_decay=0.5)"),
    ("kdecay", "kdecay(warmup=0.01, k=2.0, floor=0.01)"),
    ("cosine_waves", "cosine_waves(warmup=0.01, waves=1.5, floor=0.1)"),
    ("cosine_restarts", "cosine_restarts(warmup=0.01, cycles=3.0)"),
    ("noise", "noise(cosine(warmup=0.01), range=[0.9, 1.0])"),
    ("megatron", "megatron(decay_style=\"WSD\", warmup=0.01, wsd_decay=0.2, floor=0.1)"),
    ("megatron_wd", "megatron_wd(style=\"cosine\", start=0.0)"),
    ("torchtitan", "torchtitan(warmup=0.01, decay_ratio=0.2, decay_type=\"sqrt\")"),
    ("cosine_lr_rate", "cosine_lr_rate(warmup=0.01, floor=0.1, warmup_lr_rate=0.01)"),
    ("deepspeed_warmup", "deepspeed_warmup(warmup=0.01)"),
    ("deepspeed_warmup_decay", "deepspeed_warmup_decay(warmup=0.01)"),
    ("deepspeed_warmup_cosine", "deepspeed_warmup_cosine(warmup=0.01)"),
    ("under", "under(wsd(warmup=0.01, decay=0.2), convention=\"hf\")"),
    ("composite", "sequence(rewarm(from_lr=0.1, warmup=0.05, then=wsd(decay=0.2)), "
                  "clamp(repeat(cosine(), every=0.1), floor=0.1), boundaries=[0.6])"),
]


def anchor_lambda(total: int):
    """The LambdaLR lambda users write: a cosine with ``math.cos``; built into a real LambdaLR if torch exists."""
    lam = lambda step: 0.5 * (1.0 + math.cos(math.pi * step / total))  # noqa: E731
    try:
        import torch

        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
        return sched.lr_lambdas[0], f"torch {torch.__version__} LambdaLR lambda (math.cos cosine)"
    except ImportError:
        return lam, "the LambdaLR-style lambda (math.cos cosine; torch not installed)"


def best(fn, number: int, repeat: int) -> float:
    """Seconds per call of ``fn``: the best of ``repeat`` runs of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def measure(total: int, vector_steps: int, number: int, repeat: int):
    lam, anchor_name = anchor_lambda(total)
    steps = list(range(0, total, max(total // number, 1)))[:number]

    def loop():
        for t in steps:
            lam(t)

    anchor = best(loop, 1, repeat) / len(steps)
    arange = np.arange(vector_steps)
    rows = []
    for label, spec in SPECS:
        s = lrkit.parse(spec)
        b = s.bind(total)

        def bound_loop(b=b):
            for t in steps:
                b(t)

        def unbound_loop(s=s):
            for t in steps:
                s(t, total)

        bound = best(bound_loop, 1, repeat) / len(steps)
        unbound = best(unbound_loop, 1, repeat) / len(steps)
        vec_total = best(lambda s=s: s(arange, total), 1, max(repeat - 2, 1))
        rows.append((label, spec, bound, unbound, vec_total / vector_steps, vec_total))
    missing = sorted(set(lrkit.schedules.REGISTRY) - {label for label, _ in SPECS})
    if missing:
        print(f"warning: families without a benchmark spec: {', '.join(missing)}", file=sys.stderr)
    return anchor_name, anchor, rows


def fmt_time(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e9:.1f} ns"


def render(anchor_name: str, anchor: float, rows, total: int, vector_steps: int) -> None:
    header = ["family", "bound b(t)", "×anchor", "s(t, N)", "×anchor", "vector /step", "×anchor",
              f"{vector_steps:,} steps"]
    body = []
    for label, _spec, bound, unbound, per_step, vec_total in rows:
        body.append([label, fmt_time(bound), f"{anchor / bound:.2f}", fmt_time(unbound), f"{anchor / unbound:.2f}",
                     fmt_time(per_step), f"{anchor / per_step:.0f}", fmt_time(vec_total)])
    title = (f"lrkit {lrkit.__version__} schedule evaluation, total N={total:,}; Python {platform.python_version()}, "
             f"numpy {np.__version__}")
    caption = (f"anchor: {anchor_name}, a Python loop, {fmt_time(anchor)} per step. "
               f"×anchor = anchor time / lrkit time (above 1: faster than the anchor).")
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, caption=caption, header_style="bold")
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i == 0 else "right")
        for r in body:
            table.add_row(*r)
        Console(width=130).print(table)
    except ImportError:
        print(title)
        widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
        for r in body:
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        print(caption)
    slow_vec = [label for label, *_rest, vec_total in rows if vec_total > 1.0 * vector_steps / 10_000_000]
    slow_scalar = [label for label, _s, bound, *_rest in rows if bound > 2e-6]
    if vector_steps < 10_000_000:
        print("targets: not judged in a --quick run")
    else:
        print(f"targets: vectorised 10M steps < 1 s: {'all met' if not slow_vec else 'missed by ' + ', '.join(slow_vec)}; "
              f"bound scalar call < 2 µs: {'all met' if not slow_scalar else 'missed by ' + ', '.join(slow_scalar)}")
    print("specs:")
    for label, spec, *_ in rows:
        print(f"  {label:12s} {spec}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a fast smoke run (small sizes, one repeat)")
    p.add_argument("--total", type=int, default=None, help="the run length N the schedules are bound to")
    args = p.parse_args(argv)
    if args.quick:
        total, vector_steps, number, repeat = args.total or 10_000, 10_000, 200, 1
    else:
        total, vector_steps, number, repeat = args.total or 10_000_000, 10_000_000, 20_000, 5
    anchor_name, anchor, rows = measure(total, vector_steps, number, repeat)
    render(anchor_name, anchor, rows, total, vector_steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
